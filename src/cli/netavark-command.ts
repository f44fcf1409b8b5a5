/**
 * `tsnet-switch netavark create | setup NETNS | teardown NETNS | info`: the netavark plugin
 * (src/netavark/netavark-plugin.ts) through the CLI, JSON on stdin and stdout as netavark passes it;
 * `tsnet-switch netavark install [--dir DIR]` writes the launcher netavark runs (driver tsnet-switch).
 */
import type { Command } from 'commander';
import { readStdin } from '../cni/read-stdin.js';
import { DEFAULT_NETAVARK_PLUGIN_DIR, installNetavarkPlugin } from '../cni/plugin-install.js';
import { runNetavarkPlugin } from '../netavark/netavark-plugin.js';

async function run(argv: string[], socket: string | undefined): Promise<void> {
  const stdin = argv[0] === 'info' ? '' : await readStdin();
  const r = await runNetavarkPlugin(argv, stdin, socket !== undefined ? { ...process.env, TSNET_SWITCH_SOCKET: socket } : process.env);
  if (r.stdout) process.stdout.write(r.stdout + '\n');
  process.exitCode = r.exitCode;
}

export function registerNetavarkCommand(program: Command): void {
  const nv = program.command('netavark').description('the netavark plugin (driver tsnet-switch) for podman with netavark 1.6+');
  const sock = (c: Command) => c.option('--socket <path>', "the daemon's API socket (env TSNET_SWITCH_SOCKET)");
  sock(nv.command('info').description('plugin and API version as JSON')).action((o) => run(['info'], o.socket));
  sock(nv.command('create').description('check and complete a network config (JSON on stdin)')).action((o) => run(['create'], o.socket));
  // NETNS is checked by the plugin, so a missing one is the plugin's {"error": …} as netavark expects.
  const withNetns = (cmd: string) => (netns: string | undefined, o: { socket?: string }) => run(netns === undefined ? [cmd] : [cmd, netns], o.socket);
  sock(nv.command('setup').argument('[netns]').description('attach a container (NetworkPluginExec JSON on stdin); prints the status block')).action(withNetns('setup'));
  sock(nv.command('teardown').argument('[netns]').description('detach a container (the same JSON as setup)')).action(withNetns('teardown'));
  sock(nv.command('install').description(`install the plugin as DIR/tsnet-switch (default ${DEFAULT_NETAVARK_PLUGIN_DIR})`))
    .option('--dir <dir>', 'one of netavark_plugin_dirs (containers.conf)', DEFAULT_NETAVARK_PLUGIN_DIR)
    .action((o: { dir: string; socket?: string }) => {
      console.log(installNetavarkPlugin(o.dir, o.socket));
    });
}
