/**
 * Path "tsnet": the same two hosts on a tsnet-switch bridge network, built the way a user builds one:
 * a `tsnet-switch daemon` of its own (in a namespace that plays the host), `network create` and two
 * `connect`s through its API. The switch therefore runs in its own process, as Open vSwitch does on
 * its path — not on this harness's event loop, whose own work (reading iperf3/ping output, progress)
 * would otherwise sit in the switch's latency — and its CPU is read from /proc/PID/stat.
 */
import type { BenchPath } from '../scenario.js';
import { CLIENT, PAIR_PREFIX_LEN, SERVER, type HostPair } from './host-pair.js';
import { startDaemon } from './tsnet-daemon.js';

export const tsnetBridgePath: BenchPath<HostPair> = {
  id: 'tsnet',
  label: 'tsnet-switch daemon, TAP',
  async build(ctx) {
    const hostNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-th`);
    const clientNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-tc`);
    const serverNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-ts`);
    const daemon = await startDaemon(ctx.cleanup, hostNs);
    const subnet = `${CLIENT.ip.split('.').slice(0, 3).join('.')}.0/${PAIR_PREFIX_LEN}`;
    // internal: no gateway port is needed between two hosts on one segment.
    await daemon.api.call('POST', '/v1/networks', { name: 'bench', subnet, options: { internal: 'true' } });
    for (const [ns, host] of [[clientNs, CLIENT], [serverNs, SERVER]] as const) {
      await daemon.api.call('POST', '/v1/networks/bench/connect', { netns: ns, ip: host.ip, mac: host.mac });
    }
    return { clientNs, serverNs, clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: { pids: [daemon.pid] } };
  },
};
