// IPv6 under port_security=ip (src/dataplane/stages/ipv6-port-security.ts, via the ingress stage):
// hand-built frames from a secured port through a real SwitchEngine; what passes, what is dropped and
// under which reason, and the trace line that says why.
import { describe, expect, it } from 'vitest';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { ethFrame, macBytes } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;

/** fe80::/64 + modified EUI-64 of a MAC, as the kernel derives a link-local address. */
function linkLocal(mac: number): number[] {
  const m = macBytes(mac);
  return [0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
}
const UNSPEC = Array(16).fill(0);
const ALL_NODES = [0xff, 0x02, ...Array(13).fill(0), 1];
const solicited = (addr: number[]) => [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, addr[13], addr[14], addr[15]];
const ULA = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];

/** An IPv6 frame from MAC `src`: `nh` then `payload` (checksums are not what is checked here). */
function ipv6(src: number, srcIp: number[], dstIp: number[], nh: number, payload: number[]): Uint8Array {
  const hdr = [0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, nh, 255, ...srcIp, ...dstIp];
  return ethFrame(0x333300000001, src, 0x86dd, [...hdr, ...payload]);
}
const echo = () => [128, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4];
const ns = (target: number[], opts: number[] = []) => [135, 0, 0, 0, 0, 0, 0, 0, ...target, ...opts];
const na = (target: number[], opts: number[] = []) => [136, 0, 0, 0, 0x60, 0, 0, 0, ...target, ...opts];
const lla = (kind: number, mac: number) => [kind, 1, ...macBytes(mac)];

function secured() {
  const sw = new SwitchEngine({ poolSlots: 32 });
  const net = sw.createDomain('n');
  const a = new MemoryPort('a', { ownMac: A, ownIp: 0x0a000002 });
  const b = new MemoryPort('b', { ownMac: B });
  sw.addPort(a, net);
  sw.addPort(b, net);
  return { sw, a, b };
}

describe('IPv6 port security (port_security=ip)', () => {
  it('lets the port speak from its own link-local address, and DAD/MLD/RS from ::', () => {
    const { sw, a, b } = secured();
    const own = linkLocal(A);
    a.inject(ipv6(A, UNSPEC, solicited(own), 58, ns(own))); // DAD probe for its own address
    a.inject(ipv6(A, UNSPEC, [0xff, 0x02, ...Array(13).fill(0), 0x16], 0, [58, 0, 5, 2, 0, 0, 1, 0, 143, 0, 0, 0, 0, 0, 0, 0])); // MLDv2 report behind hop-by-hop
    a.inject(ipv6(A, UNSPEC, [0xff, 0x02, ...Array(13).fill(0), 2], 58, [133, 0, 0, 0, 0, 0, 0, 0])); // router solicitation
    a.inject(ipv6(A, own, solicited(linkLocal(B)), 58, ns(linkLocal(B), lla(1, A)))); // resolving a neighbour
    a.inject(ipv6(A, own, linkLocal(B), 58, na(own, lla(2, A)))); // answering for itself
    a.inject(ipv6(A, own, linkLocal(B), 58, echo()));
    sw.drain();
    expect(b.take()).toHaveLength(6);
    expect(a.counters.totalDrops()).toBe(0);
  });

  it('drops other sources, ND for others, router messages and unfollowable headers, by name', () => {
    const { sw, a, b } = secured();
    const own = linkLocal(A);
    const other = linkLocal(B);
    const cases: [Uint8Array, string][] = [
      [ipv6(A, ULA, other, 58, echo()), 'spoofed-src-ipv6'], // an address we never assigned
      [ipv6(A, other, ALL_NODES, 58, echo()), 'spoofed-src-ipv6'], // another port's link-local
      [ipv6(A, UNSPEC, other, 17, [0, 1, 0, 2, 0, 8, 0, 0]), 'spoofed-src-ipv6'], // UDP from ::
      [ipv6(A, own, ALL_NODES, 58, na(other)), 'spoofed-nd'], // advertising another port's address
      [ipv6(A, own, ALL_NODES, 60, [58, 0, 1, 4, 0, 0, 0, 0, ...na(other)]), 'spoofed-nd'], // the same behind destination options
      [ipv6(A, own, other, 58, na(own, lla(2, B))), 'spoofed-nd'], // its own address, someone else's MAC
      [ipv6(A, own, other, 58, ns(other, lla(1, B))), 'spoofed-nd'], // a solicitation naming another MAC
      [ipv6(A, UNSPEC, solicited(other), 58, ns(other)), 'spoofed-nd'], // DAD for another port's address
      [ipv6(A, UNSPEC, solicited(own), 58, ns(own, lla(1, A))), 'spoofed-nd'], // DAD with a source link-layer option
      [ipv6(A, own, other, 58, na(own, [2, 0, 0, 0, 0, 0, 0, 0])), 'spoofed-nd'], // a zero-length option
      [ipv6(A, own, ALL_NODES, 58, [134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'ipv6-router-msg'], // RA
      [ipv6(A, own, other, 58, [137, 0, 0, 0, 0, 0, 0, 0, ...other, ...other]), 'ipv6-router-msg'], // redirect
      [ipv6(A, own, other, 0, [0, 0]), 'bad-ipv6'], // a hop-by-hop header cut short
    ];
    for (const [f] of cases) a.inject(f);
    sw.drain();
    expect(b.take()).toHaveLength(0);
    const want: Record<string, number> = {};
    for (const [, r] of cases) want[r] = (want[r] ?? 0) + 1;
    expect(a.counters.dropsByReason()).toEqual(want);
    const t = sw.trace(a, cases[0][0]);
    expect(t.records[0].decision).toBe("drop spoofed-src-ipv6: source is not the port's link-local address (fe80:: + EUI-64 of its MAC) nor ::");
  });

  it('checks nothing of IPv6 on a port without IP port security', () => {
    const sw = new SwitchEngine({ poolSlots: 8 });
    const net = sw.createDomain('n');
    const a = new MemoryPort('a', { ownMac: A });
    const b = new MemoryPort('b', { ownMac: B });
    sw.addPort(a, net);
    sw.addPort(b, net);
    a.inject(ipv6(A, ULA, linkLocal(B), 58, echo()));
    sw.drain();
    expect(b.take()).toHaveLength(1);
  });

  it('on a dual-stack network also lets the port use its assigned IPv6 address, and only that one', () => {
    const sw = new SwitchEngine({ poolSlots: 32 });
    const net = sw.createDomain('n');
    const a = new MemoryPort('a', { ownMac: A, ownIp: 0x0a000002, ownIp6: Uint8Array.from(ULA) });
    const b = new MemoryPort('b', { ownMac: B });
    sw.addPort(a, net);
    sw.addPort(b, net);
    const other = [...ULA.slice(0, 15), 0x98];
    a.inject(ipv6(A, ULA, linkLocal(B), 58, echo())); // from its own global address
    a.inject(ipv6(A, ULA, solicited(other), 58, ns(other, lla(1, A)))); // resolving a neighbour from it
    a.inject(ipv6(A, ULA, linkLocal(B), 58, na(ULA, lla(2, A)))); // answering for it
    a.inject(ipv6(A, other, linkLocal(B), 58, echo())); // another global address: spoofed
    a.inject(ipv6(A, ULA, linkLocal(B), 58, na(other, lla(2, A)))); // claiming another's: spoofed ND
    sw.drain();
    expect(b.take()).toHaveLength(3);
    expect(a.counters.dropCount('spoofed-src-ipv6')).toBe(1);
    expect(a.counters.dropCount('spoofed-nd')).toBe(1);
  });
});
