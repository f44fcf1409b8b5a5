/**
 * Per-port counters: rx/tx packets and bytes, and drops by reason. Plain numbers and one Float64Array,
 * bumped in the burst loops; read by `stats` without stopping anything.
 */
import { DROP_REASONS, DROP_REASON_COUNT, type DropReason } from './drop-reasons.js';

export class PortCounters {
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  /** GSO super-frames counted once in rx/tx; segments written by C are counted here. */
  txSegments = 0;
  /** Segments of super-frames cut short (drop 'tx-gso-partial') that were never written. */
  txSegmentsLost = 0;
  readonly drops = new Float64Array(DROP_REASON_COUNT);

  dropCount(reason: DropReason): number {
    return this.drops[DROP_REASONS.indexOf(reason)];
  }

  totalDrops(): number {
    let s = 0;
    for (let i = 0; i < this.drops.length; i++) s += this.drops[i];
    return s;
  }

  /** Drops by reason name, only the non-zero ones. */
  dropsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < DROP_REASON_COUNT; i++) if (this.drops[i] > 0) out[DROP_REASONS[i]] = this.drops[i];
    return out;
  }

  toJSON() {
    return {
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      txSegments: this.txSegments,
      txSegmentsLost: this.txSegmentsLost,
      drops: this.dropsByReason(),
    };
  }
}
