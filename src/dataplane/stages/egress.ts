/**
 * egress: turn decisions into per-port transmit queues (Snabb's learning bridge: classify, then one
 * straight loop per list). Unicast rows go to their port's queue; flooded rows to every other port of
 * the domain, in join order (with icc=false, a container's flood reaches only non-container ports). The
 * engine flushes each touched queue with one batched native write.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_LEN, D_OFF, D_OUT, D_PORT, OUT_FLOOD } from '../layout.js';
import type { Port } from '../port.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';

export class EgressStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'egress';
  readonly next = [] as const;
  readonly dropReasons: readonly DropReason[] = ['flood-no-ports'];
  /** Ports whose queue got rows in this burst; the engine flushes and clears it. */
  readonly touched: Port[] = [];
  /** Frames that left by at least one port: with the drop counters, every received frame is accounted for. */
  forwarded = 0;

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const touched = this.touched;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const out = desc[d + D_OUT];
      if (out >= 0) {
        const p = ports[out]!;
        if (p.txCount === 0) touched.push(p);
        p.txQueue[p.txCount++] = row;
        this.forwarded++;
        if (tracer) tracer.add(this.name, row, `output ${p.label}`);
      } else if (out === OUT_FLOOD) {
        const inPort = ports[desc[d + D_PORT]]!;
        const domain = inPort.domain!;
        const isolate = !domain.icc && inPort.ownMac !== null;
        let n = 0;
        const members = domain.ports;
        for (let k = 0; k < members.length; k++) {
          const p = members[k];
          if (p === inPort || (isolate && p.ownMac !== null)) continue;
          if (p.txCount === 0) touched.push(p);
          p.txQueue[p.txCount++] = row;
          n++;
        }
        if (n === 0) {
          countDrop(this, inPort, batch, row, DROP['flood-no-ports']);
        }
        else {
          this.forwarded++;
          // Remembered so that the same frame coming back by an uplink is seen as a loop's (loop-guard.ts).
          const guard = domain.loopGuard;
          if (guard !== null && !ctx.dryRun && guard.floodReachesUplink(inPort)) guard.noteFlooded(batch.pool.bytes, desc[d + D_OFF], desc[d + D_LEN], ctx.now, inPort);
        }
        if (tracer) {
          const names = members.filter((p) => p !== inPort && !(isolate && p.ownMac !== null)).map((p) => p.label);
          tracer.add(this.name, row, n === 0 ? 'drop flood-no-ports' : `flood to ${n} port${n === 1 ? '' : 's'}: ${names.join(', ')}`);
        }
      }
    }
  }
}
