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
 * Algorithm: one open-addressing hash table, struct-of-arrays (typed arrays indexed by slot, the way
 * src/lb/conn-table.ts keeps connections): the MAC as lo32 (Uint32Array) and hi16 (Uint16Array), a
 * flags byte (0 = empty, used, static), the port (an array of Port objects by slot), `updated`
 * (Float64Array), `remote` (Uint32Array) and an insertion stamp (Float64Array: `list()` keeps the order
 * entries were first added, as the Map this replaced did). Linear probing from a murmur3-mixed hash;
 * deletion is backward-shift (no tombstones, so chains stay short however many MACs come and go, and a
 * probe stops at the first empty slot). The slot count is a power of two, at least twice the entries
 * (load factor <= 0.5): INITIAL_SLOTS at first, doubled when an insert would pass one half, so a
 * network costs memory for the MACs it has (about 35 bytes a slot: 27 of typed arrays, a pointer in
 * the port array; ~9 KiB for a new network, ~560 KiB at the default cap's 8192 MACs). Lookups and
 * refreshes never allocate; a learn allocates only when it doubles the table (a handful of times in a
 * network's life).
 *
 * Hot callers use `find(mac)` (a slot or -1) and the `...At(slot)` accessors; a slot is good until the
 * next change to the table (a removal shifts entries back). `get` and `list` build objects: cold paths.
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

// Slot flags. 0: empty.
const F_USED = 1;
const F_STATIC = 2;
const USED_STATIC = F_USED | F_STATIC;

const TWO_32 = 0x100000000;
const MIN_SLOTS = 8;
/** Slots of a new table: 128 MACs before the first doubling. */
const INITIAL_SLOTS = 256;

/**
 * murmur3's 32-bit finalizer over the two halves: Docker's sequential MACs spread over the table. A
 * MAC's home slot is `hashMac(lo, hi) & (slots - 1)` (exported for the tests that build collisions).
 */
export function hashMac(lo: number, hi: number): number {
  let h = lo ^ Math.imul(hi, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function portArray(n: number): (Port | null)[] {
  const a: (Port | null)[] = [];
  for (let i = 0; i < n; i++) a.push(null); // pushed, not new Array(n): packed elements, no holes
  return a;
}

export class FdbTable {
  readonly capacity: number;
  readonly agingSeconds: number;
  // Slot arrays (replaced, not resized, when the table grows).
  private lo!: Uint32Array;
  private hi!: Uint16Array;
  private flags!: Uint8Array;
  private ports!: (Port | null)[];
  private upd!: Float64Array;
  private rem!: Uint32Array;
  private seq!: Float64Array;
  private mask!: number;
  private count = 0;
  private learnedCount = 0;
  private nextSeq = 0;
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
    const slots = Math.max(MIN_SLOTS, Math.min(INITIAL_SLOTS, nextPow2(2 * capacity)));
    this.allocate(slots);
  }

  get size(): number {
    return this.count;
  }

  /** Learned entries: what the cap (`capacity`) counts; static ones are not. */
  get learnedSize(): number {
    return this.learnedCount;
  }

  /** Slots in the table now (a power of two, at least twice `size`). */
  get slots(): number {
    return this.mask + 1;
  }

  /** The slot of `mac`, or -1; good until the next change to the table. Hot path. */
  find(mac: number): number {
    const lo = mac >>> 0; // ToUint32: the low 32 bits of an integer below 2**53
    const hi = (mac / TWO_32) | 0;
    const mask = this.mask;
    const flags = this.flags;
    const los = this.lo;
    const his = this.hi;
    for (let s = hashMac(lo, hi) & mask; ; s = (s + 1) & mask) {
      if (flags[s] === 0) return -1; // load <= 0.5: there is always an empty slot to stop at
      if (los[s] === lo && his[s] === hi) return s;
    }
  }

  /** The port of the entry at `slot` (from find()). */
  portAt(slot: number): Port {
    return this.ports[slot]!;
  }

  /** The remote VTEP (uint32 IPv4) of the entry at `slot`; 0 when local or unknown. */
  remoteAt(slot: number): number {
    return this.rem[slot];
  }

  isStaticAt(slot: number): boolean {
    return (this.flags[slot] & F_STATIC) !== 0;
  }

  /** Clock time of the last frame from the entry's MAC (learned), or of installation (static). */
  updatedAt(slot: number): number {
    return this.upd[slot];
  }

  macAt(slot: number): number {
    return this.hi[slot] * TWO_32 + this.lo[slot];
  }

  lookup(mac: number): Port | undefined {
    const s = this.find(mac);
    return s < 0 ? undefined : this.ports[s]!;
  }

  /** The entry as an object (a copy: later changes to the table do not show in it); cold paths. */
  get(mac: number): FdbEntry | undefined {
    const s = this.find(mac);
    return s < 0 ? undefined : this.entryAt(s);
  }

  /** Learn `mac` behind `port` at time `now`; hot path. */
  learn(mac: number, port: Port, now: number): LearnOutcome {
    const lo = mac >>> 0;
    const hi = (mac / TWO_32) | 0;
    const mask = this.mask;
    const flags = this.flags;
    let s = hashMac(lo, hi) & mask;
    for (; flags[s] !== 0; s = (s + 1) & mask) {
      if (this.lo[s] !== lo || this.hi[s] !== hi) continue;
      if (flags[s] === USED_STATIC) {
        if (this.ports[s] !== port) this.staticConflicts++;
        return 'static';
      }
      this.upd[s] = now;
      if (this.ports[s] === port) return 'refreshed';
      this.ports[s] = port;
      this.rem[s] = 0; // a MAC that moved to a local port lives behind no remote VTEP any more (fdb show)
      this.moved++;
      return 'moved';
    }
    if (this.learnedCount >= this.capacity) {
      this.refusedFull++;
      return 'refused-full';
    }
    this.insert(s, lo, hi, F_USED, port, now, 0);
    this.learnedCount++;
    this.learned++;
    return 'new';
  }

  /** Learn `mac` behind overlay port `port` and remote VTEP `remote` (flood-and-learn); hot path. */
  learnRemote(mac: number, port: Port, remote: number, now: number): LearnOutcome {
    const lo = mac >>> 0;
    const hi = (mac / TWO_32) | 0;
    const vtep = remote >>> 0;
    const mask = this.mask;
    const flags = this.flags;
    let s = hashMac(lo, hi) & mask;
    for (; flags[s] !== 0; s = (s + 1) & mask) {
      if (this.lo[s] !== lo || this.hi[s] !== hi) continue;
      if (flags[s] === USED_STATIC) {
        if (this.ports[s] !== port || this.rem[s] !== vtep) this.staticConflicts++;
        return 'static';
      }
      this.upd[s] = now;
      if (this.ports[s] === port && this.rem[s] === vtep) return 'refreshed';
      this.ports[s] = port;
      this.rem[s] = vtep;
      this.moved++;
      return 'moved';
    }
    if (this.learnedCount >= this.capacity) {
      this.refusedFull++;
      return 'refused-full';
    }
    this.insert(s, lo, hi, F_USED, port, now, vtep);
    this.learnedCount++;
    this.learned++;
    return 'new';
  }

  /** Install or replace a static entry (an endpoint's own MAC; with `remote`, a MAC behind that VTEP). */
  addStatic(mac: number, port: Port, now = 0, remote = 0): void {
    const lo = mac >>> 0;
    const hi = (mac / TWO_32) | 0;
    const s = this.find(mac);
    if (s < 0) {
      this.insert(this.emptySlotFor(lo, hi), lo, hi, USED_STATIC, port, now, remote >>> 0);
      return;
    }
    // Replaced in place: the entry keeps its place in list() order, as Map.set on a present key did.
    if (this.flags[s] !== USED_STATIC) this.learnedCount--;
    this.flags[s] = USED_STATIC;
    this.ports[s] = port;
    this.upd[s] = now;
    this.rem[s] = remote >>> 0;
  }

  remove(mac: number): boolean {
    const s = this.find(mac);
    if (s < 0) return false;
    if (this.flags[s] !== USED_STATIC) this.learnedCount--;
    this.deleteAt(s);
    return true;
  }

  /** Forget every entry behind `port` (the port is leaving). */
  flushPort(port: Port): number {
    if (this.count === 0) return 0;
    const ports = this.ports;
    const flags = this.flags;
    const mask = this.mask;
    let n = 0;
    // From an empty slot, so no probe run wraps past the scan's start: a backward shift only moves an
    // entry the scan has not reached into the slot it is at, which is looked at again.
    let i = this.emptySlot();
    for (let k = 0; k <= mask; k++) {
      i = (i + 1) & mask;
      while (flags[i] !== 0 && ports[i] === port) {
        if (flags[i] !== USED_STATIC) this.learnedCount--;
        this.deleteAt(i);
        n++;
      }
    }
    return n;
  }

  /**
   * Remove learned entries older than the aging time; returns how many went. A sweep of every slot
   * (~20 us at 16384, once a second), skipped when nothing is learned (a bridge network of static
   * endpoints only).
   */
  age(now: number): number {
    if (this.learnedCount === 0) return 0;
    const limit = now - this.agingSeconds;
    const flags = this.flags;
    const upd = this.upd;
    const mask = this.mask;
    let n = 0;
    let i = this.emptySlot(); // as in flushPort
    for (let k = 0; k <= mask; k++) {
      i = (i + 1) & mask;
      while (flags[i] === F_USED && upd[i] <= limit) {
        this.deleteAt(i);
        this.learnedCount--;
        n++;
      }
    }
    this.aged += n;
    return n;
  }

  /** Entries, for `fdb show`: in the order they were added. */
  list(): FdbEntry[] {
    const slots: number[] = [];
    for (let s = 0; s <= this.mask; s++) if (this.flags[s] !== 0) slots.push(s);
    slots.sort((a, b) => this.seq[a] - this.seq[b]);
    return slots.map((s) => this.entryAt(s));
  }

  counters() {
    return {
      entries: this.count,
      learned: this.learned,
      moved: this.moved,
      refusedFull: this.refusedFull,
      aged: this.aged,
      staticConflicts: this.staticConflicts,
    };
  }

  private entryAt(s: number): FdbEntry {
    return { mac: this.macAt(s), port: this.ports[s]!, isStatic: this.flags[s] === USED_STATIC, updated: this.upd[s], remote: this.rem[s] };
  }

  /** Fill empty slot `s` (the end of the MAC's probe run); grows first if that would pass load 1/2. */
  private insert(s: number, lo: number, hi: number, flags: number, port: Port, now: number, remote: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) {
      this.grow();
      s = this.emptySlotFor(lo, hi);
    }
    this.lo[s] = lo;
    this.hi[s] = hi;
    this.flags[s] = flags;
    this.ports[s] = port;
    this.upd[s] = now;
    this.rem[s] = remote;
    this.seq[s] = this.nextSeq++;
    this.count++;
  }

  /** The empty slot that ends the probe run of a MAC not in the table. */
  private emptySlotFor(lo: number, hi: number): number {
    const mask = this.mask;
    let s = hashMac(lo, hi) & mask;
    while (this.flags[s] !== 0) s = (s + 1) & mask;
    return s;
  }

  /** Some empty slot (there always is one: load <= 1/2). */
  private emptySlot(): number {
    let i = 0;
    while (this.flags[i] !== 0) i++;
    return i;
  }

  /** Backward-shift deletion of the entry at slot `i`: later entries of its run move up to fill the hole. */
  private deleteAt(i: number): void {
    const mask = this.mask;
    const flags = this.flags;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (flags[j] === 0) break;
      const k = hashMac(this.lo[j], this.hi[j]) & mask;
      // The entry at j stays unless its home k lies cyclically outside (i, j]: then it moves to the hole.
      const stays = i <= j ? k > i && k <= j : k > i || k <= j;
      if (!stays) {
        this.lo[i] = this.lo[j];
        this.hi[i] = this.hi[j];
        flags[i] = flags[j];
        this.ports[i] = this.ports[j];
        this.upd[i] = this.upd[j];
        this.rem[i] = this.rem[j];
        this.seq[i] = this.seq[j];
        i = j;
      }
    }
    flags[i] = 0;
    this.ports[i] = null; // no reference kept to a port that left
    this.count--;
  }

  /** Fresh, empty arrays of `slots` slots (the fields are assigned here: the constructor and grow()). */
  private allocate(slots: number): void {
    this.mask = slots - 1;
    this.lo = new Uint32Array(slots);
    this.hi = new Uint16Array(slots);
    this.flags = new Uint8Array(slots);
    this.ports = portArray(slots);
    this.upd = new Float64Array(slots);
    this.rem = new Uint32Array(slots);
    this.seq = new Float64Array(slots);
  }

  /** Double the slots and put every entry back (cold: see the header for when). */
  private grow(): void {
    const { lo, hi, flags, ports, upd, rem, seq } = this;
    const slots = (this.mask + 1) * 2;
    this.allocate(slots);
    for (let s = 0; s < flags.length; s++) {
      if (flags[s] === 0) continue;
      const t = this.emptySlotFor(lo[s], hi[s]);
      this.lo[t] = lo[s];
      this.hi[t] = hi[s];
      this.flags[t] = flags[s];
      this.ports[t] = ports[s];
      this.upd[t] = upd[s];
      this.rem[t] = rem[s];
      this.seq[t] = seq[s];
    }
  }
}
