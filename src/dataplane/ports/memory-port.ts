/**
 * MemoryPort: a port made of two queues, for the emulator and tests. `inject` queues frames for the
 * switch to receive; frames the switch sends land in `sent`. Everything else — the pool, the
 * descriptors, the stages — is the same code a TAP port goes through.
 *
 * `gso: false` models an egress that cannot take super-frames (a pcap reader, a wire): GSO frames are
 * segmented and partial checksums completed by the same C code the TAP path uses.
 */
import { native } from '../../native/addon.js';
import { DROP } from '../drop-reasons.js';
import { NO_VNET, type FramePool, type VnetFields } from '../frame-pool.js';
import { GSO_ECN, GSO_NONE, VNET_F_DATA_VALID, VNET_F_NEEDS_CSUM } from '../layout.js';
import { Port, type PortOptions } from '../port.js';

export interface MemoryFrame {
  frame: Uint8Array;
  vnet: VnetFields;
}

export interface MemoryPortOptions extends PortOptions {
  gso?: boolean;
}

export class MemoryPort extends Port {
  readonly kind = 'memory' as const;
  readonly gso: boolean;
  private readonly inbox: MemoryFrame[] = [];
  private inboxHead = 0;
  readonly sent: MemoryFrame[] = [];

  constructor(name: string, opts: MemoryPortOptions = {}) {
    super(name, opts);
    this.gso = opts.gso ?? true;
  }

  /** Queue a frame for the switch to receive from this port. */
  inject(frame: Uint8Array, vnet: VnetFields = NO_VNET): void {
    this.inbox.push({ frame, vnet });
  }

  get pending(): number {
    return this.inbox.length - this.inboxHead;
  }

  /** Take (and clear) what the switch sent out of this port. */
  take(): MemoryFrame[] {
    return this.sent.splice(0, this.sent.length);
  }

  receive(pool: FramePool, firstSlot: number, max: number): number {
    let n = 0;
    while (n < max && this.inboxHead < this.inbox.length) {
      const f = this.inbox[this.inboxHead++];
      pool.load(firstSlot + n, f.frame, f.vnet);
      n++;
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    }
    return n;
  }

  transmit(pool: FramePool, rows: Int32Array, count: number): void {
    const c = this.counters;
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      const frame = pool.frame(row).slice();
      const vnet = pool.vnet(row);
      if (!this.gso && (vnet.gsoType & ~GSO_ECN) !== GSO_NONE) {
        let segments: Uint8Array[];
        try {
          segments = native().segment(frame, vnet);
        } catch {
          c.drops[DROP['bad-gso']]++;
          continue;
        }
        for (const s of segments) this.sent.push({ frame: s, vnet: { ...NO_VNET, flags: VNET_F_DATA_VALID } });
        c.txSegments += segments.length;
      } else if (!this.gso && vnet.flags & VNET_F_NEEDS_CSUM) {
        try {
          native().completeChecksum(frame, vnet.csumStart, vnet.csumOffset);
        } catch {
          c.drops[DROP['bad-gso']]++;
          continue;
        }
        this.sent.push({ frame, vnet: { ...NO_VNET, flags: VNET_F_DATA_VALID } });
      } else {
        this.sent.push({ frame, vnet });
      }
      c.txPackets++;
      c.txBytes += frame.length;
    }
  }

  start(): void {}
  close(): void {}
}
