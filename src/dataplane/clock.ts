/**
 * Time for the data plane, in seconds. Live switches read the monotonic clock; the emulator and tests
 * drive a virtual clock so that aging and timeouts replay the same way every run.
 */
export interface Clock {
  now(): number;
}

export class MonotonicClock implements Clock {
  now(): number {
    return performance.now() / 1000;
  }
}

export class VirtualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  set(seconds: number): void {
    this.t = seconds;
  }
  advance(seconds: number): void {
    this.t += seconds;
  }
}
