/**
 * `stats`: per port rx/tx and drops by reason (the ports' counters, src/dataplane/counters.ts), per
 * network the sums and the FDB's counters, the VTEP sockets', the engine's, and running captures'.
 */
import { CaptureHub } from '../../capture/capture-hub.js';
import type { SwitchEngine } from '../../dataplane/switch-engine.js';
import { readinessHub } from '../../dataplane/readiness-hub.js';
import type { NetworkRuntime } from '../drivers/network-driver.js';
import type { PortOwner } from './port-owners.js';

/** `driverSections`: each driver's own sections (NetworkDriver.stats: the overlay's `vteps`). */
export function statsReport(engine: SwitchEngine, networks: readonly NetworkRuntime[], owners: Map<number, PortOwner>, driverSections: Record<string, unknown>) {
  const ports = [];
  for (const rt of networks) {
    for (const p of rt.domain?.ports ?? []) {
      const o = owners.get(p.id);
      ports.push({ network: rt.record.name, port: o?.name ?? p.name, endpoint: o?.endpoint ?? null, ...p.counters.toJSON() });
    }
  }
  const nets = networks.map((rt) => {
    const sum = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: {} as Record<string, number> };
    for (const p of rt.domain?.ports ?? []) {
      const c = p.counters;
      sum.rxPackets += c.rxPackets;
      sum.rxBytes += c.rxBytes;
      sum.txPackets += c.txPackets;
      sum.txBytes += c.txBytes;
      for (const [k, v] of Object.entries(c.dropsByReason())) sum.drops[k] = (sum.drops[k] ?? 0) + v;
    }
    return { network: rt.record.name, ...sum, fdb: rt.domain?.fdb.counters() ?? null };
  });
  // Running captures: frames they wrote and dropped (capture-dropped: the writer was behind).
  const captures = CaptureHub.for(engine).list().map((c) => c.summary());
  return { ports, networks: nets, ...driverSections, engine: { bursts: engine.bursts, internalErrors: engine.internalErrors, stageDrops: engine.stageDrops(), busyPoll: readinessHub.busyPollStats() }, captures };
}
