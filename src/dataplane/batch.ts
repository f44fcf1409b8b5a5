/**
 * Batch: the frames of one burst moving through the stage graph. `rows` lists the descriptor rows still
 * alive, in arrival order; a stage that drops a frame compacts it out, so every later stage runs a
 * straight loop over survivors only. The tracer is set only when someone asked why (trace), so the
 * cost when off is one null check per stage.
 */
import type { FramePool } from './frame-pool.js';
import type { Port } from './port.js';
import type { Tracer } from './tracer.js';

export class Batch {
  readonly rows: Int32Array;
  count = 0;
  tracer: Tracer | null = null;

  constructor(
    readonly pool: FramePool,
    /** Ports by id, for stages that need the ingress port's object. */
    readonly ports: (Port | undefined)[],
  ) {
    this.rows = new Int32Array(pool.slots);
  }
}
