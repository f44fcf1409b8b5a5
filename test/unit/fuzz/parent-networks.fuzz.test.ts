/**
 * Fuzzing the macvlan and ipvlan demux stages in emulator mode: seeded mutants (random virtio-net
 * headers, truncations, bad length fields) whose MAC addresses are often set to the interesting ones
 * (members, the parent, broadcast), from the parent, the containers and the host shim of networks in
 * every mode. The properties: nothing throws, no stage error is caught, and every received frame is
 * accounted for exactly — forwarded (once, however many ports it left by), or dropped with a named reason.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { DROP_REASONS } from '../../../src/dataplane/drop-reasons.js';
import { addParentMember, createParentNetwork } from '../../../src/dataplane/parent-network-setup.js';
import type { MacvlanMode } from '../../../src/dataplane/parent-networks.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { macBytes, prng } from '../../helpers/frames.js';
import { frameAccounting } from './accounting.js';
import { Mutator } from './mutator.js';


describe('macvlan/ipvlan demux under fuzzing', () => {
  it('accounts for every one of 400k mutated frames across every mode and never throws', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(), poolSlots: 256 });
    const ports: MemoryPort[] = [];
    const senders: { port: MemoryPort; macs: number[] }[] = [];
    const setups: { kind: 'macvlan' | 'ipvlan'; mode: MacvlanMode }[] = [
      { kind: 'macvlan', mode: 'bridge' },
      { kind: 'macvlan', mode: 'private' },
      { kind: 'macvlan', mode: 'vepa' },
      { kind: 'macvlan', mode: 'passthru' },
      { kind: 'ipvlan', mode: 'bridge' },
    ];
    setups.forEach((s, n) => {
      const parentMac = 0x0a0000000100 + n;
      const up = new MemoryPort(`p${n}`);
      const net = createParentNetwork(sw, `net${n}`, up, { kind: s.kind, mode: s.mode, parentMac });
      const kids = s.mode === 'passthru' ? 1 : 3;
      const macs = [parentMac, 0xffffffffffff, 0x333300000001];
      ports.push(up);
      for (let i = 0; i < kids + 1; i++) {
        const shim = i === kids;
        if (shim && s.mode === 'passthru') break;
        const mac = s.kind === 'ipvlan' ? parentMac : 0x02420a000000 + n * 256 + i;
        const ip = ((10 << 24) | (n << 16) | (i + 2)) >>> 0;
        const p = new MemoryPort(`n${n}c${i}`, s.kind === 'ipvlan' ? { ownIp: ip } : { ownMac: mac });
        addParentMember(sw, net, p, { mac: s.kind === 'macvlan' ? mac : undefined, ip, shim });
        ports.push(p);
        macs.push(mac);
        senders.push({ port: p, macs });
      }
      senders.push({ port: up, macs });
    });
    const m = new Mutator(0xbeef);
    const rnd = prng(0x5eed);
    const TOTAL = 400_000;
    for (let i = 0; i < TOTAL; i++) {
      const { frame, vnet } = m.next();
      const s = senders[Math.floor(rnd() * senders.length)];
      if (frame.length >= 12 && rnd() < 0.7) frame.set(macBytes(s.macs[Math.floor(rnd() * s.macs.length)]), 0);
      const unicast = s.macs.filter((x) => Math.floor(x / 2 ** 40) % 2 === 0);
      if (frame.length >= 12 && rnd() < 0.5) frame.set(macBytes(unicast[Math.floor(rnd() * unicast.length)]), 6);
      s.port.inject(frame, vnet);
      if (i % 256 === 255) {
        sw.drain();
        for (const p of ports) p.sent.length = 0;
      }
    }
    sw.drain();
    const { rx, rxSideDrops, byReason } = frameAccounting(ports);
    expect(rx).toBe(TOTAL);
    expect(sw.internalErrors, String(sw.lastInternalError)).toBe(0);
    expect(rxSideDrops + sw.framesForwarded).toBe(TOTAL);
    for (const r of ['uplink-no-member', 'macvlan-private', 'macvlan-reflected', 'ipvlan-to-host', 'same-port']) expect(byReason[r], r).toBeGreaterThan(0);
    for (const r of Object.keys(byReason)) expect(DROP_REASONS).toContain(r);
    console.log(`parent-network fuzz: ${TOTAL} frames, ${sw.framesForwarded} forwarded, drops ${JSON.stringify(byReason)}`);
  }, 300_000);
});
