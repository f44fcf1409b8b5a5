/**
 * Frame accounting for the fuzz suites: what the ports received, and the drops by reason, split into
 * drops on the way in (the frame never left) and on the way out (it had been forwarded already), so
 * that a test can check received = forwarded + dropped on the way in, exactly.
 */
import type { Port } from '../../../src/dataplane/port.js';

/** Drops counted on the way out (the frame had been forwarded already). */
const TX_SIDE = new Set(['tx-queue-full', 'tx-error', 'bad-gso']);

export function frameAccounting(ports: readonly Port[]): { rx: number; rxSideDrops: number; byReason: Record<string, number> } {
  const rx = ports.reduce((sum, p) => sum + p.counters.rxPackets, 0);
  let rxSideDrops = 0;
  const byReason: Record<string, number> = {};
  for (const p of ports) {
    for (const [reason, n] of Object.entries(p.counters.dropsByReason())) {
      byReason[reason] = (byReason[reason] ?? 0) + n;
      if (!TX_SIDE.has(reason)) rxSideDrops += n;
    }
  }
  return { rx, rxSideDrops, byReason };
}
