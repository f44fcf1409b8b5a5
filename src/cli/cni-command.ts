/**
 * `tsnet-switch cni install [--dir DIR] [--socket PATH]`: install the CNI plugin (src/cni/) where
 * runtimes look for plugin binaries. The plugin itself is bin/tsnet-cni; this only places it.
 */
import type { Command } from 'commander';
import { DEFAULT_CNI_BIN_DIR, installCniPlugin } from '../cni/plugin-install.js';

export function registerCniCommand(program: Command): void {
  const cni = program.command('cni').description('the CNI plugin (type tsnet-switch) for podman, containerd, CRI-O, Kubernetes');
  cni
    .command('install')
    .description(`install the plugin binary as DIR/tsnet-switch (default ${DEFAULT_CNI_BIN_DIR})`)
    .option('--dir <dir>', 'the CNI bin directory runtimes search', DEFAULT_CNI_BIN_DIR)
    .option('--socket <path>', 'the daemon\'s API socket the plugin talks to, when the conflist names none (default: TSNET_SWITCH_SOCKET, else /run/tsnet-switch/api.sock)')
    .action((o: { dir: string; socket?: string }) => {
      console.log(installCniPlugin(o.dir, o.socket));
    });
}
