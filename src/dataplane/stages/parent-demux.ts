/**
 * ParentDemuxStage: the loop the two parent-network stages share (macvlan, ipvlan). The engine hands
 * the stage only its class's rows (graph.ts: frames of a parent network of its kind), whose next and
 * last stage is egress; the check below stays for a port id reused after its network went. The
 * subclass handles each frame as one from the parent (the uplink) or from a member, and answers KEEP
 * (decided in D_OUT, or queued: OUT_QUEUED) or a drop reason, which is counted here. Subclasses set `why` on drop paths only
 * while tracing, so no string is built per frame otherwise.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_OUT, D_PORT, OUT_NONE } from '../layout.js';
import type { ParentNetwork, ParentNetworks } from '../parent-networks.js';
import type { Port } from '../port.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';
import type { EgressStage } from './egress.js';

/** What a subclass made of one frame when it is not a drop reason. */
export const KEEP = -1;

export abstract class ParentDemuxStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  abstract readonly name: string;
  abstract readonly next: readonly string[];
  abstract readonly dropReasons: readonly DropReason[];
  /** The network kind this stage demultiplexes. */
  protected abstract readonly kind: ParentNetwork['kind'];
  /** The explanation of the last drop, for the tracer. */
  protected why = '';

  constructor(
    protected readonly nets: ParentNetworks,
    protected readonly egress: EgressStage,
  ) {}

  protected abstract fromParent(batch: Batch, row: number, net: ParentNetwork, uplink: Port): number;
  protected abstract fromMember(batch: Batch, row: number, net: ParentNetwork, member: Port): number;

  process(batch: Batch, _ctx: StageContext): void {
    if (this.nets.size === 0) return;
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const portId = desc[d + D_PORT];
      const net = this.nets.of(portId);
      const port = ports[portId]!;
      if (net === undefined || net.kind !== this.kind || port.domain !== net.domain || desc[d + D_OUT] !== OUT_NONE) {
        rows[w++] = row;
        continue;
      }
      const reason = port === net.uplink ? this.fromParent(batch, row, net, port) : this.fromMember(batch, row, net, port);
      if (reason === KEEP) {
        rows[w++] = row;
      } else {
        countDrop(this, port, batch, row, reason);
        if (tracer) tracer.add(this.name, row, `drop ${this.dropReasons.find((r) => DROP[r] === reason) ?? reason}: ${this.why}`);
      }
    }
    batch.count = w;
  }
}
