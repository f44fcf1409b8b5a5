/**
 * mh: Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016, section 3.4; IPVS's ip_vs_mh.c).
 *
 * Population: the lookup table has a prime size M (65537 by default). Each server i derives from its
 * name (`ip:port`) an offset = h1(name) mod M and a skip = h2(name) mod (M - 1) + 1; its preference list
 * is permutation[i][j] = (offset + j * skip) mod M, a permutation of 0..M-1 because M is prime. Servers
 * take turns claiming their next preferred slot that is still empty until the table is full; a server
 * of weight w takes w / gcd(weights) slots per turn (IPVS's weighted variant). A client address hashes
 * to a slot: table[hash(client) mod M].
 *
 * Why: when one of N servers goes, only the slots it owned change hands (about 1/N of clients), plus a
 * small fraction the paper measures as slight extra disruption; every other client keeps its server.
 * The permutations are never stored: each server's next candidate is computed from its offset, skip and
 * a cursor, so building costs O(M) memory (an Int32Array of M entries) and about M * ln M steps.
 */
import type { RealServer } from '../real-server.js';
import { gcd, hashClient, type Scheduler } from './scheduler.js';

export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** FNV-1a over a string's UTF-16 code units, with a seed: h1 and h2 of the paper. */
function hashName(name: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Build a Maglev lookup table of size m: entry k is an index into `servers` (or -1 when empty). */
export function populateMaglev(servers: readonly { key: string; weight: number }[], m: number): Int32Array {
  const table = new Int32Array(m).fill(-1);
  const n = servers.length;
  if (n === 0) return table;
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const g = servers.reduce((acc, s) => gcd(acc, s.weight), 0) || 1;
  const turns = servers.map((s) => Math.max(1, Math.floor(s.weight / g)));
  for (let i = 0; i < n; i++) {
    offset[i] = hashName(servers[i].key, 0x9747b28c) % m;
    skip[i] = (hashName(servers[i].key, 0x2f6b7a1d) % (m - 1)) + 1;
  }
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < turns[i]; t++) {
        let c = (offset[i] + next[i] * skip[i]) % m;
        while (table[c] >= 0) {
          next[i]++;
          c = (offset[i] + next[i] * skip[i]) % m;
        }
        table[c] = i;
        next[i]++;
        if (++filled === m) return table;
      }
    }
  }
}

export class MaglevScheduler implements Scheduler {
  readonly name = 'mh' as const;
  readonly isHash = true;
  private servers: readonly RealServer[] = [];
  private table: Int32Array;
  /** Also hash the client port (IPVS's mh-port flag); by default only the address counts. */
  readonly hashPort: boolean;

  constructor(
    readonly tableSize = MAGLEV_DEFAULT_TABLE_SIZE,
    opts: { hashPort?: boolean } = {},
  ) {
    if (!isPrime(tableSize)) throw new RangeError(`Maglev table size ${tableSize}: expected a prime number`);
    this.table = new Int32Array(tableSize).fill(-1);
    this.hashPort = opts.hashPort ?? false;
  }

  update(available: readonly RealServer[]): void {
    // Sorted by name, so the table depends on the set of servers, not on the order they were added.
    this.servers = [...available].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.table = populateMaglev(this.servers, this.tableSize);
  }

  pick(cip: number, cport: number): RealServer | null {
    const i = this.table[hashClient(cip, this.hashPort ? cport : 0) % this.tableSize];
    return i >= 0 ? this.servers[i] : null;
  }

  target(cip: number, cport: number): RealServer | null {
    return this.pick(cip, cport);
  }
}
