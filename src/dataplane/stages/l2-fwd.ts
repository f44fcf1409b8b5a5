/**
 * l2-fwd: the forwarding decision. Broadcast and multicast destinations, and unicast ones the FDB does
 * not know, are flooded (D_OUT = OUT_FLOOD); a known unicast goes to its port (D_OUT = port id). A
 * destination that lives on the ingress port itself is dropped (`same-port`: the Linux bridge without
 * hairpin mode does the same). With icc=false, container-to-container unicast is dropped
 * (`icc-disabled`); the egress stage keeps floods away from other containers too.
 *
 * A frame whose D_OUT an earlier stage already set (a port id, OUT_FLOOD) is left as decided.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_OFF, D_OUT, D_PORT, OUT_FLOOD, OUT_NONE } from '../layout.js';
import { formatMac, readMac } from '../../packet/mac.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';

export class L2ForwardStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'l2-fwd';
  readonly next = ['overlay-mtu', 'egress'] as const;
  readonly dropReasons: readonly DropReason[] = ['same-port', 'icc-disabled'];

  process(batch: Batch, _ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      if (desc[d + D_OUT] !== OUT_NONE) {
        rows[w++] = row;
        continue;
      }
      const off = desc[d + D_OFF];
      const inPort = ports[desc[d + D_PORT]]!;
      if (bytes[off] & 1) {
        desc[d + D_OUT] = OUT_FLOOD;
        if (tracer) tracer.add(this.name, row, `flood: ${readMac(bytes, off) === 0xffffffffffff ? 'broadcast' : 'multicast'} ${formatMac(readMac(bytes, off))}`);
        rows[w++] = row;
        continue;
      }
      const dst = readMac(bytes, off);
      const out = inPort.domain!.fdb.lookup(dst);
      if (out === undefined) {
        desc[d + D_OUT] = OUT_FLOOD;
        if (tracer) tracer.add(this.name, row, `flood: fdb miss ${formatMac(dst)} (unknown unicast)`);
        rows[w++] = row;
      } else if (out === inPort) {
        countDrop(this, inPort, batch, row, DROP['same-port']);
        if (tracer) tracer.add(this.name, row, `drop same-port: ${formatMac(dst)} is behind the ingress port ${inPort.label}`);
      } else if (!inPort.domain!.icc && inPort.ownMac !== null && out.ownMac !== null) {
        countDrop(this, inPort, batch, row, DROP['icc-disabled']);
        if (tracer) tracer.add(this.name, row, `drop icc-disabled: ${inPort.label} -> ${out.label} is container to container`);
      } else {
        desc[d + D_OUT] = out.id;
        if (tracer) tracer.add(this.name, row, `fdb hit ${formatMac(dst)} -> ${out.label}`);
        rows[w++] = row;
      }
    }
    batch.count = w;
  }
}
