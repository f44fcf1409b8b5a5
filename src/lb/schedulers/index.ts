/** The scheduler for a name: `-s rr|wrr|lc|wlc|sh|mh` (see scheduler.ts). */
import { LeastConnectionScheduler, WeightedLeastConnectionScheduler } from './least-connection.js';
import { MaglevScheduler } from './maglev.js';
import { RoundRobinScheduler, WeightedRoundRobinScheduler } from './round-robin.js';
import type { Scheduler, SchedulerName } from './scheduler.js';
import { SourceHashScheduler } from './source-hash.js';

export { SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './scheduler.js';

export function createScheduler(name: SchedulerName, opts: { maglevTableSize?: number } = {}): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobinScheduler();
    case 'wrr':
      return new WeightedRoundRobinScheduler();
    case 'lc':
      return new LeastConnectionScheduler();
    case 'wlc':
      return new WeightedLeastConnectionScheduler();
    case 'sh':
      return new SourceHashScheduler();
    case 'mh':
      return new MaglevScheduler(opts.maglevTableSize);
  }
}
