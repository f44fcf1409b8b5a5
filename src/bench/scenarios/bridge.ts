/**
 * The bridge family: two containers on one L2 network, through
 *   kernel — Linux bridge + veth (Docker's bridge driver), the baseline;
 *   tsnet  — tsnet-switch with TAP ports;
 *   ovs    — Open vSwitch's userspace datapath with TAP ports and userspace TSO (when installed).
 *
 *   bridge-tcp    one iperf3 TCP stream, Gbit/s received
 *   bridge-tcp4   four parallel streams (-P 4), Gbit/s received in total
 *   bridge-udp64  iperf3 UDP with 64-byte payloads at unlimited rate, packets/s *received* (what the
 *                 switch delivered, not what the sender managed to write)
 *   bridge-rr     ping every 2 ms for the duration, round-trip p50 and p99 in µs
 */
import { scenario, type MetricSpec, type Scenario } from '../scenario.js';
import { kernelBridgePath } from '../topologies/kernel-bridge.js';
import { ovsBridgePath } from '../topologies/ovs-bridge.js';
import { tsnetBridgePath } from '../topologies/tsnet-bridge.js';
import type { HostPair } from '../topologies/host-pair.js';
import { latencySample, pingRtts, runIperf, udpReceivedPacketsPerSecond, warmUp } from '../traffic.js';
import { tcpStreamScenario } from './tcp-stream.js';

const BRIDGE_PATHS = [kernelBridgePath, tsnetBridgePath, ovsBridgePath];
const PACKET_RATE: MetricSpec = { key: 'packetRate', label: 'pkt/s', unit: 'pkt/s', better: 'higher' };
const RTT_P50: MetricSpec = { key: 'p50', label: 'p50 µs', unit: 'µs', better: 'lower' };
const RTT_P99: MetricSpec = { key: 'p99', label: 'p99 µs', unit: 'µs', better: 'lower' };
const PING_INTERVAL_S = 0.002;

export const bridgeScenarios: Scenario[] = [
  tcpStreamScenario('bridge-tcp', 'bridge network, one TCP stream (iperf3), Gbit/s', BRIDGE_PATHS),
  tcpStreamScenario('bridge-tcp4', 'bridge network, four TCP streams (iperf3 -P 4), Gbit/s in total', BRIDGE_PATHS, 4),
  scenario<HostPair>({
    name: 'bridge-udp64',
    description: 'bridge network, 64-byte UDP at unlimited rate (iperf3 -u -b 0 -l 64), packets/s received',
    tools: ['iperf3', 'ping'],
    metrics: [PACKET_RATE],
    paths: BRIDGE_PATHS,
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const j = await runIperf(ctx.cleanup, p.clientNs, p.serverNs, p.serverIp, ctx.durationS, { udpPayload: 64 });
      return { packetRate: udpReceivedPacketsPerSecond(j) };
    },
  }),
  scenario<HostPair>({
    name: 'bridge-rr',
    description: `bridge network, round-trip latency: ping every ${PING_INTERVAL_S * 1000} ms, p50 and p99 in µs`,
    tools: ['ping'],
    metrics: [RTT_P50, RTT_P99],
    paths: BRIDGE_PATHS,
    async measure(p, ctx) {
      await warmUp(p.clientNs, p.serverIp);
      const count = Math.max(50, Math.round(ctx.durationS / PING_INTERVAL_S));
      return latencySample(await pingRtts(ctx.cleanup, p.clientNs, p.serverIp, count, PING_INTERVAL_S));
    },
  }),
];
