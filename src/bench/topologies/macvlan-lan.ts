/**
 * The macvlan family's topology: a container with an address on the LAN of its host's parent NIC.
 *
 *   LAN host ─veth─ p0 (the parent, in the host namespace) ─ macvlan child ─ the container
 *
 * Three namespaces: "lan" holds the outside host (lan0, 10.88.0.1), "host" the parent p0 (the other
 * end of that veth pair, made in place), "ctr" the container (10.88.0.2). The child is
 *   kernel: a macvlan device on p0, mode bridge, moved into the container — Docker's macvlan driver;
 *   tsnet:  a `tsnet-switch daemon` of its own in the host namespace, through its API as a user
 *           would: `network create -d macvlan -o parent=p0` (an AF_PACKET uplink on p0 with unicast
 *           MAC membership and a socket filter) and `connect` (a TAP in the container); CPU: the daemon.
 */
import { NO_CPU } from '../cpu-meter.js';
import { run } from '../host-commands.js';
import type { BenchPath, BuildContext } from '../scenario.js';
import { configureLink, type HostPair } from './host-pair.js';
import { startDaemon } from './tsnet-daemon.js';

const LAN = { ip: '10.88.0.1', mac: '02:42:0a:58:00:01' };
const CONTAINER = { ip: '10.88.0.2', mac: '02:42:0a:58:00:02' };

async function lanAndParent(ctx: BuildContext): Promise<{ host: string; lan: string; ctr: string }> {
  const host = await ctx.cleanup.netns(`tsnb-${ctx.tag}-host`);
  const lan = await ctx.cleanup.netns(`tsnb-${ctx.tag}-lan`);
  const ctr = await ctx.cleanup.netns(`tsnb-${ctx.tag}-ctr`);
  await run('ip', ['-n', host, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lan]);
  await run('ip', ['-n', host, 'link', 'set', 'dev', 'p0', 'up']);
  await configureLink(lan, 'lan0', LAN.mac, LAN.ip);
  return { host, lan, ctr };
}

function pair(lan: string, ctr: string, cpu: HostPair['cpu']): HostPair {
  return { clientNs: lan, serverNs: ctr, clientIp: LAN.ip, serverIp: CONTAINER.ip, cpu };
}

export const kernelMacvlanPath: BenchPath<HostPair> = {
  id: 'kernel',
  label: 'Linux macvlan (bridge mode)',
  async build(ctx) {
    const { host, lan, ctr } = await lanAndParent(ctx);
    await run('ip', ['-n', host, 'link', 'add', 'mv0', 'link', 'p0', 'type', 'macvlan', 'mode', 'bridge']);
    await run('ip', ['-n', host, 'link', 'set', 'dev', 'mv0', 'netns', ctr]);
    await configureLink(ctr, 'mv0', CONTAINER.mac, CONTAINER.ip);
    return pair(lan, ctr, NO_CPU);
  },
};

export const tsnetMacvlanPath: BenchPath<HostPair> = {
  id: 'tsnet',
  label: 'tsnet-switch, AF_PACKET + TAP',
  async build(ctx) {
    const { host, lan, ctr } = await lanAndParent(ctx);
    const daemon = await startDaemon(ctx.cleanup, host);
    await daemon.api.call('POST', '/v1/networks', { name: 'bench-mv', driver: 'macvlan', subnet: '10.88.0.0/24', gateway: LAN.ip, options: { parent: 'p0', mode: 'bridge' } });
    await daemon.api.call('POST', '/v1/networks/bench-mv/connect', { netns: ctr, ip: CONTAINER.ip, mac: CONTAINER.mac });
    return pair(lan, ctr, { pids: [daemon.pid] });
  },
};
