/**
 * VxlanPort: every remote VTEP of one overlay network, as one port of its L2 domain (what the kernel's
 * vxlan device is when enslaved to a bridge). Local containers' frames reach it by the usual L2 rules:
 * a destination MAC the FDB knows behind this port, or a flood.
 *
 * Transmit (encapsulation), per burst:
 * - destination VTEP: the FDB entry of the inner destination MAC says which remote VTEP it lives behind
 *   (learned from decapsulated frames, or static from `fdb add --vtep`); broadcast, multicast and
 *   MACs whose VTEP is unknown go to every peer (head-end replication, one datagram per peer, the inner
 *   frame never copied);
 * - size: a frame (for GSO, one segment) longer than underlay MTU - 36 (- 56 over IPv6) cannot be carried and is dropped
 *   (`overlay-mtu-exceeded`; the overlay-mtu stage has already answered IPv4 with DF by an ICMP);
 * - no peer and no known VTEP: `vxlan-no-remote`;
 * then one call into the underlay for the whole burst, which writes the VXLAN headers into the
 * headroom, segments GSO frames, picks the outer source port by flow hash and sends (udp_vtep.c).
 *
 * Receive: never directly. The shared VtepSocketPort receives; the vxlan-decap stage moves frames of
 * this port's VNI here (counting them in this port's rx counters).
 *
 * `neighbors` (IPv4 -> MAC) feeds ARP suppression; `learning` turns flood-and-learn of remote MACs on
 * or off (off: only static entries say where a MAC lives; the rest goes to every peer).
 */
import { TXS_DROP_BAD_GSO, TXS_SYSCALLS } from '../../native/addon.js';
import { readMac } from '../../packet/mac.js';
import { DROP } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import type { L2Domain } from '../l2-domain.js';
import { DESC_STRIDE, D_GSO_SIZE, D_GSO_TYPE, D_LEN, D_OFF } from '../layout.js';
import { vxlanMtuOverhead, vxlanOverlayMtuOverhead, wireFrameLength } from '../overlay/frame-fit.js';
import { NeighborTable } from '../overlay/neighbor-table.js';
import { Port } from '../port.js';
import { countTransmitStatus } from './transmit-status.js';
import type { VtepSocketPort } from './vtep-socket-port.js';

export interface VxlanPortOptions {
  vni: number;
  vtep: VtepSocketPort;
  /** Remote VTEPs for BUM traffic (IPv4 as uint32; an IPv6 underlay's numbers: overlay/underlay.ts). */
  peers?: readonly number[];
  /** Flood-and-learn of remote MAC -> VTEP (default true). */
  learning?: boolean;
  /** MTU of the underlay link (default 1500). */
  underlayMtu?: number;
  /** The network's subnet, for snooping IPv4 sources into the neighbor table. */
  subnet?: { network: number; prefixLen: number };
}

const domainOverlay = new WeakMap<readonly unknown[], VxlanPort | null>();

export class VxlanPort extends Port {
  readonly kind = 'vxlan' as const;
  /** Takes GSO super-frames: it segments them itself, in C, before encapsulation. */
  readonly gso = true;
  readonly vni: number;
  readonly vtep: VtepSocketPort;
  readonly neighbors = new NeighborTable();
  /** IPv6 address (canonical text) -> MAC: what ND suppression answers from (overlay/nd-suppress.ts). */
  readonly neighbors6 = new NeighborTable<string>();
  /** A dual-stack network's IPv6 subnet (16 bytes) and prefix length: ND learning stays inside it (and fe80::/64). */
  subnet6: { prefix: Uint8Array; prefixLen: number } | null = null;
  learning: boolean;
  underlayMtu: number;
  /** Outer IP + UDP + VXLAN bytes: 36, or 56 over an IPv6 underlay (overlay/frame-fit.ts). */
  readonly encapOverhead: number;
  subnetNetwork = 0;
  subnetMask = 0;
  /**
   * An encrypted overlay's own WireGuard peers (VTEP addresses, uint32): only they may send into it.
   * null for a plaintext overlay, which takes any sender (VXLAN has no authentication). The session to
   * a host is shared by every encrypted network between the two (encrypted-vteps.ts): without this, a
   * peer of one network could send into another by its VNI, and be learned there.
   */
  authenticatedSenders: ReadonlySet<number> | null = null;
  private peerList = new Int32Array(0);
  private dst = new Int32Array(0);
  /** Datagrams sent (head-end replication and GSO segments count one by one), and syscalls made. */
  datagrams = 0;
  sendCalls = 0;

