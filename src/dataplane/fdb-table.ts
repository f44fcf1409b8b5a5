/**
 * FdbTable: the forwarding database of one L2 domain, MAC (a 48-bit number) -> port.
 *
 * Static entries are installed for endpoints and never age or move. Learned entries come from source
 * MACs, are refreshed by every frame, move when a MAC shows up on another port (a VM or container that
 * migrated, or a loop: counted either way) and age out after `agingSeconds` without traffic (300 s, the
 * Linux bridge's and Docker's default). The table is capped (`capacity`, 8192 by default): a learn that
 * would exceed it is refused and counted, so a MAC flood costs a counter, not memory; frames to the
 * refused MACs are simply flooded.
 *
 * A Map keyed by number: one hash lookup per frame, entries mutated in place (no allocation on refresh).
 *
 * Overlay networks: an entry behind a VXLAN port also says which remote VTEP the MAC lives behind
 * (`remote`, an IPv4 address as a uint32; 0 for local ports and for MACs whose VTEP is not known).
 * `learnRemote` learns it from decapsulated frames (flood-and-learn), `addStatic(..., remote)` installs
 * one from `fdb add NETWORK MAC --vtep IP`. A MAC that shows up behind another VTEP counts as a move.
 */
import type { Port } from './port.js';

export interface FdbEntry {
  mac: number;
  port: Port;
  isStatic: boolean;
  /** Clock time of the last frame from this MAC (learned), or of installation (static). */
  updated: number;
  /** Overlay: the remote VTEP (IPv4 as uint32) the MAC lives behind; 0 when local or unknown. */
  remote: number;
}

export type LearnOutcome = 'new' | 'refreshed' | 'moved' | 'refused-full' | 'static';

export interface FdbOptions {
  capacity?: number;
  agingSeconds?: number;
}

export class FdbTable {
  readonly capacity: number;
  readonly agingSeconds: number;
  private readonly entries = new Map<number, FdbEntry>();
  private learnedCount = 0;
  // Counters, read by `stats`.
  learned = 0;
  moved = 0;
  refusedFull = 0;
  aged = 0;
  staticConflicts = 0;

  constructor(opts: FdbOptions = {}) {
    const capacity = opts.capacity ?? 8192;
    const aging = opts.agingSeconds ?? 300;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`fdb capacity ${capacity}: expected a positive integer`);
    if (!(aging > 0)) throw new RangeError(`fdb aging time ${aging}: expected a positive number of seconds`);
    this.capacity = capacity;
    this.agingSeconds = aging;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(mac: number): Port | undefined {
    return this.entries.get(mac)?.port;
  }

  get(mac: number): FdbEntry | undefined {
    return this.entries.get(mac);
  }

  /** Learn `mac` behind `port` at time `now`; hot path. */
  learn(mac: number, port: Port, now: number): LearnOutcome {
    const e = this.entries.get(mac);
    if (e !== undefined) {
      if (e.isStatic) {
        if (e.port !== port) this.staticConflicts++;
        return 'static';
      }
      e.updated = now;
      if (e.port === port) return 'refreshed';
      e.port = port;
      this.moved++;
      return 'moved';
    }
    if (this.learnedCount >= this.capacity) {
      this.refusedFull++;
      return 'refused-full';
    }
    this.entries.set(mac, { mac, port, isStatic: false, updated: now, remote: 0 });
    this.learnedCount++;
    this.learned++;
    return 'new';
  }

  /** Learn `mac` behind overlay port `port` and remote VTEP `remote` (flood-and-learn); hot path. */
  learnRemote(mac: number, port: Port, remote: number, now: number): LearnOutcome {
    const e = this.entries.get(mac);
    if (e !== undefined) {
      if (e.isStatic) {
        if (e.port !== port || e.remote !== remote) this.staticConflicts++;
        return 'static';
      }
      e.updated = now;
      if (e.port === port && e.remote === remote) return 'refreshed';
      e.port = port;
      e.remote = remote;
      this.moved++;
      return 'moved';
    }
    if (this.learnedCount >= this.capacity) {
      this.refusedFull++;
      return 'refused-full';
    }
    this.entries.set(mac, { mac, port, isStatic: false, updated: now, remote });
    this.learnedCount++;
    this.learned++;
    return 'new';
  }

  /** Install or replace a static entry (an endpoint's own MAC; with `remote`, a MAC behind that VTEP). */
  addStatic(mac: number, port: Port, now = 0, remote = 0): void {
    const e = this.entries.get(mac);
    if (e && !e.isStatic) this.learnedCount--;
    this.entries.set(mac, { mac, port, isStatic: true, updated: now, remote });
  }

  remove(mac: number): boolean {
    const e = this.entries.get(mac);
    if (!e) return false;
    if (!e.isStatic) this.learnedCount--;
    return this.entries.delete(mac);
  }

  /** Forget every entry behind `port` (the port is leaving). */
  flushPort(port: Port): number {
    let n = 0;
    for (const [mac, e] of this.entries) {
      if (e.port === port) {
        if (!e.isStatic) this.learnedCount--;
        this.entries.delete(mac);
        n++;
      }
    }
    return n;
  }

  /** Remove learned entries older than the aging time; returns how many went. */
  age(now: number): number {
    const limit = now - this.agingSeconds;
    let n = 0;
    for (const [mac, e] of this.entries) {
      if (!e.isStatic && e.updated <= limit) {
        this.entries.delete(mac);
        this.learnedCount--;
        n++;
      }
    }
    this.aged += n;
    return n;
  }

  /** Entries, for `fdb show`. */
  list(): FdbEntry[] {
    return [...this.entries.values()];
  }

  counters() {
    return {
      entries: this.entries.size,
      learned: this.learned,
      moved: this.moved,
      refusedFull: this.refusedFull,
      aged: this.aged,
      staticConflicts: this.staticConflicts,
    };
  }
}
