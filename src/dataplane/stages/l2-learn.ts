/**
 * l2-learn: source MAC learning into the ingress port's domain FDB (see fdb-table.ts for aging, the
 * cap and moves). Learning never drops a frame: a refused learn (table full) only means frames to that
 * MAC get flooded. In a trace dry run the table is only read.
 *
 * A frame an earlier stage already decided (D_OUT set: an ARP reply the switch made in place, say)
 * carries a source MAC the switch wrote, not one seen on the wire: it is not learned.
 */
import type { Batch } from '../batch.js';
import type { DropReason } from '../drop-reasons.js';
import { DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_OFF, D_OUT, D_PORT, OUT_NONE } from '../layout.js';
import { formatMac, readMac } from '../../packet/mac.js';
import type { Stage, StageContext } from '../stage.js';

export class L2LearnStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'l2-learn';
  readonly next = ['l2-fwd'] as const;
  readonly dropReasons: readonly DropReason[] = [];

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const now = ctx.now;
    if (ctx.dryRun) {
      for (let i = 0; i < batch.count; i++) this.explain(batch, rows[i]);
      return;
    }
    for (let i = 0; i < batch.count; i++) {
      const d = rows[i] * DESC_STRIDE;
      if (desc[d + D_OUT] !== OUT_NONE) continue;
      const port = ports[desc[d + D_PORT]]!;
      const outcome = port.domain!.fdb.learn(readMac(bytes, desc[d + D_OFF] + 6), port, now);
      if (tracer) tracer.add(this.name, rows[i], `${outcome} ${formatMac(readMac(bytes, desc[d + D_OFF] + 6))} on ${port.label}`);
    }
  }

  /** What learning would do, without doing it. */
  private explain(batch: Batch, row: number): void {
    if (!batch.tracer) return;
    const d = row * DESC_STRIDE;
    if (batch.pool.desc[d + D_OUT] !== OUT_NONE) return;
    const port = batch.ports[batch.pool.desc[d + D_PORT]]!;
    const mac = readMac(batch.pool.bytes, batch.pool.desc[d + D_OFF] + 6);
    const fdb = port.domain!.fdb;
    const e = fdb.get(mac);
    let outcome: string;
    if (!e) outcome = fdb.learnedSize >= fdb.capacity ? 'would refuse (table full)' : 'would learn';
    else if (e.isStatic) outcome = e.port === port ? 'static entry, not learned:' : `static entry on ${e.port.label}, not learned:`;
    else if (e.port === port) outcome = 'would refresh';
    else outcome = `would move from ${e.port.label}`;
    batch.tracer.add(this.name, row, `${outcome} ${formatMac(mac)} on ${port.label}`);
  }
}
