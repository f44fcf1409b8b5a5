/**
 * `tsnet-switch overlay key show`: this host's WireGuard public key (made at first use, kept in the
 * daemon's state dir), to put in the other hosts' `-o encrypted.peers=PUBKEY@IP`. Never the private key.
 */
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';

export function registerOverlayKeyCommands(program: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  const overlay = program.command('overlay').description('the overlay driver: this host\'s encryption key');
  const key = overlay.command('key').description('this host\'s WireGuard key (encrypted overlays)');
  key
    .command('show')
    .description('print this host\'s WireGuard public key (base64, as wg pubkey prints it)')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const r = await client(o).call<{ PublicKey: string }>('GET', '/v1/overlay/key');
      console.log(o.json ? JSON.stringify(r, null, 2) : r.PublicKey);
    });
}
