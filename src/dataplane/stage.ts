/**
 * Stage: one named node of the data-plane graph (VPP's graph nodes, Snabb's apps). Each stage file
 * declares its name, the stages a frame may go to next, the drop reasons it may count, and
 * `process(batch)`, a straight loop over the batch's live rows. The wiring is in graph.ts. Each drop
 * counts twice, on the ingress port (`stats` per port) and on the stage (`drops`: which stage
 * decided it, as VPP's per-node error counters say).
 */
import type { Batch } from './batch.js';
import type { DropReason } from './drop-reasons.js';
import type { Port } from './port.js';

export interface StageContext {
  /** Clock time of this burst, in seconds. */
  now: number;
  /** Trace dry run: report decisions, change no state (no learning, no transmit). */
  dryRun: boolean;
}

export interface Stage {
  readonly name: string;
  readonly next: readonly string[];
  readonly dropReasons: readonly DropReason[];
  /** Frames this stage dropped, by DROP index; only `dropReasons` are ever counted. */
  readonly drops: Float64Array;
  process(batch: Batch, ctx: StageContext): void;
}

/** Count a drop @stage decided for @row: on the ingress port, on the stage, and on the row (what captures annotate). */
export function countDrop(stage: Stage, port: Port, batch: Batch, row: number, reason: number): void {
  port.counters.drops[reason]++;
  stage.drops[reason]++;
  batch.dropReason[row] = reason;
}
