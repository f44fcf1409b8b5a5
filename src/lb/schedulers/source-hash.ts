/**
 * sh: source hashing (IPVS's ip_vs_sh.c). 256 buckets are dealt to the available servers in turn, each
 * server taking `weight` consecutive buckets per turn; a client address hashes to a bucket, so the same
 * client always reaches the same server while the server set is unchanged. A change of the set re-deals
 * the buckets (as IPVS does); for minimal disruption use mh.
 */
import type { RealServer } from '../real-server.js';
import { hashClient, type Scheduler } from './scheduler.js';

export const SH_BUCKETS = 256;

export class SourceHashScheduler implements Scheduler {
  readonly name = 'sh' as const;
  readonly isHash = true;
  private readonly buckets: (RealServer | null)[] = new Array(SH_BUCKETS).fill(null);

  update(available: readonly RealServer[]): void {
    if (available.length === 0) {
      this.buckets.fill(null);
      return;
    }
    let k = 0;
    let taken = 0;
    for (let b = 0; b < SH_BUCKETS; b++) {
      const s = available[k];
      this.buckets[b] = s;
      if (++taken >= s.weight) {
        taken = 0;
        k = (k + 1) % available.length;
      }
    }
  }

  pick(cip: number): RealServer | null {
    return this.buckets[hashClient(cip, 0) & (SH_BUCKETS - 1)];
  }

  target(cip: number): RealServer | null {
    return this.pick(cip);
  }
}
