/**
 * The learning-bridge pipeline over in-memory ports: frames in, frames out, counters, no root.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { DESC_STRIDE, D_OUT, D_PORT, GSO_TCPV4, GSO_UDP, VNET_F_NEEDS_CSUM } from '../../../src/dataplane/layout.js';
import type { Stage } from '../../../src/dataplane/stage.js';
import type { StageGraph } from '../../../src/dataplane/graph.js';
import { CLASS_BRIDGE } from '../../../src/dataplane/batch.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame, prng } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const C = 0x02420a000004;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function topology(opts: { icc?: boolean; capacity?: number; trusted?: boolean } = {}) {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots: 64 });
  const net = sw.createDomain('net1', { icc: opts.icc, capacity: opts.capacity });
  const pa = new MemoryPort('a', { ownMac: A });
  const pb = new MemoryPort('b', { ownMac: B });
  const pc = new MemoryPort('c', opts.trusted ? {} : { ownMac: C });
  for (const p of [pa, pb, pc]) sw.addPort(p, net);
  return { sw, net, pa, pb, pc, clock };
}

describe('learning bridge', () => {
  it('delivers to a known MAC only, and floods broadcast to every port but the ingress one', () => {
    const { sw, pa, pb, pc } = topology();
    const bcast = ethFrame(BROADCAST, A, 0x0806);
    pa.inject(bcast);
    sw.drain();
    expect(pa.take()).toHaveLength(0);
    expect(pb.take().map((f) => hex(f.frame))).toEqual([hex(bcast)]);
    expect(pc.take().map((f) => hex(f.frame))).toEqual([hex(bcast)]);
    // Endpoint MACs are static entries: unicast to B goes to b alone.
    const uni = ethFrame(B, A);
    pa.inject(uni);
    sw.drain();
    expect(pb.take().map((f) => hex(f.frame))).toEqual([hex(uni)]);
    expect(pc.take()).toHaveLength(0);
  });

  it('floods unknown unicast, learns the source, then forwards the reply as unicast', () => {
    const { sw, net, pa, pb, pc } = topology({ trusted: true });
    const X = 0x0aaaaaaaaaa1; // behind the trusted port c (a gateway or an uplink)
    const toX = ethFrame(X, A);
    pa.inject(toX);
    sw.drain();
    expect(pb.take()).toHaveLength(1); // flooded: X unknown
    expect(pc.take()).toHaveLength(1);
    const fromX = ethFrame(A, X);
    pc.inject(fromX);
    sw.drain();
    expect(net.fdb.lookup(X)?.name).toBe('c');
    expect(pa.take().map((f) => hex(f.frame))).toEqual([hex(fromX)]);
    expect(pb.take()).toHaveLength(0);
    pa.inject(toX);
    sw.drain();
    expect(pc.take()).toHaveLength(1);
    expect(pb.take()).toHaveLength(0); // now unicast
  });

  it('keeps frames of one burst in order on each egress port', () => {
    const { sw, pa, pb } = topology();
    const frames = Array.from({ length: 40 }, (_, i) => ethFrame(B, A, 0x0800, Array.from({ length: 46 }, () => i)));
    for (const f of frames) pa.inject(f);
    sw.drain();
    expect(pb.take().map((f) => hex(f.frame))).toEqual(frames.map(hex));
  });

  it('drops a spoofed source MAC on a container port and counts it', () => {
    const { sw, pa, pb, pc } = topology();
    pa.inject(ethFrame(BROADCAST, 0x02420a0000ff));
    sw.drain();
    expect(pb.take()).toHaveLength(0);
    expect(pc.take()).toHaveLength(0);
    expect(pa.counters.dropCount('spoofed-src-mac')).toBe(1);
    expect(pa.counters.rxPackets).toBe(1);
  });

  it('drops runts, multicast and zero source MACs, and bad virtio-net headers, each with its reason', () => {
    const { sw, pa, pb, pc } = topology({ trusted: true });
    pc.inject(new Uint8Array(10));
    pc.inject(ethFrame(B, 0x010000000001));
    pc.inject(ethFrame(B, 0));
    pc.inject(ethFrame(B, 0x0a0000000001), { flags: 0, gsoType: GSO_UDP, hdrLen: 0, gsoSize: 1400, csumStart: 0, csumOffset: 0 });
    pc.inject(ethFrame(B, 0x0a0000000001), { flags: 0, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 0, csumStart: 34, csumOffset: 16 });
    pc.inject(ethFrame(B, 0x0a0000000001), { flags: VNET_F_NEEDS_CSUM, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 50, csumOffset: 16 });
    sw.drain();
    expect(pa.take()).toHaveLength(0);
    expect(pb.take()).toHaveLength(0);
    expect(pc.counters.dropsByReason()).toEqual({ runt: 1, 'bad-src-mac': 2, 'bad-vnet-hdr': 3 });
  });

  it('never throws on garbage: random lengths and bytes are forwarded or dropped by reason, all accounted for', () => {
    const { sw, pa, pb, pc } = topology({ trusted: true });
    const rnd = prng(42);
    let injected = 0;
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rnd() * 200);
      const f = new Uint8Array(len);
      for (let k = 0; k < len; k++) f[k] = Math.floor(rnd() * 256);
      pc.inject(f);
      injected++;
    }
    expect(() => sw.drain()).not.toThrow();
    const c = pc.counters;
    expect(c.rxPackets).toBe(injected);
    const out = pa.take().length + pb.take().length;
    // Every frame either left (once per port it went to) or was dropped with a named reason.
    expect(c.totalDrops()).toBeGreaterThan(0);
    expect(out).toBeGreaterThan(0);
    expect(sw.internalErrors).toBe(0);
  });

  it('drops a frame whose destination is behind its own ingress port', () => {
    const { sw, pa } = topology();
    pa.inject(ethFrame(A, A));
    sw.drain();
    expect(pa.counters.dropCount('same-port')).toBe(1);
  });

  it('with icc=false drops container-to-container frames but keeps container-to-gateway', () => {
    const { sw, pa, pb, pc } = topology({ icc: false, trusted: true });
    pa.inject(ethFrame(B, A));
    pa.inject(ethFrame(BROADCAST, A, 0x0806));
    sw.drain();
    expect(pb.take()).toHaveLength(0);
    expect(pc.take()).toHaveLength(1); // the broadcast reaches the gateway only
    expect(pa.counters.dropCount('icc-disabled')).toBe(1);
    pc.inject(ethFrame(A, 0x0a0000000001));
    sw.drain();
    expect(pa.take()).toHaveLength(1);
  });

  it('keeps two domains apart: a broadcast never crosses', () => {
    const sw = new SwitchEngine({ poolSlots: 16 });
    const n1 = sw.createDomain('n1');
    const n2 = sw.createDomain('n2');
    const p1 = new MemoryPort('p1');
    const p2 = new MemoryPort('p2');
    const q1 = new MemoryPort('q1');
    const q2 = new MemoryPort('q2');
    sw.addPort(p1, n1);
    sw.addPort(p2, n1);
    sw.addPort(q1, n2);
    sw.addPort(q2, n2);
    p1.inject(ethFrame(BROADCAST, A));
    q1.inject(ethFrame(BROADCAST, B));
    sw.drain();
    expect(p2.take().map((f) => f.frame[11])).toEqual([0x02]);
    expect(q2.take().map((f) => f.frame[11])).toEqual([0x03]);
    expect(n1.fdb.lookup(B)).toBeUndefined();
    expect(n2.fdb.lookup(A)).toBeUndefined();
  });

  it('ages learned entries on the clock, never static ones', () => {
    const { sw, net, pc, clock } = topology({ trusted: true });
    const X = 0x0a0000000009;
    pc.inject(ethFrame(A, X));
    sw.drain();
    expect(net.fdb.lookup(X)?.name).toBe('c');
    clock.advance(299);
    sw.periodic();
    expect(net.fdb.lookup(X)?.name).toBe('c');
    clock.advance(2);
    sw.periodic();
    expect(net.fdb.lookup(X)).toBeUndefined();
    expect(net.fdb.lookup(A)?.name).toBe('a');
    expect(net.fdb.counters().aged).toBe(1);
  });

  it('caps learning and counts refusals; refused MACs are flooded', () => {
    const { sw, net, pa, pb, pc } = topology({ trusted: true, capacity: 4 });
    for (let i = 1; i <= 10; i++) pc.inject(ethFrame(A, 0x0a0000000000 + i));
    sw.drain();
    expect(pa.take()).toHaveLength(10);
    expect(net.fdb.counters()).toMatchObject({ learned: 4, refusedFull: 6 });
    pa.inject(ethFrame(0x0a0000000000 + 10, A)); // refused: unknown, flooded
    sw.drain();
    expect(pb.take()).toHaveLength(1);
    expect(pc.take()).toHaveLength(1);
  });

  it('moves a learned MAC that shows up on another port', () => {
    const clock = new VirtualClock();
    const sw = new SwitchEngine({ clock, poolSlots: 16 });
    const net = sw.createDomain('n');
    const u1 = new MemoryPort('u1');
    const u2 = new MemoryPort('u2');
    sw.addPort(u1, net);
    sw.addPort(u2, net);
    const M = 0x0a00000000aa;
    u1.inject(ethFrame(BROADCAST, M));
    sw.drain();
    u2.inject(ethFrame(BROADCAST, M));
    sw.drain();
    expect(net.fdb.lookup(M)?.name).toBe('u2');
    expect(net.fdb.counters().moved).toBe(1);
  });

  it('counts rx and tx packets and bytes per port', () => {
    const { sw, pa, pb } = topology();
    const f = ethFrame(B, A);
    for (let i = 0; i < 3; i++) pa.inject(f);
    sw.drain();
    expect(pa.counters.toJSON()).toMatchObject({ rxPackets: 3, rxBytes: 3 * f.length, txPackets: 0 });
    expect(pb.counters.toJSON()).toMatchObject({ txPackets: 3, txBytes: 3 * f.length, rxPackets: 0 });
  });

  it('splits a burst larger than the pool across several bursts without losing frames', () => {
    const { sw, pa, pb } = topology();
    for (let i = 0; i < 500; i++) pa.inject(ethFrame(B, A));
    expect(sw.drain()).toBe(500);
    expect(pb.take()).toHaveLength(500);
    expect(sw.bursts).toBeGreaterThan(1);
  });

  it('removing a port flushes its FDB entries and stops delivery to it', () => {
    const { sw, net, pa, pb, pc } = topology();
    sw.removePort(pb);
    expect(net.fdb.lookup(B)).toBeUndefined();
    pa.inject(ethFrame(BROADCAST, A));
    sw.drain();
    expect(pb.take()).toHaveLength(0);
    expect(pc.take()).toHaveLength(1);
  });
});

describe('trace', () => {
  it('explains each stage for a unicast hit and changes no state', () => {
    const { sw, net, pa } = topology();
    const before = { fdb: net.fdb.size, drops: pa.counters.totalDrops(), rx: pa.counters.rxPackets };
    const t = sw.trace(pa, ethFrame(B, A));
    expect(t.records.map((r) => r.stage)).toEqual(['ingress', 'l2-learn', 'l2-fwd', 'egress']);
    expect(t.records[2].decision).toBe('fdb hit 02:42:0a:00:00:03 -> b');
    expect(t.outputs).toEqual(['b']);
    expect({ fdb: net.fdb.size, drops: pa.counters.totalDrops(), rx: pa.counters.rxPackets }).toEqual(before);
  });

  it('explains a drop and a flood', () => {
    const { sw, pa, pb } = topology();
    const spoof = sw.trace(pa, ethFrame(B, C));
    expect(spoof.dropped).toBe(true);
    expect(spoof.records).toHaveLength(1);
    expect(spoof.records[0].decision).toMatch(/^drop spoofed-src-mac: source 02:42:0a:00:00:04 is not the port's 02:42:0a:00:00:02/);
    expect(pa.counters.dropCount('spoofed-src-mac')).toBe(0);
    const flood = sw.trace(pb, ethFrame(BROADCAST, B, 0x0806));
    expect(flood.outputs).toEqual(['a', 'c']);
    expect(flood.records.at(-1)?.decision).toBe('flood to 2 ports: a, c');
    expect(pa.take()).toHaveLength(0); // nothing was sent
  });
});

describe('decisions made before L2', () => {
  it('leaves a frame an earlier stage decided alone: not learned, not looked up', () => {
    const { sw, net, pa, pb, pc } = topology({ trusted: true });
    // Stand-in for an ARP responder or LB stage: it sends every frame back out of its ingress port.
    // Scheduled first for bridge frames, before uplink-loop, l2-learn and l2-fwd.
    const schedule = (sw as unknown as { graph: StageGraph }).graph.schedule;
    schedule.unshift({ classes: [CLASS_BRIDGE], stage: {
      name: 'answer',
      next: ['l2-learn'],
      dropReasons: [],
      drops: new Float64Array(0),
      process(batch) {
        const desc = batch.pool.desc;
        for (let i = 0; i < batch.count; i++) {
          const d = batch.rows[i] * DESC_STRIDE;
          desc[d + D_OUT] = desc[d + D_PORT];
        }
      },
    } satisfies Stage });
    const X = 0x0a00000000bb;
    pc.inject(ethFrame(A, X));
    sw.drain();
    expect(pc.take()).toHaveLength(1); // back where it came from, despite the FDB saying A is on a
    expect(pa.take()).toHaveLength(0);
    expect(pb.take()).toHaveLength(0);
    expect(net.fdb.lookup(X)).toBeUndefined();
    expect(pc.counters.dropCount('same-port')).toBe(0);
  });
});

describe('IP port security', () => {
  function ipv4Frame(dst: number, src: number, srcIp: number[]): Uint8Array {
    const payload = [0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, ...srcIp, 10, 0, 0, 3, 0, 1, 0, 2, 0, 8, 0, 0];
    return ethFrame(dst, src, 0x0800, payload);
  }
  function arpFrame(src: number, senderIp: number[]): Uint8Array {
    return ethFrame(BROADCAST, src, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, 2, 0x42, 10, 0, 0, 2, ...senderIp, 0, 0, 0, 0, 0, 0, 10, 0, 0, 3]);
  }

  /** Port a with port_security=ip (10.0.0.2), port b with MAC security only, on one network. */
  function ipSecuredPair() {
    const sw = new SwitchEngine({ poolSlots: 16 });
    const net = sw.createDomain('n');
    const a = new MemoryPort('a', { ownMac: A, ownIp: 0x0a000002 });
    const b = new MemoryPort('b', { ownMac: B });
    sw.addPort(a, net);
    sw.addPort(b, net);
    return { sw, a, b };
  }

  it('drops IPv4 and ARP from an address that is not the port’s own, allows 0.0.0.0', () => {
    const { sw, a, b } = ipSecuredPair();
    a.inject(ipv4Frame(B, A, [10, 0, 0, 2])); // own address: passes
    a.inject(ipv4Frame(B, A, [10, 0, 0, 99])); // someone else's: dropped
    a.inject(arpFrame(A, [10, 0, 0, 99])); // ARP claiming someone else's: dropped
    a.inject(arpFrame(A, [0, 0, 0, 0])); // ARP probe (RFC 5227): passes
    sw.drain();
    expect(b.take()).toHaveLength(2);
    expect(a.counters.dropCount('spoofed-src-ip')).toBe(2);
    const t = sw.trace(a, ipv4Frame(B, A, [10, 0, 0, 99]));
    expect(t.records[0].decision).toBe("drop spoofed-src-ip: source 10.0.0.99 is not the port's 10.0.0.2");
  });

  it('drops IPv4 and ARP too short to check (a NIC pads them whole onto the LAN) and ARP announcing another MAC', () => {
    const { sw, a, b } = ipSecuredPair();
    // The review's frames: an ARP of 41 bytes and an IPv4 of 33, each with a spoofed sender whole.
    const shortArp = arpFrame(A, [10, 0, 0, 1]).subarray(0, 41);
    const shortIp = ipv4Frame(B, A, [10, 0, 0, 1]).subarray(0, 33);
    a.inject(shortArp);
    a.inject(shortIp);
    // A full ARP for its own address, but naming B's MAC as the sender's hardware address.
    const otherMac = arpFrame(A, [10, 0, 0, 2]);
    otherMac.set([0x02, 0x42, 0x0a, 0, 0, 0x03], 22);
    a.inject(otherMac);
    a.inject(arpFrame(A, [10, 0, 0, 2])); // its own: passes
    sw.drain();
    expect(b.take()).toHaveLength(1);
    expect(a.counters.dropCount('runt')).toBe(2);
    expect(a.counters.dropCount('spoofed-src-ip')).toBe(1);
    expect(sw.trace(a, shortArp).records[0].decision).toBe('drop runt: ARP in 41 bytes: shorter than an Ethernet ARP (42), its sender cannot be checked');
    expect(sw.trace(a, otherMac).records[0].decision).toBe("drop spoofed-src-ip: ARP sender 02:42:0a:00:00:03 is not the port's 02:42:0a:00:00:02");
    // A port without an own IP (port_security=mac) is not held to these: the short ARP passes there.
    b.inject(arpFrame(B, [10, 0, 0, 1]).subarray(0, 41));
    sw.drain();
    expect(a.take()).toHaveLength(1);
  });
});
