/**
 * The overlay family: two containers on two hosts joined by VXLAN over a veth underlay (see
 * topologies/overlay-hosts.ts), through
 *   kernel        — Linux vxlan device + bridge + veth on both hosts (Docker's overlay driver), the baseline;
 *   tsnet         — tsnet-switch daemons on both hosts;
 *   tsnet-kernel  — tsnet-switch encapsulating, the kernel decapsulating;
 *   kernel-tsnet  — the kernel encapsulating, tsnet-switch decapsulating.
 *
 *   overlay-tcp   one iperf3 TCP stream from host A's container to host B's, Gbit/s received
 *   overlay-tcp-encrypted   the same between tsnet-switch hosts, plaintext (the baseline) against
 *                 `-o encrypted=true` (WireGuard between the VTEPs) and against wireguard-go carrying the
 *                 kernel's VXLAN on both hosts (what one would build without our encryption)
 * (inner MTU 1450: the frames are segmented before encapsulation, so per-frame costs count here).
 */
import type { Scenario } from '../scenario.js';
import { overlayPath, tsnetEncryptedOverlayPath, wireguardGoOverlayPath } from '../topologies/overlay-hosts.js';
import { tcpStreamScenario } from './tcp-stream.js';

export const overlayScenarios: Scenario[] = [
  tcpStreamScenario('overlay-tcp', 'VXLAN overlay between two hosts, one TCP stream (iperf3), Gbit/s', [overlayPath('kernel', 'kernel'), overlayPath('tsnet', 'tsnet'), overlayPath('tsnet', 'kernel'), overlayPath('kernel', 'tsnet')]),
  tcpStreamScenario('overlay-tcp-encrypted', 'tsnet overlay between two hosts, plaintext against -o encrypted (WireGuard) and wireguard-go + kernel VXLAN, one TCP stream, Gbit/s', [overlayPath('tsnet', 'tsnet'), tsnetEncryptedOverlayPath, wireguardGoOverlayPath]),
];
