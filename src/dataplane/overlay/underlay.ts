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
 *
 * A remote VTEP is one uint32 wherever the data plane carries it (FDB entries, peers, dst, the sender
 * in front of a received frame): an IPv4 underlay's is the address itself; an IPv6 underlay's
 * (`family` 6) is a number it gives each remote address (native/src/vtep_addr6.h). Only text crosses
 * to the control plane: vtepNumberOf and vtepTextOf translate, for either family.
 */
import { formatIpv4, parseIpv4 } from '../../packet/ipv4.js';
import type { FramePool } from '../frame-pool.js';

/** Offsets back from the inner frame's first byte. */
export const VXLAN_HDR_BACK = 8;
export const META_SRC_IP_BACK = 16;
export const META_SRC_PORT_BACK = 12;

export interface Underlay {
  /** Local VTEP address (IPv4 as uint32; 0 for IPv6) and UDP port (receive port; every peer's destination port). */
  readonly localIp: number;
  /** 6: VXLAN over UDP/IPv6, remote VTEPs are numbers (vtepNumber, vtepText). Absent: 4. */
  readonly family?: 4 | 6;
  /** The local address as text (absent: localIp's dotted quad). */
  readonly localAddress?: string;
  /** IPv6: the number the data plane carries for remote VTEP `address`, given now if it is new. */
  vtepNumber?(address: string): number;
  /** IPv6: the address number `n` stands for. */
  vtepText?(n: number): string;
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

/** The uint32 the data plane carries for remote VTEP `address` on `u` (IPv4: the address). */
export function vtepNumberOf(u: Underlay, address: string): number {
  return u.vtepNumber ? u.vtepNumber(address) : parseIpv4(address);
}

/** The text of the remote VTEP `n` stands for on `u` (IPv4: the dotted quad). Not for the per-frame path. */
export function vtepTextOf(u: Underlay, n: number): string {
  return u.vtepText ? u.vtepText(n) : formatIpv4(n >>> 0);
}

/** `198.18.0.1:4789` or `[fd00::1]:4789`: the local VTEP of `u`. */
export function localVtepText(u: Underlay): string {
  return u.family === 6 ? `[${u.localAddress}]:${u.port}` : `${u.localAddress ?? formatIpv4(u.localIp)}:${u.port}`;
}
