/**
 * macvlan MAC demux over in-memory ports: a parent (uplink) port, container ports and a host shim, per
 * mode; frames in, frames out, drop counters. No root.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { addParentMember, createParentNetwork, removeParentMember } from '../../../src/dataplane/parent-network-setup.js';
import type { MacvlanMode } from '../../../src/dataplane/parent-networks.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame } from '../../helpers/frames.js';

const PARENT = 0x0a0000000001;
const LAN_HOST = 0x0a00000000aa;
const A = 0x02420a000002;
const B = 0x02420a000003;
const C = 0x02420a000004;
const SHIM = 0x02420a0000fe;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function topology(mode: MacvlanMode, opts: { shim?: boolean; children?: number } = {}) {
  const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
  const up = new MemoryPort('p0');
  const net = createParentNetwork(sw, 'mv', up, { kind: 'macvlan', mode, parentMac: PARENT });
  const macs = [A, B, C].slice(0, opts.children ?? 3);
  const kids = macs.map((mac, i) => {
    const p = new MemoryPort(`c${i + 1}`, { ownMac: mac });
    addParentMember(sw, net, p, { mac });
    return p;
  });
  let shim: MemoryPort | null = null;
  if (opts.shim) {
    shim = new MemoryPort('shim', { ownMac: SHIM });
    addParentMember(sw, net, shim, { mac: SHIM, shim: true });
  }
  const all = [up, ...kids, ...(shim ? [shim] : [])];
  /** Frames each port sent, as hex, and the queues emptied. */
  const out = () => Object.fromEntries(all.map((p) => [p.name, p.take().map((f) => hex(f.frame))]));
  return { sw, net, up, kids, shim, out };
}

describe('macvlan demux, mode bridge', () => {
  it('delivers LAN unicast by destination MAC, floods LAN broadcast to every member, drops what is for nobody', () => {
    const { sw, up, out } = topology('bridge', { shim: true });
    const toB = ethFrame(B, LAN_HOST);
    up.inject(toB);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [], c2: [hex(toB)], c3: [], shim: [] });

    const bcast = ethFrame(BROADCAST, LAN_HOST, 0x0806);
    up.inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(bcast)], c2: [hex(bcast)], c3: [hex(bcast)], shim: [hex(bcast)] });

    up.inject(ethFrame(0x0a00000000bb, LAN_HOST)); // another LAN host's traffic
    up.inject(ethFrame(PARENT, LAN_HOST)); // the host's own: never ours
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.dropCount('uplink-no-member')).toBe(2);
  });

  it('switches child to child locally, sends the rest to the parent, floods a child broadcast to all others', () => {
    const { sw, kids, up, out } = topology('bridge', { shim: true });
    const aToB = ethFrame(B, A);
    const aToLan = ethFrame(LAN_HOST, A);
    const aToShim = ethFrame(SHIM, A);
    kids[0].inject(aToB);
    kids[0].inject(aToLan);
    kids[0].inject(aToShim);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(aToLan)], c1: [], c2: [hex(aToB)], c3: [], shim: [hex(aToShim)] });
    const bcast = ethFrame(BROADCAST, A, 0x0806);
    kids[0].inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(bcast)], c1: [], c2: [hex(bcast)], c3: [hex(bcast)], shim: [hex(bcast)] });
    // The same broadcast coming back from the LAN (a hairpinning switch) was delivered already.
    up.inject(bcast);
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.dropCount('macvlan-reflected')).toBe(1);
  });

  it('drops a child frame with a MAC not its own (port security) and a frame to its own MAC', () => {
    const { sw, kids, out } = topology('bridge');
    kids[0].inject(ethFrame(LAN_HOST, B));
    kids[0].inject(ethFrame(A, A));
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(kids[0].counters.dropCount('spoofed-src-mac')).toBe(1);
    expect(kids[0].counters.dropCount('same-port')).toBe(1);
  });
});

