/**
 * Batch: the frames of one burst moving through the stage graph. `rows` lists the descriptor rows still
 * alive, in arrival order; a stage that drops a frame compacts it out, so every later stage runs a
 * straight loop over survivors only. The tracer is set only when someone asked why (trace), so the
 * cost when off is one null check per stage. A stage that drops a row also writes its reason into
 * `dropReason[row]` (one store, on the drop path only) so that captures can say why.
 */
import type { FramePool } from './frame-pool.js';
import type { Port } from './port.js';
import type { Tracer } from './tracer.js';

export class Batch {
  readonly rows: Int32Array;
  count = 0;
  tracer: Tracer | null = null;
  /**
   * Why each row was dropped: the DROP index the dropping stage wrote, for capture annotations. Only
   * meaningful while a capture is active (the capture resets it to -1 for every row it watches).
   */
  readonly dropReason: Int32Array;
  /**
   * Per-row notes for annotated captures (e.g. `lb rr -> 10.0.0.12:8080`): non-null only while an
   * annotating capture is active; a stage that decides something worth showing may set `notes[row]`.
   */
  notes: (string | undefined)[] | null = null;

  constructor(
    readonly pool: FramePool,
    /** Ports by id, for stages that need the ingress port's object. */
    readonly ports: (Port | undefined)[],
  ) {
    this.rows = new Int32Array(pool.slots);
    this.dropReason = new Int32Array(pool.slots).fill(-1);
  }
}
