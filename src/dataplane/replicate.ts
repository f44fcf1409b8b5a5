/**
 * Replication to an explicit set of ports, for stages whose multi-destination rule is neither "one port"
 * (D_OUT = id) nor "every other port of the domain" (OUT_FLOOD): a macvlan VEPA broadcast reflected by
 * the LAN goes to every child but its sender, a private-mode child's broadcast to the parent and the
 * host shim only. The row is put on each port's transmit queue here, exactly as egress would, and
 * marked OUT_QUEUED so egress leaves it alone; the frame itself is not copied (every queue names the
 * same slot, and transmit never changes a frame).
 */
import type { Batch } from './batch.js';
import { DESC_STRIDE, D_OUT, OUT_QUEUED } from './layout.js';
import type { Port } from './port.js';
import type { EgressStage } from './stages/egress.js';

/**
 * Queue `row` on every port of `ports` except `except`; returns how many. With none, D_OUT is left as
 * it was (the caller drops the row with its own reason).
 */
export function replicateToPorts(egress: EgressStage, batch: Batch, row: number, ports: readonly Port[], except: Port | null): number {
  const touched = egress.touched;
  let n = 0;
  for (let k = 0; k < ports.length; k++) {
    const p = ports[k];
    if (p === except || p.id < 0) continue;
    if (p.txCount === 0) touched.push(p);
    p.txQueue[p.txCount++] = row;
    n++;
  }
  if (n > 0) {
    batch.pool.desc[row * DESC_STRIDE + D_OUT] = OUT_QUEUED;
    egress.forwarded++;
  }
  return n;
}
