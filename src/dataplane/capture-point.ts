/**
 * CapturePoint: where packet captures (src/capture/) hook into the burst loop. The engine holds one
 * (or null: then capture costs a null check per burst, nothing per frame) and calls it twice a burst:
 *
 *   received  after the ports' receive, before any stage: rows 0..n-1 hold the frames exactly as they
 *             arrived (inbound capture point). A capture copies what it wants here, since later stages
 *             may rewrite frames in place.
 *   decided   after the stages, before transmit: every surviving row has its D_OUT, every dropped row
 *             its `batch.dropReason`, and each touched port its transmit queue (outbound capture point,
 *             frames as they will leave; annotations for the inbound copies).
 *
 * `portsChanged` follows ports joining and leaving, so a capture of a whole network picks up a
 * container that connects while it runs.
 */
import type { Batch } from './batch.js';
import type { Port } from './port.js';

export interface CapturePoint {
  received(batch: Batch, n: number): void;
  decided(batch: Batch, n: number, touched: readonly Port[]): void;
  portsChanged(): void;
}
