/**
 * Loop detection on bridge uplinks (loop-guard.ts, stages/uplink-loop.ts) over in-memory ports: two
 * containers and two uplinks, with "cables" the test plays by hand (what leaves one uplink is injected
 * into the other, or back into the same one as a hairpinning LAN switch would).
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { LOOP_BLOCK_DROPS, LOOP_HOLD_S, LoopGuard, STORM_REPEATS, loopFrameHash } from '../../../src/dataplane/loop-guard.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const X = 0x0aaaaaaaaa01; // a host on the LAN
const Y = 0x0aaaaaaaaa02; // another

function topology(opts: { guard?: boolean; uplinks?: number } = {}) {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots: 64 });
  const net = sw.createDomain('lanbr');
  const pa = new MemoryPort('a', { ownMac: A });
  const pb = new MemoryPort('b', { ownMac: B });
  const ups = Array.from({ length: opts.uplinks ?? 2 }, (_, i) => new MemoryPort(`u${i + 1}`));
  for (const p of [pa, pb, ...ups]) sw.addPort(p, net);
  if (opts.guard ?? true) {
    net.loopGuard = new LoopGuard();
    for (const u of ups) net.loopGuard.addUplink(u);
  }
  return { sw, net, pa, pb, ups, clock };
}

/** Carry what left `from` into `to` (a cable), `rounds` times; returns how many frames crossed. */
function cable(sw: SwitchEngine, pairs: [MemoryPort, MemoryPort][], rounds: number): number {
  let crossed = 0;
  for (let r = 0; r < rounds; r++) {
    const moving = pairs.map(([from, to]) => [from.take(), to] as const);
    for (const [frames, to] of moving) for (const f of frames) to.inject(f.frame, f.vnet);
    crossed += moving.reduce((n, [frames]) => n + frames.length, 0);
    sw.drain();
  }
  return crossed;
}

const arp = (src: number, tail: number) => ethFrame(BROADCAST, src, 0x0806, Array.from({ length: 28 }, (_, i) => (i * 7 + tail) & 0xff));

