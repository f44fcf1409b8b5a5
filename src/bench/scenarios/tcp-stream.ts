/**
 * The traffic most families share: iperf3 TCP between the pair's client and server, Gbit/s received
 * (one stream, or `streams` in parallel: -P). Each family lists its paths; this is the measurement.
 */
import { scenario, type BenchPath, type MetricSpec, type Scenario } from '../scenario.js';
import type { HostPair } from '../topologies/host-pair.js';
import { runIperf, tcpReceivedBitsPerSecond, warmUp } from '../traffic.js';

export const THROUGHPUT: MetricSpec = { key: 'throughput', label: 'Gbit/s', unit: 'Gbit/s', better: 'higher' };

export function tcpStreamScenario(name: string, description: string, paths: BenchPath<HostPair>[], streams = 1): Scenario {
  return scenario<HostPair>({
    name,
    description,
    tools: ['iperf3', 'ping'],
    metrics: [THROUGHPUT],
    paths,
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const j = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS, streams > 1 ? { streams } : {});
      return { throughput: tcpReceivedBitsPerSecond(j) / 1e9 };
    },
  });
}
