/**
 * Batch: the frames of one burst moving through the stage graph. `arrival` lists the burst's rows in
 * arrival order; vxlan-decap and ingress run over it (compacting out what they drop), then each row
 * gets its frame class (bridge, overlay, macvlan, ipvlan: from its ingress port's domain; vip once the
 * lb stage has answered or rewritten it) and lands in that class's row list. A stage after ingress
 * runs only over the lists of its classes (graph.ts): the engine points `rows`/`count` at one list at
 * a time, so a stage's loop is the same straight loop over survivors whatever list it is given, and a
 * stage that drops a frame compacts it out of that list. Egress runs over the survivors merged back
 * into arrival order. The tracer is set only when someone asked why (trace), so the cost when off is
 * one null check per stage. A stage that drops a row also writes its reason into `dropReason[row]`
 * (one store, on the drop path only) so that captures can say why.
 */
import type { FramePool } from './frame-pool.js';
import type { Port } from './port.js';
import type { Tracer } from './tracer.js';

/** Frame classes: which stage list a row runs after ingress (graph.ts CLASS_STAGES). */
export const FRAME_CLASSES = ['bridge', 'overlay', 'macvlan', 'ipvlan', 'vip'] as const;
export type FrameClass = (typeof FRAME_CLASSES)[number];
export const CLASS_BRIDGE = 0;
export const CLASS_OVERLAY = 1;
export const CLASS_MACVLAN = 2;
export const CLASS_IPVLAN = 3;
export const CLASS_VIP = 4;
export const CLASS_COUNT = FRAME_CLASSES.length;

export class Batch {
  /** The row list the running stage works on (one class's list after ingress; `arrival` before and at egress). */
  rows: Int32Array;
  count = 0;
  /** The burst's rows in arrival order. */
  readonly arrival: Int32Array;
  /** Rows in `arrival` once ingress has run (before egress: the rows classified). */
  arrivalCount = 0;
  /** Per row, a burst stamp: which rows were classified and which of them survived (the engine's). */
  readonly mark: Int32Array;
  /** Per class, its rows (in arrival order, but for rows a stage moved in, appended as moved). */
  readonly classRows: Int32Array[];
  readonly classCount = new Int32Array(CLASS_COUNT);
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
    this.arrival = new Int32Array(pool.slots);
    this.rows = this.arrival;
    this.mark = new Int32Array(pool.slots);
    this.classRows = FRAME_CLASSES.map(() => new Int32Array(pool.slots));
    this.dropReason = new Int32Array(pool.slots).fill(-1);
  }

  /**
   * Hand `row` to class `cls`'s list: the running stage keeps it out of its own list (it does not
   * compact it back), and the stages of `cls` after the running one see it.
   */
  moveTo(row: number, cls: number): void {
    this.classRows[cls][this.classCount[cls]++] = row;
  }
}
