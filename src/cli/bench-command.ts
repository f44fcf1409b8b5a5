/**
 * `tsnet-switch bench`'s flags. The harness (src/bench/, bench-run.ts) is imported only when the
 * command runs, so the daemon and every other command never load it.
 */
import type { Command } from 'commander';
import type { BenchCliOptions } from './bench-run.js';

export const DEFAULT_DURATION_S = 5;
export const DEFAULT_REPEAT = 3;

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('throughput and latency side by side with the kernel\'s driver (and Open vSwitch), in one run (root)')
    .argument('[scenario...]', 'scenario names or families (default: all; see --list)')
    .option('--duration <s>', `seconds of traffic per repeat and path (default ${DEFAULT_DURATION_S})`)
    .option('--repeat <n>', `rounds, paths alternating A B A B (default ${DEFAULT_REPEAT})`)
    .option('--paths <list>', 'only these paths, e.g. kernel,tsnet (default: all available)')
    .option('--json <file>', 'write the result as JSON')
    .option('--markdown <file>', 'write the table as markdown')
    .option('--svg <file>', 'write a bar chart of the ratios')
    .option('--compare <old.json>', 'also print the change against an earlier --json result')
    .option('--from <run.json>', 'report a saved --json result instead of running')
    .option('--list', 'list the scenarios and their paths')
    .action(async (names: string[], o: BenchCliOptions) => (await import('./bench-run.js')).runBench(names, o));
}
