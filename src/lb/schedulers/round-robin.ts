/**
 * rr and wrr (IPVS's ip_vs_rr.c and ip_vs_wrr.c).
 *
 * rr: the next available server after the last one picked.
 * wrr: IPVS's interleaved weighted round robin: a current weight `cw` steps down by the gcd of the
 * weights from the largest weight; each pass picks the servers whose weight >= cw. With weights 3:2:1
 * one cycle is A A B A B C: every cycle of sum(w)/gcd picks follows the weights exactly.
 */
import type { RealServer } from '../real-server.js';
import { gcd, type Scheduler } from './scheduler.js';

export class RoundRobinScheduler implements Scheduler {
  readonly name = 'rr' as const;
  readonly isHash = false;
  private servers: readonly RealServer[] = [];
  private last: RealServer | null = null;

  update(available: readonly RealServer[]): void {
    this.servers = available;
  }

  pick(): RealServer | null {
    const s = this.servers;
    if (s.length === 0) return null;
    // Continue after the last pick even if the list changed under it.
    const i = this.last ? s.indexOf(this.last) : -1;
    const next = i >= 0 ? s[(i + 1) % s.length] : this.last ? (s.find((x) => x.id > this.last!.id) ?? s[0]) : s[0];
    this.last = next;
    return next;
  }

  target(): RealServer | null {
    return null;
  }
}

export class WeightedRoundRobinScheduler implements Scheduler {
  readonly name = 'wrr' as const;
  readonly isHash = false;
  private servers: readonly RealServer[] = [];
  private i = -1;
  private cw = 0;
  private maxWeight = 0;
  private step = 1;

  update(available: readonly RealServer[]): void {
    this.servers = available;
    this.maxWeight = available.reduce((m, s) => Math.max(m, s.weight), 0);
    this.step = available.reduce((g, s) => gcd(g, s.weight), 0) || 1;
    if (this.i >= available.length) this.i = -1;
    if (this.cw > this.maxWeight) this.cw = 0;
  }

  pick(): RealServer | null {
    const s = this.servers;
    if (s.length === 0 || this.maxWeight <= 0) return null;
    for (;;) {
      this.i = (this.i + 1) % s.length;
      if (this.i === 0) {
        this.cw -= this.step;
        if (this.cw <= 0) this.cw = this.maxWeight;
      }
      if (s[this.i].weight >= this.cw) return s[this.i];
    }
  }

  target(): RealServer | null {
    return null;
  }
}
