/**
 * uplink-loop: loop detection on bridge uplinks (a host interface that is a port of a bridge network),
 * before anything is learned from a frame or flooded. Frames of other ports pass after one property
 * load; the rules are the LoopGuard's (loop-guard.ts). A frame an earlier stage decided is left alone.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_LEN, D_OFF, D_OUT, D_PORT, OUT_NONE } from '../layout.js';
import type { Stage, StageContext } from '../stage.js';

export class UplinkLoopStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'uplink-loop';
  readonly next = ['l2-learn'] as const;
  readonly dropReasons: readonly DropReason[] = ['uplink-loop'];

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const port = ports[desc[d + D_PORT]]!;
      const guard = port.domain?.loopGuard ?? null;
      if (guard === null || desc[d + D_OUT] !== OUT_NONE) {
        rows[w++] = row;
        continue;
      }
      const why = guard.check(port, bytes, desc[d + D_OFF], desc[d + D_LEN], port.domain!.fdb, ctx.now, ctx.dryRun);
      if (why === null) {
        rows[w++] = row;
        continue;
      }
      if (!ctx.dryRun) {
        port.counters.drops[DROP['uplink-loop']]++;
        this.drops[DROP['uplink-loop']]++;
      }
      batch.dropReason[row] = DROP['uplink-loop'];
      if (tracer) tracer.add(this.name, row, `drop uplink-loop: ${why}`);
    }
    batch.count = w;
  }
}
