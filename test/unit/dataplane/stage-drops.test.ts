/**
 * Per-stage drop counters (#16 item 1): every drop a stage decides is counted on the stage as well as on
 * the ingress port, under one of the reasons the stage declares. Over in-memory ports, no root.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { DROP_REASONS } from '../../../src/dataplane/drop-reasons.js';
import type { StageGraph } from '../../../src/dataplane/graph.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame, prng } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const C = 0x02420a000004;

function topology(icc = true) {
  const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
  const net = sw.createDomain('net1', { icc });
  const pa = new MemoryPort('a', { ownMac: A });
  const pb = new MemoryPort('b', { ownMac: B });
  const pc = new MemoryPort('c', {}); // trusted: a gateway
  for (const p of [pa, pb, pc]) sw.addPort(p, net);
  return { sw, pa, pb, pc };
}

const stagesOf = (sw: SwitchEngine) => (sw as unknown as { graph: StageGraph }).graph.stages;

describe('per-stage drop counters', () => {
  it('name the stage that decided each drop, next to the port counters', () => {
    const { sw, pa, pc } = topology(false);
    pc.inject(new Uint8Array(10)); // ingress: runt
    pc.inject(ethFrame(B, 0x010000000001)); // ingress: multicast source
    pa.inject(ethFrame(A, A)); // l2-fwd: A lives on a
    pa.inject(ethFrame(B, A)); // l2-fwd: container to container with icc=false
    sw.drain();
    const lone = sw.createDomain('net2', {});
    const pd = new MemoryPort('d', { ownMac: C });
    sw.addPort(pd, lone);
    pd.inject(ethFrame(BROADCAST, C, 0x0806)); // egress: nobody else to flood to
    sw.drain();
    const drops = sw.stageDrops();
    expect(drops.ingress).toEqual({ runt: 1, 'bad-src-mac': 1 });
    expect(drops['l2-fwd']).toEqual({ 'same-port': 1, 'icc-disabled': 1 });
    expect(drops.egress).toEqual({ 'flood-no-ports': 1 });
    for (const name of ['vxlan-decap', 'lb', 'uplink-loop', 'l2-learn', 'arp-suppress', 'overlay-mtu', 'macvlan', 'ipvlan']) expect(drops[name], name).toEqual({});
    expect(pc.counters.dropsByReason()).toEqual({ runt: 1, 'bad-src-mac': 1 });
    expect(pa.counters.dropsByReason()).toEqual({ 'same-port': 1, 'icc-disabled': 1 });
    expect(pd.counters.dropsByReason()).toEqual({ 'flood-no-ports': 1 });
  });

  it('over random garbage: each stage counts only reasons it declares, and stages and ports agree reason by reason', () => {
    const { sw, pa, pb, pc } = topology();
    const rnd = prng(7);
    for (let i = 0; i < 3000; i++) {
      const f = new Uint8Array(Math.floor(rnd() * 200));
      for (let k = 0; k < f.length; k++) f[k] = Math.floor(rnd() * 256);
      [pa, pb, pc][i % 3].inject(f);
    }
    sw.drain();
    expect(sw.internalErrors).toBe(0);
    const drops = sw.stageDrops();
    const byStage = new Map<string, number>();
    for (const st of stagesOf(sw)) {
      const counted = Object.keys(drops[st.name] ?? {});
      for (const r of counted) expect(st.dropReasons, `${st.name} counted ${r}`).toContain(r);
      for (const [r, n] of Object.entries(drops[st.name] ?? {})) byStage.set(r, (byStage.get(r) ?? 0) + n!);
    }
    const byPort = new Map<string, number>();
    for (const p of [pa, pb, pc]) for (const [r, n] of Object.entries(p.counters.dropsByReason())) byPort.set(r, (byPort.get(r) ?? 0) + n);
    expect(byStage.size).toBeGreaterThan(1); // the garbage did reach several reasons
    for (const r of DROP_REASONS) expect(byStage.get(r) ?? 0, r).toBe(byPort.get(r) ?? 0);
  });
});
