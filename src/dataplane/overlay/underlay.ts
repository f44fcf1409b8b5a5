/**
 * Underlay: how a VTEP moves VXLAN datagrams, seen from the data plane. Two implementations:
 *
 * - UdpUnderlay (udp-underlay.ts): UDP sockets in the addon, recvmmsg/sendmmsg in bursts.
 * - MemoryUnderlay (memory-underlay.ts): queues of datagrams, for the emulator and unit tests (no root).
 *
 * Both keep the same layout in the frame pool, so the stages cannot tell them apart:
 *
 *   slot: [ ... | sender IPv4 (4) | sender port (2) | 2 | VXLAN header (8) | inner Ethernet frame ... ]
 *                 frame-16          frame-12               frame-8            frame = D_OFF
 *
 * receive() fills descriptor rows with D_OFF at the slot's usual frame offset and D_LEN = datagram
 * length - 8 (negative when the datagram cannot even hold a VXLAN header). send() encapsulates the pool's
 * txIdx[0..count) rows, each to dst[k] (an IPv4 address as a 32-bit integer) or, for dst[k] == 0, to
 * every one of the first peerCount entries of `peers` (head-end replication), and reports in `status`
 * (VST_* indices of src/native/addon.ts).
 */
import type { FramePool } from '../frame-pool.js';

/** Offsets back from the inner frame's first byte. */
export const VXLAN_HDR_BACK = 8;
export const META_SRC_IP_BACK = 16;
export const META_SRC_PORT_BACK = 12;

export interface Underlay {
  /** Local VTEP address (IPv4 as uint32) and UDP port (receive port; every peer's destination port). */
  readonly localIp: number;
  readonly port: number;
  /** Descriptor to poll for readable datagrams; -1 when there is none (memory). */
  readonly fd: number;
  /** Outer UDP source ports in use (one per transmit socket). */
  readonly sourcePorts: readonly number[];
  /** Outcome of the last send(): VST_* indices. */
  readonly status: Int32Array;
  receive(pool: FramePool, firstSlot: number, max: number): number;
  send(pool: FramePool, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number;
  close(): void;
  /** Datagrams read from the socket but not yet opened (WireGuard's receive backlog). */
  hasPending?(): boolean;
  /** Where an underlay with drop reasons of its own (WireGuard) counts them: the owning port's drops. */
  bindDropCounters?(drops: Float64Array): void;
}
