/**
 * The decision model: a frame is classified once after ingress and runs only its class's stages
 * (graph.ts CLASS_STAGES). Each stage's process() is wrapped to record the rows it was given.
 */
import { describe, expect, it } from 'vitest';
import { CLASS_STAGES, buildGraph, type StageGraph } from '../../../src/dataplane/graph.js';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { DESC_STRIDE, D_OFF } from '../../../src/dataplane/layout.js';
import { addParentMember, createParentNetwork } from '../../../src/dataplane/parent-network-setup.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const M1 = 0x02420b000002;
const M2 = 0x02420b000003;

/** Per stage name, the source MACs' low bytes of the frames it was handed. */
function spy(sw: SwitchEngine): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  const graph = (sw as unknown as { graph: StageGraph }).graph;
  for (const { stage } of graph.schedule) {
    const real = stage.process.bind(stage);
    seen.set(stage.name, []);
    stage.process = (batch, ctx) => {
      for (let i = 0; i < batch.count; i++) seen.get(stage.name)!.push(batch.pool.bytes[batch.pool.desc[batch.rows[i] * DESC_STRIDE + D_OFF] + 11]);
      real(batch, ctx);
    };
  }
  return seen;
}

describe('frame classes', () => {
  it('every class list ends in egress and keeps the one stage order', () => {
    const g = buildGraph();
    const order = g.stages.map((s) => s.name);
    for (const [cls, list] of Object.entries(CLASS_STAGES)) {
      expect(list[list.length - 1], cls).toBe('egress');
      const at = list.map((n) => order.indexOf(n));
      expect(at.every((x) => x >= 0), cls).toBe(true);
      expect([...at].sort((x, y) => x - y), cls).toEqual(at);
    }
    expect(g.prefix.map((s) => s.name)).toEqual(['vxlan-decap', 'ingress']);
    const macvlan = g.schedule.find((s) => s.stage.name === 'macvlan')!;
    expect(macvlan.classes).toEqual([2]);
    expect(g.schedule.find((s) => s.stage.name === 'egress')).toBeUndefined();
  });

  it('a bridge frame never enters the parent, overlay or ARP-suppression loops; a macvlan frame only macvlan', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const br = sw.createDomain('br');
    const a = new MemoryPort('a', { ownMac: A });
    const b = new MemoryPort('b', { ownMac: B });
    sw.addPort(a, br);
    sw.addPort(b, br);
    const up = new MemoryPort('p0');
    const net = createParentNetwork(sw, 'mv', up, { kind: 'macvlan', mode: 'bridge', parentMac: 0x0a0000000001 });
    const m1 = new MemoryPort('m1', { ownMac: M1 });
    const m2 = new MemoryPort('m2', { ownMac: M2 });
    addParentMember(sw, net, m1, { mac: M1 });
    addParentMember(sw, net, m2, { mac: M2 });
    const seen = spy(sw);
    a.inject(ethFrame(B, A));
    m1.inject(ethFrame(M2, M1));
    a.inject(ethFrame(BROADCAST, A));
    sw.poll();
    expect(seen.get('macvlan')).toEqual([0x02]); // m1's frame only (low byte of M1)
    expect(seen.get('ipvlan')).toEqual([]);
    expect(seen.get('arp-suppress')).toEqual([]);
    expect(seen.get('overlay-mtu')).toEqual([]);
    expect(seen.get('l2-learn')).toEqual([0x02, 0x02]); // a's two frames, not m1's
    expect(seen.get('l2-fwd')).toEqual([0x02, 0x02]);
    expect(b.take().map((f) => f.frame[0])).toEqual([0x02, 0xff]); // in arrival order
    expect(m2.take()).toHaveLength(1);
    expect(up.take()).toHaveLength(0);
  });

  it('keeps a port\'s arrival order on output, unicast and floods mixed', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const br = sw.createDomain('br');
    const a = new MemoryPort('a', { ownMac: A });
    const b = new MemoryPort('b', { ownMac: B });
    sw.addPort(a, br);
    sw.addPort(b, br);
    for (let k = 0; k < 5; k++) a.inject(ethFrame(B, A, 0x0800, [k]));
    a.inject(ethFrame(BROADCAST, A, 0x0800, [5]));
    a.inject(ethFrame(B, A, 0x0800, [6]));
    sw.poll();
    expect(b.take().map((f) => f.frame[14])).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
