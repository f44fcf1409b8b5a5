/**
 * The macvlan family (topology in topologies/macvlan-lan.ts): a host on the parent's LAN and a
 * container with a macvlan child, through
 *   kernel — Linux macvlan, mode bridge (Docker's macvlan driver), the baseline;
 *   tsnet  — tsnet-switch's macvlan network: AF_PACKET on the parent, a TAP in the container.
 *
 *   macvlan-tcp   one iperf3 TCP stream each way per repeat, Gbit/s: `in` = LAN host → container,
 *                 `out` = container → LAN host (iperf3 -R, the container's server sends).
 */
import { scenario, type Scenario } from '../scenario.js';
import type { HostPair } from '../topologies/host-pair.js';
import { kernelMacvlanPath, tsnetMacvlanPath } from '../topologies/macvlan-lan.js';
import { runIperf, tcpReceivedBitsPerSecond, warmUp } from '../traffic.js';

export const macvlanScenarios: Scenario[] = [
  scenario<HostPair>({
    name: 'macvlan-tcp',
    description: 'macvlan child on a LAN, one TCP stream each way (iperf3; -R for out), Gbit/s',
    tools: ['iperf3', 'ping'],
    metrics: [
      { key: 'in', label: 'in Gbit/s', unit: 'Gbit/s', better: 'higher' },
      { key: 'out', label: 'out Gbit/s', unit: 'Gbit/s', better: 'higher' },
    ],
    trafficRuns: 2,
    paths: [kernelMacvlanPath, tsnetMacvlanPath],
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const inbound = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS);
      const outbound = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS, { reverse: true });
      return { in: tcpReceivedBitsPerSecond(inbound) / 1e9, out: tcpReceivedBitsPerSecond(outbound) / 1e9 };
    },
  }),
];
