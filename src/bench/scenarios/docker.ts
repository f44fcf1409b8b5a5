/**
 * The Docker family (topology in topologies/docker-host.ts): two containers started by a real dockerd
 * on one Docker network, through
 *   kernel — Docker's own bridge driver (Linux bridge + veth), the baseline;
 *   tsnet  — our remote driver (`docker network create -d tsnet`): TAPs on the tsnet-switch daemon.
 *
 *   docker-tcp   one iperf3 TCP stream between the two containers, Gbit/s received
 */
import { scenario, type Scenario } from '../scenario.js';
import { dockerBridgePath, dockerTsnetPath } from '../topologies/docker-host.js';
import type { HostPair } from '../topologies/host-pair.js';
import { runIperf, tcpReceivedBitsPerSecond, warmUp } from '../traffic.js';

export const dockerScenarios: Scenario[] = [
  scenario<HostPair>({
    name: 'docker-tcp',
    description: 'two Docker containers, one TCP stream (iperf3): Docker\'s bridge driver against -d tsnet, Gbit/s',
    tools: ['iperf3', 'ping'],
    metrics: [{ key: 'throughput', label: 'Gbit/s', unit: 'Gbit/s', better: 'higher' }],
    paths: [dockerBridgePath, dockerTsnetPath],
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const j = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS);
      return { throughput: tcpReceivedBitsPerSecond(j) / 1e9 };
    },
  }),
];
