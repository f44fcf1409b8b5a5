/**
 * Capture annotations: the switch's decision for a frame, as the pcapng packet comment Wireshark shows
 * (`frame.comment`). Gathered after the stages ran, from what they left in the batch, never by running
 * the tracer per frame:
 *
 *   inbound   `fdb hit -> web2`, `flood 3 ports (broadcast)`, `flood 2 ports (unknown unicast)`,
 *             `drop spoofed-src-mac` (the stage's dropReason), `-> web1` (a stage before L2 decided),
 *             prefixed by a stage's note when one left it (`lb rr -> 10.0.0.12:8080; fdb hit -> web2`).
 *   outbound  `from web1` or `from web1 (flood)`.
 *
 * Costs one FDB lookup (a Map get) or one pass over the domain's members per annotated frame, and only
 * while an annotating capture is active.
 */
import type { Batch } from '../dataplane/batch.js';
import { DROP_REASONS } from '../dataplane/drop-reasons.js';
import { DESC_STRIDE, D_OFF, D_OUT, D_PORT, OUT_FLOOD } from '../dataplane/layout.js';
import { readMac } from '../packet/mac.js';

/** The decision for a received row, once the stages have run over it. */
export function inboundDecision(batch: Batch, row: number): string {
  const reason = batch.dropReason[row];
  const note = batch.notes?.[row];
  let decision: string;
  if (reason >= 0) {
    decision = `drop ${DROP_REASONS[reason] ?? `reason ${reason}`}`;
  } else {
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const out = desc[d + D_OUT];
    const inPort = batch.ports[desc[d + D_PORT]];
    const bytes = batch.pool.bytes;
    const off = desc[d + D_OFF];
    if (out >= 0) {
      const p = batch.ports[out];
      const hit = inPort?.domain?.fdb.lookup(readMac(bytes, off)) === p;
      decision = `${hit ? 'fdb hit ' : ''}-> ${p?.label ?? `port ${out}`}`;
    } else if (out === OUT_FLOOD && inPort?.domain) {
      const domain = inPort.domain;
      const isolate = !domain.icc && inPort.ownMac !== null;
      let n = 0;
      for (const p of domain.ports) if (p !== inPort && !(isolate && p.ownMac !== null)) n++;
      const dst = readMac(bytes, off);
      const kind = dst === 0xffffffffffff ? 'broadcast' : bytes[off] & 1 ? 'multicast' : 'unknown unicast';
      decision = `flood ${n} port${n === 1 ? '' : 's'} (${kind})`;
    } else {
      decision = 'drop'; // by a stage that recorded no reason
    }
  }
  return note ? `${note}; ${decision}` : decision;
}

/** The note for a frame leaving by some port. */
export function outboundNote(batch: Batch, row: number): string {
  const desc = batch.pool.desc;
  const d = row * DESC_STRIDE;
  const inPort = batch.ports[desc[d + D_PORT]];
  const from = `from ${inPort?.label ?? `port ${desc[d + D_PORT]}`}`;
  return desc[d + D_OUT] === OUT_FLOOD ? `${from} (flood)` : from;
}
