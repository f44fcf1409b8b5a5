/**
 * How far apart the cluster's clocks are, measured through the store (no NTP of our own): every host
 * re-writes its record with its wall clock every CLOCK_BEAT_MS (HostRecord.clock), and each host
 * that sees the write in its watch compares that clock with its own at receipt. The one-way delay
 * from a put to its watch event is measured on this host's own writes (both ends on one clock) and
 * taken off, so what is left is the peer's offset, give or take the difference in delays (tens of
 * milliseconds on a LAN; the doctor threshold is seconds).
 *
 * Only writes seen live count: records read by a full sync are up to a beat old.
 */
export const CLOCK_BEAT_MS = 5_000;
/** `doctor` reports clocks further apart than this. */
export const CLOCK_SKEW_LIMIT_MS = 2_000;

export interface ClockOffset {
  host: string;
  /** The host's clock minus ours (positive: it is ahead), in ms. */
  offsetMs: number;
  /** When it was measured (our clock, ms since the epoch). */
  at: number;
}

export class ClusterClocks {
  /** The latest one-way delay of this host's own writes, in ms (null until one is seen). */
  selfDelayMs: number | null = null;
  private readonly offsets = new Map<string, ClockOffset>();

  constructor(private readonly selfId: string) {}

  /** A host's record written at `clock` (its ms) arrived at `receivedAt` (ours). */
  observe(host: string, clock: number, receivedAt: number): void {
    if (!Number.isFinite(clock)) return;
    if (host === this.selfId) {
      this.selfDelayMs = Math.max(0, receivedAt - clock);
      return;
    }
    const delay = this.selfDelayMs ?? 0;
    this.offsets.set(host, { host, offsetMs: clock + delay - receivedAt, at: receivedAt });
  }

  /** A host that left the cluster. */
  forget(host: string): void {
    this.offsets.delete(host);
  }

  offsetOf(host: string): ClockOffset | undefined {
    return this.offsets.get(host);
  }

  all(): ClockOffset[] {
    return [...this.offsets.values()].sort((a, b) => a.host.localeCompare(b.host));
  }
}
