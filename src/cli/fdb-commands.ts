/**
 * `fdb add NETWORK MAC --vtep IP [--ip ADDR]` and `fdb del NETWORK MAC`: static remote entries of an
 * overlay network (a MAC behind another host's VTEP, optionally with its IPv4 address so that ARP for
 * it is answered locally), the way `bridge fdb add MAC dev vxlan0 dst IP` does for the kernel's VXLAN.
 */
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';

export function registerOverlayFdbCommands(fdb: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  fdb
    .command('add')
    .description('overlay: a static entry for a MAC behind a remote VTEP (with --ip, ARP for it is answered locally)')
    .argument('<network>')
    .argument('<mac>')
    .requiredOption('--vtep <ip>', "the remote host's VTEP address")
    .option('--ip <ip>', 'the IPv4 address that MAC has, for ARP suppression')
    .option('--ip6 <ip>', 'on a dual-stack overlay: the IPv6 address that MAC has, for ND suppression')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (network: string, mac: string, o) => {
      const r = await client(o).call<{ mac: string; vtep: string; ip: string | null; ip6?: string }>('POST', '/v1/fdb', { network, mac, vtep: o.vtep, ip: o.ip, ip6: o.ip6 });
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r.mac} dst ${r.vtep}${r.ip ? ` ip ${r.ip}` : ''}${r.ip6 ? ` ip6 ${r.ip6}` : ''}`);
    });
  fdb
    .command('del')
    .description('overlay: remove a static (or learned) remote entry')
    .argument('<network>')
    .argument('<mac>')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (network: string, mac: string, o) => {
      const r = await client(o).call<{ mac: string; type: string }>('DELETE', `/v1/fdb?network=${encodeURIComponent(network)}&mac=${encodeURIComponent(mac)}`);
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r.mac} (${r.type})`);
    });
}
