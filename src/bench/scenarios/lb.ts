/**
 * The load-balancer family (topology in topologies/lb-network.ts):
 *
 *   lb-tcp   one iperf3 TCP stream to the backend's own address (baseline: "direct", L2 only) and to
 *            the VIP (the lb stage NATs every frame): Gbit/s received; the ratio is the lb stage's cost.
 *   lb-cps   new TCP connections per second, 32 in flight, each connect → one byte → close, round
 *            robin over three backends: through HAProxy in TCP mode (baseline) and through the VIP.
 */
import { connectionRate, ACCEPTOR_PORT } from '../connection-rate.js';
import { scenario, type Scenario } from '../scenario.js';
import { lbDirectPath, lbHaproxyPath, lbVipPath, type LbTopology } from '../topologies/lb-network.js';
import { IPERF_PORT, runIperf, tcpReceivedBitsPerSecond, warmUp } from '../traffic.js';

export const lbScenarios: Scenario[] = [
  scenario<LbTopology>({
    name: 'lb-tcp',
    description: 'L4 load balancer, one TCP stream (iperf3) through the VIP vs straight to the backend, Gbit/s',
    tools: ['iperf3', 'ping'],
    metrics: [{ key: 'throughput', label: 'Gbit/s', unit: 'Gbit/s', better: 'higher' }],
    paths: [lbDirectPath, lbVipPath],
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      // The server binds the backend's own address; through the VIP the switch rewrites to it.
      const j = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS, { port: IPERF_PORT, connectTo: p.targetIp });
      return { throughput: tcpReceivedBitsPerSecond(j) / 1e9 };
    },
  }),
  scenario<LbTopology>({
    name: 'lb-cps',
    description: 'L4 load balancer, new TCP connections/s (32 in flight, connect → 1 byte → close) through the VIP vs HAProxy in TCP mode',
    tools: ['ping'],
    metrics: [{ key: 'connRate', label: 'conn/s', unit: 'conn/s', better: 'higher' }],
    paths: [lbHaproxyPath, lbVipPath],
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const r = await connectionRate(ctx.cleanup, p.clientNs, p.targetIp, ACCEPTOR_PORT, ctx.durationS);
      return { connRate: r.cps };
    },
  }),
];