  constructor(name: string, opts: VxlanPortOptions) {
    super(name);
    if (!Number.isInteger(opts.vni) || opts.vni < 0 || opts.vni > 0xffffff) throw new RangeError(`VNI ${opts.vni}: expected an integer 0..16777215`);
    this.vni = opts.vni;
    this.vtep = opts.vtep;
    this.learning = opts.learning ?? true;
    this.underlayMtu = opts.underlayMtu ?? 1500;
    this.encapOverhead = vxlanMtuOverhead(opts.vtep.underlay.family ?? 4);
    this.setPeers(opts.peers ?? []);
    if (opts.subnet) {
      this.subnetMask = opts.subnet.prefixLen === 0 ? 0 : (0xffffffff << (32 - opts.subnet.prefixLen)) >>> 0;
      this.subnetNetwork = (opts.subnet.network & this.subnetMask) >>> 0;
    }
  }

  /** The overlay port of a domain, if it has one (cached per membership list: one lookup per flood). */
  static of(domain: L2Domain): VxlanPort | null {
    const list = domain.ports;
    let v = domainOverlay.get(list);
    if (v === undefined) {
      v = (list.find((p) => p.kind === 'vxlan') as VxlanPort | undefined) ?? null;
      domainOverlay.set(list, v);
    }
    return v;
  }

  get peers(): number[] {
    return Array.from(this.peerList, (p) => p >>> 0);
  }

  setPeers(peers: readonly number[]): void {
    this.peerList = Int32Array.from(peers, (p) => p | 0);
  }

  /** Largest inner Ethernet frame the underlay carries in one datagram. */
  get maxInnerFrame(): number {
    return this.underlayMtu - this.encapOverhead;
  }

  /** Largest IP packet of an untagged inner frame: the MTU overlay endpoints should have. */
  get overlayMtu(): number {
    return this.underlayMtu - this.encapOverhead - 14; // and the inner Ethernet header: 50, or 70 over IPv6
  }

  /** Is `ip` (uint32) inside the network's subnet? (False when no subnet is set.) */
  inSubnet(ip: number): boolean {
    return this.subnetMask !== 0 && ((ip & this.subnetMask) >>> 0) === this.subnetNetwork;
  }

  /** May ND learning take the IPv6 address at bytes[at]: inside the network's IPv6 subnet, or link-local. */
  inSubnet6(bytes: Uint8Array, at: number): boolean {
    if (bytes[at] === 0xfe && bytes[at + 1] === 0x80) {
      for (let i = 2; i < 8; i++) if (bytes[at + i] !== 0) return false;
      return true;
    }
    const s = this.subnet6;
    if (s === null) return false;
    const full = s.prefixLen >>> 3;
    for (let i = 0; i < full; i++) if (bytes[at + i] !== s.prefix[i]) return false;
    const rest = s.prefixLen & 7;
    if (rest === 0) return true;
    const m = (0xff << (8 - rest)) & 0xff;
    return (bytes[at + full] & m) === (s.prefix[full] & m);
  }

  receive(): number {
    return 0;
  }

  transmit(pool: FramePool, rows: Int32Array, count: number): void {
    const c = this.counters;
    const desc = pool.desc;
    const bytes = pool.bytes;
    if (this.dst.length < pool.slots) this.dst = new Int32Array(pool.slots);
    const dst = this.dst;
    const txIdx = pool.txIdx;
    const fdb = this.domain?.fdb;
    const maxFrame = this.maxInnerFrame;
    const peerCount = this.peerList.length;
    let n = 0;
    let bytesOut = 0;
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const off = desc[d + D_OFF];
      const len = desc[d + D_LEN];
      if (len > maxFrame && wireFrameLength(bytes, off, len, desc[d + D_GSO_TYPE], desc[d + D_GSO_SIZE]) > maxFrame) {
        c.drops[DROP['overlay-mtu-exceeded']]++;
        continue;
      }
      let to = 0;
      if ((bytes[off] & 1) === 0 && fdb !== undefined) {
        const s = fdb.find(readMac(bytes, off)); // a slot: no entry object per frame
        if (s >= 0 && fdb.portAt(s) === this) to = fdb.remoteAt(s);
      }
      if (to === 0 && peerCount === 0) {
        c.drops[DROP['vxlan-no-remote']]++;
        continue;
      }
      txIdx[n] = row;
      dst[n] = to;
      n++;
      bytesOut += len;
    }
    if (n === 0) return;
    const underlay = this.vtep.underlay;
    this.datagrams += underlay.send(pool, this.vni, n, dst, this.peerList, peerCount);
    const st = underlay.status;
    this.sendCalls += st[TXS_SYSCALLS];
    c.txPackets += n - st[TXS_DROP_BAD_GSO];
    c.txBytes += bytesOut;
    countTransmitStatus(c, st);
  }

  start(): void {}

  close(): void {
    this.vtep.detach(this);
  }
}
