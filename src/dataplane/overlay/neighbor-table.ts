/**
 * NeighborTable: address -> MAC for one overlay network, the knowledge ARP suppression (IPv4, keyed by
 * the address as a uint32) and ND suppression (IPv6, keyed by its canonical text) answer from (the
 * kernel's vxlan `proxy` neighbour table, Docker overlay's static neighbour entries).
 *
 * Entries come from three places:
 * - static: local endpoints (connect) and `fdb add NETWORK MAC --vtep IP --ip ADDR`; never age;
 * - learned: the sender fields of ARP requests and replies, and the source of IPv4 packets inside the
 *   subnet, in frames decapsulated from remote VTEPs (snooping);
 * - never from local ports' ARP: a container's own address is known from its endpoint.
 *
 * Learned entries age out after `agingSeconds` (300 s, as the FDB) and are checked on lookup, so a
 * stale answer is never given; a learn that would exceed `capacity` first purges aged entries, then is
 * refused and counted. A Map keyed by the address number: one hash lookup per ARP request, and per
 * snooped packet an in-place refresh (no allocation).
 */
export interface NeighborEntry<K = number> {
  ip: K;
  mac: number;
  isStatic: boolean;
  updated: number;
}

export class NeighborTable<K extends number | string = number> {
  private readonly entries = new Map<K, NeighborEntry<K>>();
  private learnedCount = 0;
  learned = 0;
  refusedFull = 0;
  suppressed = 0;

  constructor(
    readonly capacity = 8192,
    readonly agingSeconds = 300,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The MAC of `ip`, unless unknown or aged out. */
  lookup(ip: K, now: number): number | undefined {
    const e = this.entries.get(ip);
    if (e === undefined) return undefined;
    if (!e.isStatic && now - e.updated > this.agingSeconds) return undefined;
    return e.mac;
  }

  get(ip: K): NeighborEntry<K> | undefined {
    return this.entries.get(ip);
  }

  /** Learn ip -> mac at `now`; static entries win. Returns false if refused (table full). */
  learn(ip: K, mac: number, now: number): boolean {
    const e = this.entries.get(ip);
    if (e !== undefined) {
      if (e.isStatic) return true;
      e.mac = mac;
      e.updated = now;
      return true;
    }
    if (this.learnedCount >= this.capacity && this.age(now) === 0) {
      this.refusedFull++;
      return false;
    }
    this.entries.set(ip, { ip, mac, isStatic: false, updated: now });
    this.learnedCount++;
    this.learned++;
    return true;
  }

  addStatic(ip: K, mac: number, now = 0): void {
    const e = this.entries.get(ip);
    if (e && !e.isStatic) this.learnedCount--;
    this.entries.set(ip, { ip, mac, isStatic: true, updated: now });
  }

  /** Remove the entry for `ip` (static or learned); with `mac`, only if it still maps there. */
  remove(ip: K, mac?: number): boolean {
    const e = this.entries.get(ip);
    if (!e || (mac !== undefined && e.mac !== mac)) return false;
    if (!e.isStatic) this.learnedCount--;
    return this.entries.delete(ip);
  }

  /** Drop learned entries older than the aging time; returns how many went. */
  age(now: number): number {
    let n = 0;
    for (const [ip, e] of this.entries) {
      if (!e.isStatic && now - e.updated > this.agingSeconds) {
        this.entries.delete(ip);
        this.learnedCount--;
        n++;
      }
    }
    return n;
  }

  list(): NeighborEntry<K>[] {
    return [...this.entries.values()];
  }
}
