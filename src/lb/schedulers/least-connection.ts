/**
 * lc and wlc (IPVS's ip_vs_lc.c and ip_vs_wlc.c).
 *
 * A server's overhead is active * 256 + inactive connections (an idle connection in TIME_WAIT costs far
 * less than an active one). lc picks the smallest overhead; wlc the smallest overhead / weight, compared
 * by cross-multiplication (no division). Ties go to the first server in the list. One pass per new
 * connection over the available servers.
 */
import type { RealServer } from '../real-server.js';
import type { Scheduler } from './scheduler.js';

function overhead(s: RealServer): number {
  return s.activeConns * 256 + s.inactConns;
}

export class LeastConnectionScheduler implements Scheduler {
  readonly name = 'lc' as const;
  readonly isHash = false;
  private servers: readonly RealServer[] = [];

  update(available: readonly RealServer[]): void {
    this.servers = available;
  }

  pick(): RealServer | null {
    let best: RealServer | null = null;
    let bestOh = Infinity;
    for (const s of this.servers) {
      const oh = overhead(s);
      if (oh < bestOh) {
        best = s;
        bestOh = oh;
      }
    }
    return best;
  }

  target(): RealServer | null {
    return null;
  }
}

export class WeightedLeastConnectionScheduler implements Scheduler {
  readonly name = 'wlc' as const;
  readonly isHash = false;
  private servers: readonly RealServer[] = [];

  update(available: readonly RealServer[]): void {
    this.servers = available;
  }

  pick(): RealServer | null {
    let best: RealServer | null = null;
    let bestOh = 0;
    for (const s of this.servers) {
      const oh = overhead(s);
      // oh / w < bestOh / bestW  <=>  oh * bestW < bestOh * w
      if (best === null || oh * best.weight < bestOh * s.weight) {
        best = s;
        bestOh = oh;
      }
    }
    return best;
  }

  target(): RealServer | null {
    return null;
  }
}