describe('macvlan demux, mode private', () => {
  it('drops child to child, directly and hairpinned back through the parent; the shim still reaches everyone', () => {
    const { sw, kids, up, shim, out } = topology('private', { shim: true });
    kids[0].inject(ethFrame(B, A));
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(kids[0].counters.dropCount('macvlan-private')).toBe(1);

    up.inject(ethFrame(B, A)); // A -> B reflected by the LAN
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.dropCount('macvlan-private')).toBe(1);

    const aToShim = ethFrame(SHIM, A);
    const shimToB = ethFrame(B, SHIM);
    kids[0].inject(aToShim);
    shim!.inject(shimToB);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [], c2: [hex(shimToB)], c3: [], shim: [hex(aToShim)] });
  });

  it('sends a child broadcast to the parent and the shim only; a reflected one goes nowhere', () => {
    const { sw, kids, up, out } = topology('private', { shim: true });
    const bcast = ethFrame(BROADCAST, A, 0x0806);
    kids[0].inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(bcast)], c1: [], c2: [], c3: [], shim: [hex(bcast)] });
    up.inject(bcast);
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.dropCount('macvlan-private')).toBe(1);
  });

  it('without a shim, a child broadcast leaves by the parent alone', () => {
    const { sw, kids, out } = topology('private');
    const bcast = ethFrame(BROADCAST, A, 0x0806);
    kids[0].inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(bcast)], c1: [], c2: [], c3: [] });
  });
});

describe('macvlan demux, mode vepa', () => {
  it('sends child to child out by the parent and delivers it when the LAN hairpins it back', () => {
    const { sw, kids, up, out } = topology('vepa');
    const aToB = ethFrame(B, A);
    kids[0].inject(aToB);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(aToB)], c1: [], c2: [], c3: [] });
    up.inject(aToB);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [], c2: [hex(aToB)], c3: [] });
  });

  it('sends a child broadcast out only, and a reflected one to every child but its sender (not the shim)', () => {
    const { sw, kids, up, out } = topology('vepa', { shim: true });
    const bcast = ethFrame(BROADCAST, A, 0x0806);
    kids[0].inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(bcast)], c1: [], c2: [], c3: [], shim: [hex(bcast)] });
    up.inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [], c2: [hex(bcast)], c3: [hex(bcast)], shim: [] });
    expect(sw.framesForwarded).toBe(2);
  });
});

describe('macvlan demux, mode passthru', () => {
  it('gives the one child every frame of the parent, whatever its destination, and sends all of its frames out', () => {
    const { sw, kids, up, out } = topology('passthru', { children: 1 });
    const toAnyone = ethFrame(0x0a00000000bb, LAN_HOST);
    const bcast = ethFrame(BROADCAST, LAN_HOST, 0x0806);
    up.inject(toAnyone);
    up.inject(bcast);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(toAnyone), hex(bcast)] });
    const fromChild = ethFrame(LAN_HOST, A);
    const childBcast = ethFrame(BROADCAST, A);
    kids[0].inject(fromChild);
    kids[0].inject(childBcast);
    sw.drain();
    expect(out()).toEqual({ p0: [hex(fromChild), hex(childBcast)], c1: [] });
  });

  it('drops what the parent receives while no child is connected', () => {
    const { sw, net, kids, up, out } = topology('passthru', { children: 1 });
    removeParentMember(sw, net, kids[0]);
    up.inject(ethFrame(A, LAN_HOST));
    sw.drain();
    expect(out().p0).toEqual([]);
    expect(up.counters.dropCount('uplink-no-member')).toBe(1);
  });
});

describe('macvlan demux beside other networks', () => {
  it('leaves a bridge network of the same switch to the learning bridge', () => {
    const { sw, up, out } = topology('bridge');
    const br = sw.createDomain('br');
    const x = new MemoryPort('x', { ownMac: 0x02420b000002 });
    const y = new MemoryPort('y', { ownMac: 0x02420b000003 });
    sw.addPort(x, br);
    sw.addPort(y, br);
    const unknown = ethFrame(0x02420b0000ff, 0x02420b000002);
    x.inject(unknown);
    sw.drain();
    expect(y.take().map((f) => hex(f.frame))).toEqual([hex(unknown)]); // flooded by l2-fwd, as ever
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.totalDrops()).toBe(0);
  });

  it('says what it decided in a trace', () => {
    const { sw, kids } = topology('private');
    const t = sw.trace(kids[0], ethFrame(B, A));
    expect(t.dropped).toBe(true);
    expect(t.records.map((r) => `${r.stage}: ${r.decision}`).join('\n')).toMatch(/macvlan: drop macvlan-private: c1 -> c2 is container to container \(mode private\)/);
    const t2 = sw.trace(kids[0], ethFrame(LAN_HOST, A));
    expect(t2.outputs).toEqual(['p0']);
  });

  it('forgets a member that leaves: its MAC is nobody\'s afterwards', () => {
    const { sw, net, kids, up, out } = topology('bridge');
    removeParentMember(sw, net, kids[1]);
    up.inject(ethFrame(B, LAN_HOST));
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(up.counters.dropCount('uplink-no-member')).toBe(1);
    expect(net.byMac.has(B)).toBe(false);
    expect(net.children.map((p) => p.name)).toEqual(['c1', 'c3']);
  });
});
