/**
 * MemoryUnderlay: a VTEP made of two queues, for the emulator and unit tests (no sockets, no root).
 * `inject` queues a datagram (VXLAN header + inner frame) as if a peer had sent it; what the switch
 * sends lands in `sent`, one record per datagram (head-end replication gives one per peer). Two
 * switches are joined by moving `take()` from one into `inject` of the other (`deliverTo`).
 *
 * It does in JavaScript what udp_vtep.c does in C — the same pool layout on receive, VXLAN header in
 * the headroom on send, GSO super-frames segmented (by the addon's segment()) and partial checksums
 * completed — so the stages above it run exactly as they do over real sockets. Not a fast path.
 */
import { native, TXS_DROP_BAD_GSO, TXS_SEGMENTS, TXS_SENT, VST_COUNT, VST_RX_GRO_DGRAMS } from '../../native/addon.js';
import { emitVxlan } from '../../packet/vxlan.js';
import type { FramePool } from '../frame-pool.js';
import { DESC_STRIDE, D_CSUM_OFF, D_CSUM_START, D_GSO_TYPE, D_VFLAGS, GSO_ECN, GSO_NONE, HEADROOM, SLOT_SIZE, VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM } from '../layout.js';
import { VXLAN_HDR_BACK, type Underlay } from './underlay.js';

export interface Datagram {
  /** Sender and receiver, IPv4 as uint32, and UDP ports. */
  src: number;
  srcPort: number;
  dst: number;
  dstPort: number;
  /** UDP payload: VXLAN header + inner Ethernet frame. */
  payload: Uint8Array;
  /** A UDP GRO message: datagrams of this many bytes back to back (the kernel's UDP_GRO cmsg); 0 for one. */
  seg?: number;
}

export class MemoryUnderlay implements Underlay {
  readonly fd = -1;
  readonly status = new Int32Array(VST_COUNT);
  readonly sourcePorts: readonly number[] = [49152];
  readonly sent: Datagram[] = [];
  private readonly inbox: Datagram[] = [];

  constructor(
    readonly localIp: number,
    readonly port = 4789,
  ) {}

  /**
   * Queue a datagram for the switch to receive (payload = VXLAN header + inner frame), or with `seg` a
   * UDP GRO message: `seg`-byte datagrams back to back, as the kernel hands them to a UDP_GRO socket.
   */
  inject(src: number, payload: Uint8Array, srcPort = 49152, seg = 0): void {
    this.inbox.push({ src, srcPort, dst: this.localIp, dstPort: this.port, payload, seg });
  }

  get pending(): number {
    return this.inbox.length;
  }

  /** Take (and clear) what the switch sent. */
  take(): Datagram[] {
    return this.sent.splice(0, this.sent.length);
  }

  /** Move what was sent to `other`'s address into its inbox; returns how many moved. Others are kept. */
  deliverTo(other: MemoryUnderlay): number {
    let n = 0;
    for (let i = 0; i < this.sent.length; ) {
      const d = this.sent[i];
      if (d.dst === other.localIp && d.dstPort === other.port) {
        other.inject(d.src, d.payload, d.srcPort);
        this.sent.splice(i, 1);
        n++;
      } else i++;
    }
    return n;
  }

  /** The same C code as the socket path (udp_vtep.c rx_message): partial checksums, GRO runs, tunnel GSO. */
  receive(pool: FramePool, firstSlot: number, max: number): number {
    let rows = 0;
    while (rows < max && this.inbox.length > 0) {
      const dg = this.inbox.shift()!;
      const payload = dg.payload.length > SLOT_SIZE - HEADROOM + VXLAN_HDR_BACK ? dg.payload.subarray(0, SLOT_SIZE - HEADROOM + VXLAN_HDR_BACK) : dg.payload;
      rows += native().vtepRxInject(pool.nativeHandle(), this.status, firstSlot + rows, max - rows, payload, dg.seg ?? 0, dg.src | 0, dg.srcPort);
    }
    return rows;
  }

  send(pool: FramePool, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number {
    const st = this.status;
    st.fill(0, 0, VST_RX_GRO_DGRAMS); // the send counters; receive counters accumulate
    for (let k = 0; k < count; k++) {
      const row = pool.txIdx[k];
      const d = row * DESC_STRIDE;
      const desc = pool.desc;
      const frame = pool.frame(row);
      let frames: Uint8Array[];
      if ((desc[d + D_GSO_TYPE] & ~GSO_ECN) !== GSO_NONE) {
        try {
          frames = native().segment(frame, pool.vnet(row));
        } catch {
          st[TXS_DROP_BAD_GSO]++;
          continue;
        }
        st[TXS_SEGMENTS] += frames.length;
      } else {
        if (desc[d + D_VFLAGS] & VNET_F_NEEDS_CSUM) {
          try {
            native().completeChecksum(frame, desc[d + D_CSUM_START], desc[d + D_CSUM_OFF]);
          } catch {
            st[TXS_DROP_BAD_GSO]++;
            continue;
          }
          desc[d + D_VFLAGS] = (desc[d + D_VFLAGS] & ~VNET_F_NEEDS_CSUM) | VNET_F_DATA_VALID;
          desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
        }
        frames = [frame];
      }
      const to = dst[k] >>> 0;
      const targets = to !== 0 ? [to] : Array.from(peers.subarray(0, peerCount), (p) => p >>> 0);
      for (const f of frames) {
        for (const t of targets) {
          const payload = new Uint8Array(VXLAN_HDR_BACK + f.length);
          emitVxlan(payload, 0, vni);
          payload.set(f, VXLAN_HDR_BACK);
          this.sent.push({ src: this.localIp, srcPort: this.sourcePorts[0], dst: t, dstPort: this.port, payload });
          st[TXS_SENT]++;
        }
      }
    }
    return st[TXS_SENT];
  }

  close(): void {
    this.inbox.length = 0;
  }
}

/**
 * The same over IPv6 (VXLAN over UDP/IPv6), for tests of what an IPv6 underlay changes above it: the
 * MTU (40-byte outer header) and remote VTEPs carried as numbers, given in first-seen order as
 * udp_vtep.c gives them (vtepNumber; `inject` takes the sender's number).
 */
export class MemoryUnderlay6 extends MemoryUnderlay {
  readonly family = 6 as const;
  private readonly addresses: string[] = [];

  constructor(
    readonly localAddress: string,
    port = 4789,
  ) {
    super(0, port);
  }

  vtepNumber(address: string): number {
    const i = this.addresses.indexOf(address);
    if (i >= 0) return i + 1;
    this.addresses.push(address);
    return this.addresses.length;
  }

  vtepText(n: number): string {
    return this.addresses[n - 1] ?? `(unknown VTEP #${n})`;
  }
}
