/**
 * Global options: `--socket PATH` and `--json` may come before the subcommand as well as after it
 * (`tsnet-switch --socket S network ls`, `tsnet-switch network ls --socket S`), as users of docker and
 * kubectl expect. The program declares both and parses them only before the subcommand (positional
 * options), so a subcommand's own option of the same name keeps its meaning (`bench --json FILE`);
 * a preAction hook hands the program's values to the command that runs, where that command declares
 * the option as a flag of the same kind, unless the command was given its own.
 */
import { Command, Option } from 'commander';
import { DEFAULT_SOCKET } from '../control/api-client.js';

/** Options whose value a subcommand inherits from the program when it declares them itself. */
const GLOBAL_OPTIONS = ['socket', 'json'] as const;

export function installGlobalOptions(program: Command): void {
  program
    .enablePositionalOptions()
    .addOption(new Option('--socket <path>', `the daemon's API socket, for every command (env TSNET_SWITCH_SOCKET; default ${DEFAULT_SOCKET})`))
    .option('--json', 'print JSON, for every command that prints data')
    .hook('preAction', (_root, actionCommand) => inheritGlobalOptions(program, actionCommand));
}

/** Copies --socket/--json from the program into the running command, if it takes them and was not given them. */
export function inheritGlobalOptions(program: Command, command: Command): void {
  if (command === program) return;
  const given = program.opts();
  for (const name of GLOBAL_OPTIONS) {
    const value = given[name];
    if (value === undefined) continue;
    const own = command.options.find((o) => o.attributeName() === name);
    // The command's own option wins when given; a command whose option of that name takes a
    // different kind of value (bench's --json FILE) is not given the program's flag.
    if (!own || command.getOptionValueSource(name) === 'cli') continue;
    if (typeof value === 'boolean' ? !own.isBoolean() : !own.required) continue;
    command.setOptionValueWithSource(name, value, 'cli');
  }
}