describe('loop detection on bridge uplinks', () => {
  it('two uplinks cabled to each other: a container broadcast comes back once on each and stops there', () => {
    const { sw, net, pa, pb, ups } = topology();
    const [u1, u2] = ups;
    pa.inject(arp(A, 1));
    sw.drain();
    expect(pb.take()).toHaveLength(1);
    // u1's copy reaches u2 and u2's reaches u1: both are dropped; nothing crosses after that.
    const crossed = cable(sw, [[u1, u2], [u2, u1]], 5);
    expect(crossed).toBe(2);
    expect(u1.counters.dropCount('uplink-loop') + u2.counters.dropCount('uplink-loop')).toBe(2);
    expect(pb.take()).toHaveLength(0); // b saw the broadcast once
    expect(pa.take()).toHaveLength(0); // and a never got its own back
    expect(net.fdb.lookup(A)).toBe(pa); // A did not move onto an uplink
  });

  it('without the guard the same cabling is a storm (the case the guard exists for)', () => {
    const { sw, net, pa, pb, ups } = topology({ guard: false });
    const [u1, u2] = ups;
    pa.inject(arp(A, 1));
    sw.drain();
    pb.take();
    expect(cable(sw, [[u1, u2], [u2, u1]], 5)).toBe(10); // two copies circulate for ever
    expect(pb.take().length).toBeGreaterThanOrEqual(8);
    expect(net.fdb.moved).toBe(0); // (A is a static entry: a storm cannot move it, only repeat it)
  });

  it('a hairpinning LAN switch: a container broadcast reflected by the uplink is dropped, and the LAN still reaches the container', () => {
    const { sw, net, pa, ups } = topology({ uplinks: 1 });
    const [u1] = ups;
    pa.inject(arp(A, 2));
    sw.drain();
    cable(sw, [[u1, u1]], 3);
    expect(u1.counters.dropCount('uplink-loop')).toBe(1);
    expect(net.fdb.lookup(A)).toBe(pa);
    const reply = ethFrame(A, X, 0x0806, Array.from({ length: 28 }, () => 3));
    u1.inject(reply);
    sw.drain();
    expect(pa.take().map((f) => Buffer.from(f.frame).toString('hex'))).toEqual([Buffer.from(reply).toString('hex')]);
    expect(net.fdb.lookup(X)).toBe(u1);
  });

  it('a LAN host flooded out the other uplink that comes back by it is an echo; its own repeats on its uplink are not', () => {
    const { sw, net, pa, ups, clock } = topology();
    const [u1, u2] = ups;
    const req = arp(X, 4);
    u1.inject(req);
    sw.drain();
    expect(pa.take()).toHaveLength(1);
    expect(u2.take()).toHaveLength(1); // flooded out the other uplink...
    u2.inject(req); // ...and the LAN brings it back by u2 at once
    sw.drain();
    expect(u2.counters.dropCount('uplink-loop')).toBe(1);
    expect(pa.take()).toHaveLength(0);
    // A host's own repeats on its uplink 30 ms apart (VRRP, gratuitous ARP trains) are delivered, each.
    clock.advance(1);
    for (let i = 0; i < 5; i++) {
      u1.inject(req);
      sw.drain();
      clock.advance(0.03);
    }
    expect(pa.take()).toHaveLength(5);
    expect(u1.counters.dropCount('uplink-loop')).toBe(0);
    // Copies straight back by the same uplink (a cable between two uplinks returns the kernel's own
    // multicast that way) are dropped, but prove no loop: no block however many.
    clock.advance(1);
    u1.inject(req);
    sw.drain(); // flooded (and remembered) ...
    for (let i = 0; i < 11; i++) u1.inject(req); // ... and back within the same few ms, again and again
    sw.drain();
    expect(pa.take()).toHaveLength(1);
    expect(u1.counters.dropCount('uplink-loop')).toBe(11);
    expect(net.loopGuard!.state(u1, clock.now())).toMatchObject({ blocks: 0, blockedSince: null });
  });

  it('VRRP adverts (the same multicast 10 times a second) pass; a spoofer with a container\'s MAC is dropped but cannot block the uplink', () => {
    const { sw, net, pa, ups, clock } = topology({ uplinks: 1 });
    const [u1] = ups;
    const vrrp = ethFrame(0x01005e000012, X, 0x0800, Array.from({ length: 40 }, (_, i) => i));
    for (let i = 0; i < 50; i++) {
      u1.inject(vrrp);
      sw.drain();
      clock.advance(0.1);
    }
    expect(pa.take()).toHaveLength(50);
    expect(u1.counters.dropCount('uplink-loop')).toBe(0);
    for (let i = 0; i < 20; i++) u1.inject(arp(A, 100 + i)); // A is pa's: never flooded by us in this form
    sw.drain();
    expect(u1.counters.dropCount('uplink-loop')).toBe(20);
    expect(net.loopGuard!.state(u1, clock.now())).toMatchObject({ spoofed: 20, blocks: 0, blockedSince: null });
    u1.inject(arp(Y, 6)); // the LAN's floods still reach the containers
    sw.drain();
    expect(pa.take()).toHaveLength(1);
  });

  it('a storm on the LAN: the same broadcast again and again is cut, the uplink is blocked for floods, then unblocked', () => {
    const { sw, net, pa, ups, clock } = topology({ uplinks: 1 });
    const [u1] = ups;
    const guard = net.loopGuard!;
    const storm = arp(X, 5);
    for (let i = 0; i < STORM_REPEATS - 1; i++) {
      u1.inject(storm);
      sw.drain();
      clock.advance(0.01); // all within one storm window
    }
    expect(pa.take()).toHaveLength(STORM_REPEATS - 1);
    for (let i = 0; i < LOOP_BLOCK_DROPS; i++) u1.inject(storm);
    sw.drain();
    expect(pa.take()).toHaveLength(0);
    expect(u1.counters.dropCount('uplink-loop')).toBe(LOOP_BLOCK_DROPS);
    expect(guard.state(u1, clock.now())).toMatchObject({ loopFrames: LOOP_BLOCK_DROPS, blocks: 1, blockedSince: clock.now() });
    // Blocked: another host's broadcast is dropped too; known unicast still passes.
    u1.inject(arp(Y, 6));
    pa.inject(ethFrame(X, A)); // teaches nothing new: X is on u1 already
    sw.drain();
    expect(u1.take()).toHaveLength(1);
    u1.inject(ethFrame(A, X));
    sw.drain();
    expect(pa.take()).toHaveLength(1); // the unicast; not Y's broadcast
    expect(guard.state(u1, clock.now())!.blockedFloods).toBe(1);
    clock.advance(LOOP_HOLD_S + 0.1);
    expect(guard.state(u1, clock.now())!.blockedSince).toBeNull();
    u1.inject(arp(Y, 6));
    sw.drain();
    expect(pa.take()).toHaveLength(1);
  });

  it('tells an echo by its bytes, not by a checksum the switch completed on the way out', () => {
    const udp = (csum: number, last: number) => {
      const ip = [0x45, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 255, 255, 255, 255];
      const u = [0, 68, 0, 67, 0, 10, csum >> 8, csum & 0xff, 0xab, last];
      return ethFrame(BROADCAST, X, 0x0800, [...ip, ...u]);
    };
    const h = (f: Uint8Array) => loopFrameHash(f, 0, f.length);
    expect(h(udp(0x1234, 1))).toBe(h(udp(0xbeef, 1))); // partial, then completed: the same frame
    expect(h(udp(0x1234, 1))).not.toBe(h(udp(0x1234, 2))); // another payload byte: another frame
  });

  it('a trace of a loop frame explains the drop and counts nothing', () => {
    const { sw, pa, ups } = topology({ uplinks: 1 });
    const [u1] = ups;
    pa.inject(arp(A, 7));
    sw.drain();
    const t = sw.trace(u1, arp(A, 7));
    const rec = t.records.find((r) => r.stage === 'uplink-loop');
    expect(rec?.decision).toMatch(/lives on a: a frame of this network came back/);
    expect(u1.counters.dropCount('uplink-loop')).toBe(0);
  });
});
