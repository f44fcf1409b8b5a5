/**
 * Fuzzing the whole pipeline in emulator mode: 10^6 seeded mutants (with random virtio-net headers)
 * through ingress, learning, forwarding and egress, out of a GSO-capable port and one that needs
 * super-frames segmented in C. The properties: nothing throws, no stage error is caught, and every
 * received frame is accounted for exactly — forwarded, or dropped with a named reason.
 */
import { describe, expect, it } from 'vitest';
import { DROP_REASONS } from '../../../src/dataplane/drop-reasons.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { frameAccounting } from './accounting.js';
import { Mutator } from './mutator.js';


describe('pipeline under fuzzing', () => {
  it('accounts for every one of 10^6 mutated frames and never throws', () => {
    const clock = new VirtualClock();
    const sw = new SwitchEngine({ clock, poolSlots: 256 });
    const net = sw.createDomain('fuzz', { capacity: 512 });
    const trusted = new MemoryPort('uplink'); // any source MAC allowed: exercises learning and the cap
    const container = new MemoryPort('c1', { ownMac: 0x0a0000000001 });
    const gso = new MemoryPort('c2', { ownMac: 0x02420a000003 });
    const noGso = new MemoryPort('pcap-like', { gso: false });
    for (const p of [trusted, container, gso, noGso]) sw.addPort(p, net);
    const seed = 0xf0f0;
    const m = new Mutator(seed);
    const TOTAL = 1_000_000;
    for (let i = 0; i < TOTAL; i++) {
      const { frame, vnet } = m.next();
      (i % 4 === 0 ? container : trusted).inject(frame, vnet);
      if (i % 256 === 255) {
        sw.drain();
        for (const p of [trusted, container, gso, noGso]) p.sent.length = 0;
        clock.advance(1);
      }
    }
    sw.drain();
    const ports = [trusted, container, gso, noGso];
    const { rx, rxSideDrops, byReason } = frameAccounting(ports);
    expect(rx).toBe(TOTAL);
    expect(sw.internalErrors, String(sw.lastInternalError)).toBe(0);
    expect(rxSideDrops + sw.framesForwarded).toBe(TOTAL);
    // The generator reaches the interesting reasons; every name is one of the table's.
    for (const r of ['runt', 'bad-vnet-hdr', 'bad-src-mac', 'spoofed-src-mac']) expect(byReason[r], r).toBeGreaterThan(0);
    for (const r of Object.keys(byReason)) expect(DROP_REASONS).toContain(r);
    expect(net.fdb.counters().refusedFull).toBeGreaterThan(0); // the cap held under random sources
    expect(net.fdb.size).toBeLessThanOrEqual(512 + 2);
    console.log(`pipeline fuzz: ${TOTAL} frames, ${sw.framesForwarded} forwarded, drops ${JSON.stringify(byReason)}, segments ${noGso.counters.txSegments}`);
  }, 300_000);
});
