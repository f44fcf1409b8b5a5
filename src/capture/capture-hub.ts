/**
 * CaptureHub: the engine's capture point (dataplane/capture-point.ts) and the list of running
 * captures. It sets `engine.capture` to itself while at least one capture runs and back to null when
 * the last one ends, so a switch with no capture pays one null check per burst and nothing per frame.
 *
 * Per burst it takes one timestamp (microseconds since the epoch: the wall clock for a live switch, the
 * emulator's virtual clock for a replay), resets the batch's per-row drop reasons for the stages to
 * fill in, and lets each capture take its inbound copies; after the stages, each capture takes its
 * outbound frames and annotations. Captures are kept in a copy-on-write array, so one that ends in the
 * middle of a burst (count reached) is removed without disturbing the loop.
 *
 * One hub per engine: `CaptureHub.for(engine)`.
 */
import type { Batch } from '../dataplane/batch.js';
import type { CapturePoint } from '../dataplane/capture-point.js';
import type { Port } from '../dataplane/port.js';
import type { SwitchEngine } from '../dataplane/switch-engine.js';
import { CaptureSession, type CaptureOptions, type CaptureSink } from './capture-session.js';

/** Microseconds since the epoch, from the monotonic clock anchored at the process's time origin. */
export function wallClockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const hubs = new WeakMap<SwitchEngine, CaptureHub>();

export class CaptureHub implements CapturePoint {
  private sessions: readonly CaptureSession[] = [];
  private burstMicros = 0;
  private annotating = false;
  private readonly notes: (string | undefined)[] = [];

  private constructor(
    private readonly engine: SwitchEngine,
    private readonly nowMicros: () => number,
  ) {}

  /** The engine's hub, made on first use; `nowMicros` only counts then (the emulator's virtual clock). */
  static for(engine: SwitchEngine, nowMicros: () => number = wallClockMicros): CaptureHub {
    let hub = hubs.get(engine);
    if (!hub) hubs.set(engine, (hub = new CaptureHub(engine, nowMicros)));
    return hub;
  }

  /** Start a capture; bad options (format, snaplen, filter) throw before anything is written. */
  start(opts: CaptureOptions, sink: CaptureSink): CaptureSession {
    const s = new CaptureSession(opts, sink, this.engine.ports, this.engine.pool.slots, this.nowMicros());
    s.onEnd(() => this.remove(s));
    if (!s.ended) {
      this.sessions = [...this.sessions, s];
      this.annotating = this.sessions.some((x) => x.annotate);
      this.engine.capture = this;
    }
    return s;
  }

  list(): readonly CaptureSession[] {
    return this.sessions;
  }

  get(id: string): CaptureSession | undefined {
    return this.sessions.find((s) => s.id === id);
  }

  /** End every capture (daemon shutdown): each writes its statistics and closes its stream. */
  stopAll(): void {
    for (const s of this.sessions) s.end('stopped');
  }

  private remove(s: CaptureSession): void {
    this.sessions = this.sessions.filter((x) => x !== s);
    this.annotating = this.sessions.some((x) => x.annotate);
    if (this.sessions.length === 0 && this.engine.capture === this) this.engine.capture = null;
  }

  received(batch: Batch, n: number): void {
    this.burstMicros = this.nowMicros();
    batch.dropReason.fill(-1, 0, n);
    if (this.annotating) {
      this.notes.fill(undefined, 0, n);
      batch.notes = this.notes;
    }
    const list = this.sessions;
    for (let i = 0; i < list.length; i++) list[i].received(batch, n, this.burstMicros);
  }

  decided(batch: Batch, _n: number, touched: readonly Port[]): void {
    const list = this.sessions;
    for (let i = 0; i < list.length; i++) list[i].decided(batch, touched, this.burstMicros);
    batch.notes = null;
  }

  portsChanged(): void {
    for (const s of this.sessions) s.refreshPorts(this.engine.domains);
  }
}
