/**
 * The Docker family (topology in topologies/docker-host.ts): two containers started by a real dockerd
 * on one Docker network, through
 *   kernel — Docker's own bridge driver (Linux bridge + veth), the baseline;
 *   tsnet  — our remote driver (`docker network create -d tsnet`): TAPs on the tsnet-switch daemon.
 *
 *   docker-tcp   one iperf3 TCP stream between the two containers, Gbit/s received
 */
import type { Scenario } from '../scenario.js';
import { dockerBridgePath, dockerTsnetPath } from '../topologies/docker-host.js';
import { tcpStreamScenario } from './tcp-stream.js';

export const dockerScenarios: Scenario[] = [
  tcpStreamScenario('docker-tcp', "two Docker containers, one TCP stream (iperf3): Docker's bridge driver against -d tsnet, Gbit/s", [dockerBridgePath, dockerTsnetPath]),
];
