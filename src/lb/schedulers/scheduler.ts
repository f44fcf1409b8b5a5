/**
 * Scheduler: how a virtual service picks a real server for a new connection (IPVS's ip_vs_scheduler).
 * `update` is called with the servers that are available (weight > 0, healthy, not draining) whenever
 * that set or a weight changes; `pick` runs once per new connection, never per packet.
 *
 *   rr   round robin                      wrr  weighted round robin (IPVS's interleaved gcd stepping)
 *   lc   least connections                wlc  weighted least connections (IPVS's default)
 *   sh   source hashing (256 buckets)     mh   Maglev hashing (prime table, minimal disruption)
 *
 * Hash schedulers (sh, mh) are pure functions of the client address once built: `target` answers
 * "where would this client go" without side effects, which is what `--dry-run` uses.
 */
import type { RealServer } from '../real-server.js';

export const SCHEDULER_NAMES = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export interface Scheduler {
  readonly name: SchedulerName;
  /** Hash schedulers: the choice depends only on the client (and the server set). */
  readonly isHash: boolean;
  update(available: readonly RealServer[]): void;
  /** A server for a new connection from cip:cport, or null when none is available. */
  pick(cip: number, cport: number): RealServer | null;
  /** Hash schedulers only: where cip:cport goes, without side effects. */
  target(cip: number, cport: number): RealServer | null;
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A 32-bit hash of a client address (and port), murmur3's finalizer. */
export function hashClient(ip: number, port: number): number {
  let h = Math.imul(ip ^ 0x5bd1e995, 0xcc9e2d51) ^ Math.imul(port, 0x1b873593);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
