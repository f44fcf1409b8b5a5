/**
 * The overlay data plane over in-memory underlays (no root): encapsulation and head-end replication,
 * decapsulation and flood-and-learn, malformed VXLAN, VNI isolation, ARP suppression, static remote
 * entries, the MTU rules with ICMP frag-needed, and two switches joined end to end.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { GSO_NONE, GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../../src/dataplane/layout.js';
import { MemoryUnderlay, type Datagram } from '../../../src/dataplane/overlay/memory-underlay.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { native, VST_RX_NO_SLOT, VST_RX_SUPERFRAMES, VST_RX_TUNNEL_GSO } from '../../../src/native/addon.js';
import { ARP_REPLY, ARP_REQUEST, emitArp } from '../../../src/packet/arp.js';
import { internetChecksum } from '../../../src/packet/checksum.js';
import { emitEthernet } from '../../../src/packet/ethernet.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, macBytes, prng, tcpChecksumsValid, tcpFrame } from '../../helpers/frames.js';

const VTEP_A = parseIpv4('198.18.0.1');
const VTEP_B = parseIpv4('198.18.0.2');
const VTEP_C = parseIpv4('198.18.0.3');
const A1 = 0x02420a140002; // 10.20.0.2 on host A
const B1 = 0x02420a140003; // 10.20.0.3 on host B
const X = 0x02420a140009; // a MAC behind a remote VTEP
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function vxlanPayload(vni: number, inner: Uint8Array, flags = 0x08): Uint8Array {
  const p = new Uint8Array(8 + inner.length);
  p[0] = flags;
  p[4] = vni >> 16;
  p[5] = (vni >> 8) & 0xff;
  p[6] = vni & 0xff;
  p.set(inner, 8);
  return p;
}

function arpFrame(op: number, srcMac: number, srcIp: string, dstMac: number, dstIp: string, ethDst = op === ARP_REQUEST ? BROADCAST : dstMac): Uint8Array {
  const f = new Uint8Array(42);
  emitEthernet(f, 0, ethDst, srcMac, 0x0806);
  emitArp(f, 14, op, srcMac, parseIpv4(srcIp), op === ARP_REQUEST ? 0 : dstMac, parseIpv4(dstIp));
  return f;
}

interface Host {
  sw: SwitchEngine;
  underlay: MemoryUnderlay;
  sock: VtepSocketPort;
  clock: VirtualClock;
  net(vni: number, opts?: { peers?: number[]; learning?: boolean; underlayMtu?: number }): { vx: VxlanPort; port(name: string, mac: number, gso?: boolean): MemoryPort };
}

function host(ip: number, poolSlots = 64): Host {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots });
  const underlay = new MemoryUnderlay(ip);
  const sock = new VtepSocketPort(`vtep-${ip}`, underlay);
  sw.addDetachedPort(sock);
  return {
    sw,
    underlay,
    sock,
    clock,
    net(vni, opts = {}) {
      const domain = sw.createDomain(`vni${vni}`);
      const vx = new VxlanPort(`vxlan${vni}`, {
        vni,
        vtep: sock,
        peers: opts.peers ?? [VTEP_B, VTEP_C],
        learning: opts.learning,
        underlayMtu: opts.underlayMtu,
        subnet: { network: parseIpv4('10.20.0.0'), prefixLen: 16 },
      });
      sock.attach(vx);
      sw.addPort(vx, domain);
      return {
        vx,
        port(name: string, mac: number, gso = true) {
          const p = new MemoryPort(name, { ownMac: mac, gso });
          sw.addPort(p, domain);
          return p;
        },
      };
    },
  };
}

/** Run bursts until the memory ports and the underlay inbox are empty. */
function settle(h: Host): void {
  for (let i = 0; i < 20; i++) {
    const n = h.sw.drain() + (h.underlay.pending ? h.sw.runBurst([h.sock]) : 0);
    if (n === 0) return;
  }
}

function vniOf(d: Datagram): number {
  return (d.payload[4] << 16) | (d.payload[5] << 8) | d.payload[6];
}

describe('VXLAN overlay data plane', () => {
  it('encapsulates a broadcast into one datagram per peer, sharing the inner frame, VNI and I flag set', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const req = arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3');
    a1.inject(req);
    settle(a);
    const sent = a.underlay.take();
    expect(sent.map((d) => d.dst).sort()).toEqual([VTEP_B, VTEP_C].sort());
    for (const d of sent) {
      expect(d.dstPort).toBe(4789);
      expect(d.payload[0]).toBe(0x08);
      expect(vniOf(d)).toBe(4097);
      expect(hex(d.payload.subarray(8))).toBe(hex(req));
      expect(hex(d.payload.subarray(1, 4)) + hex(d.payload.subarray(7, 8))).toBe('00000000');
    }
    expect(net.vx.counters.txPackets).toBe(1);
    expect(net.vx.datagrams).toBe(2);
  });

  it('decapsulates, learns the source MAC behind the sending VTEP, then sends unicast to that VTEP only', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const fromX = ethFrame(A1, X);
    a.underlay.inject(VTEP_C, vxlanPayload(4097, fromX));
    settle(a);
    expect(a1.take().map((f) => hex(f.frame))).toEqual([hex(fromX)]);
    const e = a.sw.domains.get('vni4097')!.fdb.get(X)!;
    expect(e.port).toBe(net.vx);
    expect(e.remote).toBe(VTEP_C);
    expect(net.vx.counters.rxPackets).toBe(1);
    a1.inject(ethFrame(X, A1));
    settle(a);
    expect(a.underlay.take().map((d) => d.dst)).toEqual([VTEP_C]);
    // The MAC moves to another VTEP: learned again, counted as a move.
    a.underlay.inject(VTEP_B, vxlanPayload(4097, ethFrame(A1, X)));
    settle(a);
    expect(a.sw.domains.get('vni4097')!.fdb.get(X)!.remote).toBe(VTEP_B);
    expect(a.sw.domains.get('vni4097')!.fdb.moved).toBe(1);
  });

  it('drops truncated datagrams, a clear I flag and unknown VNIs with named counters, and accepts set reserved bits', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const inner = ethFrame(A1, X);
    a.underlay.inject(VTEP_B, new Uint8Array([0x08, 0, 0, 0, 0, 0x10, 0x01])); // 7 bytes
    a.underlay.inject(VTEP_B, vxlanPayload(4097, inner.subarray(0, 10))); // header, no room for Ethernet
    a.underlay.inject(VTEP_B, vxlanPayload(4097, inner, 0x00)); // I flag clear
    a.underlay.inject(VTEP_B, vxlanPayload(4097, inner, 0x80)); // only a reserved flag
    a.underlay.inject(VTEP_B, vxlanPayload(999, inner)); // nobody's VNI
    a.underlay.inject(VTEP_B, new Uint8Array(0));
    settle(a);
    expect(a1.take()).toHaveLength(0);
    expect(a.sock.counters.dropCount('vxlan-truncated')).toBe(3);
    expect(a.sock.counters.dropCount('vxlan-bad-flags')).toBe(2);
    expect(a.sock.counters.dropCount('vxlan-unknown-vni')).toBe(1);
    expect(a.sock.counters.rxPackets).toBe(6);
    const reserved = vxlanPayload(4097, inner, 0x0c);
    reserved[1] = 0xff;
    reserved[7] = 0xff;
    a.underlay.inject(VTEP_B, reserved);
    settle(a);
    expect(a1.take()).toHaveLength(1);
  });

  it('keeps two VNIs on one VTEP apart: a frame of one never reaches the other, even addressed to its MAC', () => {
    const a = host(VTEP_A);
    const n100 = a.net(100);
    const n200 = a.net(200);
    const p100 = n100.port('p100', A1);
    const p200 = n200.port('p200', B1);
    a.underlay.inject(VTEP_B, vxlanPayload(100, ethFrame(BROADCAST, X, 0x0806)));
    a.underlay.inject(VTEP_B, vxlanPayload(100, ethFrame(B1, X))); // p200's MAC, but VNI 100
    settle(a);
    expect(p200.take()).toHaveLength(0);
    expect(p100.take()).toHaveLength(2); // a broadcast, and an unknown unicast flooded inside VNI 100
    p200.inject(ethFrame(BROADCAST, B1, 0x0806));
    settle(a);
    expect(p100.take()).toHaveLength(0);
    expect(a.underlay.take().every((d) => vniOf(d) === 200)).toBe(true);
    expect(() => a.sock.attach(new VxlanPort('dup', { vni: 100, vtep: a.sock }))).toThrow(/VNI 100 is used/);
  });

  it('suppresses IPv6 neighbor solicitations for an address learned from a remote NA; never a DAD probe; learns only its subnet and link-local', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const prefix = new Uint8Array(16);
    prefix.set([0xfd, 0, 0, 0x20]);
    net.vx.subnet6 = { prefix, prefixLen: 64 };
    const a1 = net.port('a1', A1);
    const addr = (last: number, first = [0xfd, 0, 0, 0x20]) => [...first, ...Array(11).fill(0), last];
    const OWN = addr(2);
    const B6 = addr(3);
    const solicited = (t: number[]) => [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]];
    const ipv6 = (dstMac: number, srcMac: number, src: number[], dst: number[], icmp: number[]) => {
      const f = ethFrame(dstMac, srcMac, 0x86dd, [0x60, 0, 0, 0, icmp.length >> 8, icmp.length & 0xff, 58, 255, ...src, ...dst, ...icmp]);
      let sum = 58 + icmp.length;
      for (let i = 22; i < f.length; i += 2) sum += (f[i] << 8) | (f[i + 1] ?? 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      f[56] = (~sum >> 8) & 0xff;
      f[57] = ~sum & 0xff;
      return f;
    };
    const ns = (src: number[], target: number[]) => ipv6(0x3333ff000000 + target[15], A1, src, solicited(target), [135, 0, 0, 0, 0, 0, 0, 0, ...target, 1, 1, ...macBytes(A1)]);
    const na = (target: number[], mac: number) => ipv6(A1, mac, target, OWN, [136, 0, 0, 0, 0x60, 0, 0, 0, ...target, 2, 1, ...macBytes(mac)]);
    const validIcmp6 = (f: Uint8Array) => {
      let sum = 58 + (f.length - 54);
      for (let i = 22; i < f.length; i += 2) sum += (f[i] << 8) | (f[i + 1] ?? 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return sum === 0xffff;
    };
    // Unknown yet: the solicitation goes to every peer.
    a1.inject(ns(OWN, B6));
    settle(a);
    expect(a.underlay.take()).toHaveLength(2);
    // B's advertisement comes back: delivered, and the pair is learned; an address off the subnet is not.
    a.underlay.inject(VTEP_B, vxlanPayload(4097, na(B6, B1)));
    a.underlay.inject(VTEP_B, vxlanPayload(4097, na(addr(7, [0xfd, 0, 0, 0x99]), B1)));
    settle(a);
    expect(a1.take()).toHaveLength(2);
    expect(net.vx.neighbors6.lookup('fd00:20::3', a.clock.now())).toBe(B1);
    expect(net.vx.neighbors6.lookup('fd00:99::7', a.clock.now())).toBeUndefined();
    // Asked again: answered in place, nothing crosses the underlay.
    a1.inject(ns(OWN, B6));
    settle(a);
    expect(a.underlay.take()).toHaveLength(0);
    const got = a1.take();
    expect(got).toHaveLength(1);
    const f = got[0].frame;
    expect(hex(f.subarray(0, 12))).toBe(hex(Uint8Array.from([...macBytes(A1), ...macBytes(B1)])));
    expect(hex(f.subarray(22, 38))).toBe(hex(Uint8Array.from(B6))); // from the target
    expect(hex(f.subarray(38, 54))).toBe(hex(Uint8Array.from(OWN))); // to the soliciting node
    expect([f[21], f[54], f[58]]).toEqual([255, 136, 0x40]); // hop limit 255, NA, Solicited
    expect(hex(f.subarray(62, 78))).toBe(hex(Uint8Array.from(B6)));
    expect(hex(f.subarray(78, 86))).toBe(hex(Uint8Array.from([2, 1, ...macBytes(B1)]))); // TLLA
    expect(validIcmp6(f)).toBe(true);
    expect(net.vx.neighbors6.suppressed).toBe(1);
    // Poisoning attempts from a remote peer teach nothing: an NA naming another MAC in its option, and
    // an NA whose Ethernet source is a local port's MAC.
    const R = 0x0a0000000099;
    const forged = ipv6(A1, B1, B6, OWN, [136, 0, 0, 0, 0x60, 0, 0, 0, ...addr(8), 2, 1, ...macBytes(R)]); // from B, for ::8 "at R"
    a.underlay.inject(VTEP_B, vxlanPayload(4097, forged));
    a.underlay.inject(VTEP_B, vxlanPayload(4097, na(addr(9), A1)));
    settle(a);
    a1.take();
    expect(net.vx.neighbors6.lookup('fd00:20::8', a.clock.now())).toBeUndefined();
    expect(net.vx.neighbors6.lookup('fd00:20::9', a.clock.now())).toBeUndefined();
    // A DAD probe (from ::) is never answered: the owner defends its address itself.
    a1.inject(ns(Array(16).fill(0), B6));
    settle(a);
    expect(a.underlay.take()).toHaveLength(2);
    expect(net.vx.neighbors6.suppressed).toBe(1);
  });

  it('suppresses ARP for a pair learned from a remote VTEP: the reply is made locally and nothing crosses the underlay', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    // Unknown yet: the request goes to every peer.
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3'));
    settle(a);
    expect(a.underlay.take()).toHaveLength(2);
    // The reply comes back from host B: delivered, and the pair is learned.
    const reply = arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2');
    a.underlay.inject(VTEP_B, vxlanPayload(4097, reply));
    settle(a);
    expect(a1.take().map((f) => hex(f.frame))).toEqual([hex(reply)]);
    expect(net.vx.neighbors.lookup(parseIpv4('10.20.0.3'), a.clock.now())).toBe(B1);
    // Asked again: answered in place, out of the asking port, nothing sent to the underlay.
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3'));
    settle(a);
    expect(a.underlay.take()).toHaveLength(0);
    const got = a1.take();
    expect(got).toHaveLength(1);
    expect(hex(got[0].frame)).toBe(hex(arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2')));
    expect(net.vx.neighbors.suppressed).toBe(1);
    // A gratuitous ARP and a probe are never answered: they go out.
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.2'));
    a1.inject(arpFrame(ARP_REQUEST, A1, '0.0.0.0', 0, '10.20.0.3'));
    settle(a);
    expect(a.underlay.take()).toHaveLength(4);
    // Aged out (learned entries, 300 s): asked again, it floods again.
    a.clock.advance(301);
    a.sw.periodic();
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3'));
    settle(a);
    expect(a.underlay.take()).toHaveLength(2);
  });

  it('answers from static entries and sends to a static remote VTEP; with learning off nothing is learned', () => {
    const a = host(VTEP_A);
    const net = a.net(4097, { learning: false });
    const a1 = net.port('a1', A1);
    const fdb = a.sw.domains.get('vni4097')!.fdb;
    fdb.addStatic(X, net.vx, 0, VTEP_C);
    net.vx.neighbors.addStatic(parseIpv4('10.20.0.9'), X);
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.9'));
    a1.inject(ethFrame(X, A1));
    settle(a);
    expect(a1.take()).toHaveLength(1); // the ARP answered locally
    expect(a.underlay.take().map((d) => d.dst)).toEqual([VTEP_C]);
    // learning=false: a remote source is not learned; frames to it go to every peer.
    a.underlay.inject(VTEP_B, vxlanPayload(4097, arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2')));
    settle(a);
    expect(fdb.get(B1)?.remote ?? 0).toBe(0);
    expect(net.vx.neighbors.get(parseIpv4('10.20.0.3'))).toBeUndefined();
    a1.take();
    a1.inject(ethFrame(B1, A1));
    settle(a);
    expect(a.underlay.take().map((d) => d.dst).sort()).toEqual([VTEP_B, VTEP_C].sort());
  });

  it('counts frames with no peer and no known VTEP as vxlan-no-remote', () => {
    const a = host(VTEP_A);
    const net = a.net(4097, { peers: [] });
    const a1 = net.port('a1', A1);
    a1.inject(ethFrame(BROADCAST, A1, 0x0806));
    settle(a);
    expect(a.underlay.take()).toHaveLength(0);
    expect(net.vx.counters.dropCount('vxlan-no-remote')).toBe(1);
  });

  it('answers an IPv4 DF frame too big for the underlay with ICMP frag-needed (MTU 1450), never sending it', () => {
    const a = host(VTEP_A);
    const net = a.net(4097, { underlayMtu: 1500 });
    const a1 = net.port('a1', A1);
    a.sw.domains.get('vni4097')!.fdb.addStatic(X, net.vx, 0, VTEP_B);
    // 1465-byte frame: an IP packet of 1451 > 1450.
    const big = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 1451 - 40 });
    const fits = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 1450 - 40 });
    a1.inject(big.frame);
    a1.inject(fits.frame);
    settle(a);
    const sent = a.underlay.take();
    expect(sent.map((d) => d.payload.length)).toEqual([8 + 1464]);
    expect(a1.counters.dropCount('overlay-mtu-exceeded')).toBe(1);
    const back = a1.take();
    expect(back).toHaveLength(1);
    const f = back[0].frame;
    expect(hex(f.subarray(0, 12))).toBe(hex(Uint8Array.from([...macBytes(A1), ...macBytes(X)])));
    expect((f[12] << 8) | f[13]).toBe(0x0800);
    expect(f[14 + 9]).toBe(1); // ICMP
    expect(hex(f.subarray(14 + 12, 14 + 20))).toBe(hex(Uint8Array.from([10, 20, 0, 9, 10, 20, 0, 2])));
    expect(internetChecksum(f, 14, 20)).toBe(0);
    const icmp = 14 + 20;
    expect([f[icmp], f[icmp + 1]]).toEqual([3, 4]);
    expect((f[icmp + 6] << 8) | f[icmp + 7]).toBe(1450);
    expect(internetChecksum(f, icmp, f.length - icmp)).toBe(0);
    expect(hex(f.subarray(icmp + 8, icmp + 8 + 28))).toBe(hex(big.frame.subarray(14, 14 + 28))); // the quoted header
    expect(f.length).toBeLessThanOrEqual(14 + 576);
  });

  it('floods a too-big broadcast-domain frame locally, drops its overlay copy, and still sends the ICMP back', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const a2 = net.port('a2', 0x02420a140004);
    const big = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 1, dport: 2, payloadLen: 1460 }); // X unknown: flooded
    a1.inject(big.frame);
    settle(a);
    expect(a2.take()).toHaveLength(1);
    expect(a.underlay.take()).toHaveLength(0);
    expect(net.vx.counters.dropCount('overlay-mtu-exceeded')).toBe(1);
    const back = a1.take();
    expect(back).toHaveLength(1);
    expect([back[0].frame[34], back[0].frame[35]]).toEqual([3, 4]);
  });

  it('drops a too-big frame without DF or not IPv4, counted, no ICMP', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    a.sw.domains.get('vni4097')!.fdb.addStatic(X, net.vx, 0, VTEP_B);
    const noDf = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 1, dport: 2, payloadLen: 1460 }).frame;
    noDf[14 + 6] = 0;
    a1.inject(noDf);
    a1.inject(ethFrame(X, A1, 0x86dd, new Uint8Array(1480)));
    settle(a);
    expect(a.underlay.take()).toHaveLength(0);
    expect(a1.take()).toHaveLength(0);
    expect(a1.counters.dropCount('overlay-mtu-exceeded')).toBe(2);
  });

  it('answers an IPv6 frame too big for the underlay with ICMPv6 Packet Too Big (MTU 1450), unicast or flooded; never about an ICMPv6 error', () => {
    const a = host(VTEP_A);
    const net = a.net(4097, { underlayMtu: 1500 });
    const a1 = net.port('a1', A1);
    const a2 = net.port('a2', 0x02420a140004);
    a.sw.domains.get('vni4097')!.fdb.addStatic(X, net.vx, 0, VTEP_B);
    const SRC = [0xfd, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const DST = [0xfd, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    const v6 = (dst: number, nh: number, payload: number[], src = SRC) => ethFrame(dst, A1, 0x86dd, [0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, nh, 64, ...src, ...DST, ...payload]);
    const udp = (n: number) => [0x9c, 0x40, 0x14, 0x51, n >> 8, n & 0xff, 0, 0, ...Array.from({ length: n - 8 }, (_, i) => i & 0xff)];
    const big = v6(X, 17, udp(1451 - 40)); // an IPv6 packet of 1451 > 1450
    a1.inject(big);
    a1.inject(v6(X, 17, udp(1450 - 40))); // fits
    settle(a);
    expect(a.underlay.take().map((d) => d.payload.length)).toEqual([8 + 14 + 1450]);
    expect(a1.counters.dropCount('overlay-mtu-exceeded')).toBe(1);
    const back = a1.take();
    expect(back).toHaveLength(1);
    const f = back[0].frame;
    expect(hex(f.subarray(0, 12))).toBe(hex(Uint8Array.from([...macBytes(A1), ...macBytes(X)])));
    expect((f[12] << 8) | f[13]).toBe(0x86dd);
    expect(f[20]).toBe(58);
    expect(hex(f.subarray(22, 38))).toBe(hex(Uint8Array.from(DST))); // from the destination it was for
    expect(hex(f.subarray(38, 54))).toBe(hex(Uint8Array.from(SRC))); // to its sender
    const icmpLen = (f[18] << 8) | f[19];
    expect(f.length).toBe(54 + icmpLen);
    expect(f.length).toBeLessThanOrEqual(14 + 1280);
    expect([f[54], f[55]]).toEqual([2, 0]); // Packet Too Big
    expect(((f[58] << 24) | (f[59] << 16) | (f[60] << 8) | f[61]) >>> 0).toBe(1450);
    let sum = 58 + icmpLen;
    for (let i = 22; i < 54; i += 2) sum += (f[i] << 8) | f[i + 1];
    for (let i = 54; i < f.length; i += 2) sum += (f[i] << 8) | (f[i + 1] ?? 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff); // the ICMPv6 checksum over the pseudo header
    expect(hex(f.subarray(62, 62 + 48))).toBe(hex(big.subarray(14, 14 + 48))); // the quote: the original packet

    // Flooded (an unknown MAC): the local port gets it, the sender its Packet Too Big.
    a1.inject(v6(0x02420a1400ee, 17, udp(1460)));
    settle(a);
    expect(a2.take()).toHaveLength(1);
    const flooded = a1.take();
    expect(flooded.map((x) => [x.frame[54], x.frame[55]])).toEqual([[2, 0]]);
    // Never about an ICMPv6 error message, nor from :: or a multicast source.
    a1.inject(v6(X, 58, [1, 4, 0, 0, ...Array.from({ length: 1440 }, () => 0)]));
    a1.inject(v6(X, 17, udp(1460), Array(16).fill(0)));
    a1.inject(v6(X, 17, udp(1460), [0xff, 2, ...Array(13).fill(0), 1]));
    const toGroup = v6(X, 17, udp(1460));
    toGroup.set([0xff, 2, ...Array(13).fill(0), 1], 38); // a multicast destination: no unicast source to answer from
    a1.inject(toGroup);
    settle(a);
    expect(a1.take()).toHaveLength(0);
    expect(a1.counters.dropCount('overlay-mtu-exceeded')).toBe(5); // the unicast ones; the flood's overlay copy counts on the VXLAN port
    expect(net.vx.counters.dropCount('overlay-mtu-exceeded')).toBe(1);
  });

  it('segments a GSO super-frame before encapsulation when its segments fit, and answers ICMP when they do not', () => {
    const a = host(VTEP_A);
    const net = a.net(4097, { peers: [VTEP_B] });
    const a1 = net.port('a1', A1);
    a.sw.domains.get('vni4097')!.fdb.addStatic(X, net.vx, 0, VTEP_B);
    const sf = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 10 * 1410, partialCsum: true });
    const vnet = { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1410, csumStart: sf.csumStart, csumOffset: sf.csumOffset };
    a1.inject(sf.frame, vnet);
    settle(a);
    const sent = a.underlay.take();
    expect(sent).toHaveLength(10);
    for (const d of sent) {
      expect(d.payload.length).toBe(8 + 14 + 20 + 20 + 1410);
      expect(tcpChecksumsValid(d.payload.subarray(8))).toBe(true);
    }
    expect(net.vx.counters.txSegments).toBe(10);
    // An MSS of 1411 makes 1465-byte segments: too big, an ICMP back (the stack lowers its MSS).
    const sf2 = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 4 * 1411, partialCsum: true });
    a1.inject(sf2.frame, { ...vnet, gsoSize: 1411 });
    settle(a);
    expect(a.underlay.take()).toHaveLength(0);
    expect(a1.take().map((f) => [f.frame[34], f.frame[35]])).toEqual([[3, 4]]);
  });

  it('joins two switches end to end: ARP, unicast both ways, learning on both sides', () => {
    const a = host(VTEP_A);
    const b = host(VTEP_B);
    const na = a.net(4097, { peers: [VTEP_B] });
    const nb = b.net(4097, { peers: [VTEP_A] });
    const a1 = na.port('a1', A1);
    const b1 = nb.port('b1', B1);
    const pump = () => {
      for (let i = 0; i < 10; i++) {
        settle(a);
        settle(b);
        if (a.underlay.deliverTo(b.underlay) + b.underlay.deliverTo(a.underlay) === 0) return;
      }
    };
    a1.inject(arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3'));
    pump();
    const req = b1.take();
    expect(req).toHaveLength(1);
    b1.inject(arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2'));
    pump();
    expect(a1.take()).toHaveLength(1);
    const ping = ethFrame(B1, A1);
    const pong = ethFrame(A1, B1);
    a1.inject(ping);
    pump();
    b1.inject(pong);
    pump();
    expect(b1.take().map((f) => hex(f.frame))).toEqual([hex(ping)]);
    expect(a1.take().map((f) => hex(f.frame))).toEqual([hex(pong)]);
    expect(a.sw.domains.get('vni4097')!.fdb.get(B1)!.remote).toBe(VTEP_B);
    expect(b.sw.domains.get('vni4097')!.fdb.get(A1)!.remote).toBe(VTEP_A);
    // Both sides now answer ARP for the other locally.
    b1.inject(arpFrame(ARP_REQUEST, B1, '10.20.0.3', 0, '10.20.0.2'));
    settle(b);
    expect(b.underlay.take()).toHaveLength(0);
    expect(b1.take()).toHaveLength(1);
  });

  describe('receive path (udp_vtep.c, through the in-memory underlay)', () => {
    const vnet = (gsoSize: number, f: { csumStart: number; csumOffset: number }) => ({ flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize, csumStart: f.csumStart, csumOffset: f.csumOffset });
    /** The datagrams a tsnet peer sends for a super-frame, as one UDP GRO message (seg = datagram size). */
    function groMessage(vni: number, segments: Uint8Array[]): { payload: Uint8Array; seg: number } {
      const seg = 8 + segments[0].length;
      const out = new Uint8Array(segments.reduce((n, x) => n + 8 + x.length, 0));
      let o = 0;
      for (const x of segments) {
        out.set(vxlanPayload(vni, x), o);
        o += 8 + x.length;
      }
      return { payload: out, seg };
    }
    const superFrame = (sport: number, seq: number, payloadLen: number) =>
      tcpFrame({ dst: A1, src: X, srcIp: '10.20.0.9', dstIp: '10.20.0.2', sport, dport: 5201, seq, payloadLen, partialCsum: true });

    it('coalesces a peer\'s UDP GRO run of one TCP flow into one GSO super-frame, handed on whole', () => {
      const a = host(VTEP_A);
      const net = a.net(4097);
      const whole = net.port('a1', A1);
      const sf = superFrame(40000, 1000, 10 * 1400);
      const segs = native().segment(sf.frame.slice(), vnet(1400, sf));
      const m = groMessage(4097, segs);
      a.underlay.inject(VTEP_B, m.payload, 49152, m.seg);
      settle(a);
      const got = whole.take();
      expect(got).toHaveLength(1);
      expect(got[0].vnet).toMatchObject({ flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, gsoSize: 1400, csumStart: 34, csumOffset: 16 });
      expect(hex(got[0].frame.subarray(54))).toBe(hex(sf.frame.subarray(54)));
      expect(hex(got[0].frame.subarray(0, 34))).toBe(hex(sf.frame.subarray(0, 34))); // IP length and checksum restored
      // Cut again for a port that cannot take GSO: the same segments, checksums valid.
      const again = native().segment(got[0].frame.slice(), got[0].vnet);
      expect(again.map(hex)).toEqual(segs.map(hex));
      expect(a.underlay.status[VST_RX_SUPERFRAMES]).toBe(1);
      expect(net.vx.counters.rxPackets).toBe(1);
    });

    it('ends a run at another flow, a sequence gap or another VNI; order is kept; PSH of the last is kept', () => {
      const a = host(VTEP_A);
      const net = a.net(4097);
      const a1 = net.port('a1', A1);
      const f1 = native().segment(superFrame(40000, 1000, 4 * 1400).frame.slice(), vnet(1400, superFrame(40000, 1000, 4 * 1400)));
      const f2 = native().segment(superFrame(40001, 5000, 2 * 1400).frame.slice(), vnet(1400, superFrame(40001, 5000, 2 * 1400)));
      // flow 1 seg 0,1 | flow 2 seg 0 | flow 1 seg 2 (its run was cut) | flow 1 seg 3 | flow 2 seg 1
      const m = groMessage(4097, [f1[0], f1[1], f2[0], f1[2], f1[3], f2[1]]);
      a.underlay.inject(VTEP_B, m.payload, 49152, m.seg);
      settle(a);
      const got = a1.take();
      const seqOf = (f: Uint8Array) => ((f[38] << 24) | (f[39] << 16) | (f[40] << 8) | f[41]) >>> 0;
      expect(got.map((g) => [seqOf(g.frame), g.frame.length - 54])).toEqual([
        [1000, 2800],
        [5000, 1400],
        [1000 + 2800, 2800],
        [5000 + 1400, 1400],
      ]);
      // Runs became GSO super-frames (partial checksum); single datagrams keep their complete checksums.
      expect(got.map((g) => [g.vnet.gsoType, g.vnet.flags])).toEqual([
        [GSO_TCPV4, VNET_F_NEEDS_CSUM],
        [GSO_NONE, 0],
        [GSO_TCPV4, VNET_F_NEEDS_CSUM],
        [GSO_NONE, 0],
      ]);
      expect(tcpChecksumsValid(got[1].frame) && tcpChecksumsValid(got[3].frame)).toBe(true);
      expect(got[2].frame[47] & 0x08).toBe(0x08); // the last segment's PSH carried onto the super-frame
      // A datagram of another VNI in the middle of a run ends it, and goes to its own network.
      const other = a.net(4098);
      const o1 = other.port('o1', A1 + 1);
      const m2 = groMessage(4097, [f1[0], f1[1], f1[2]]);
      m2.payload[m2.seg + 6] = 0x02; // the second datagram's VNI: 4097 -> 4098
      a.underlay.inject(VTEP_B, m2.payload, 49152, m2.seg);
      settle(a);
      expect(a1.take().map((g) => g.frame.length - 54)).toEqual([1400, 1400]);
      expect(o1.take()).toHaveLength(1);
    });

    it('drops (and counts) datagrams of a GRO message that find no free slot, never overwriting others', () => {
      const a = host(VTEP_A, 2);
      const net = a.net(4097);
      const a1 = net.port('a1', A1);
      const other = superFrame(41000, 1, 1400);
      const alternating = [0, 1, 2].flatMap((i) => [superFrame(40000, 1000 + i * 1400, 1400).frame, other.frame]);
      const m = groMessage(4097, alternating);
      a.underlay.inject(VTEP_B, m.payload, 49152, m.seg);
      a.sw.runBurst([a.sock]);
      expect(a1.take()).toHaveLength(2);
      expect(a.underlay.status[VST_RX_NO_SLOT]).toBe(4);
      expect(a.sock.counters.dropCount('vxlan-no-slot')).toBe(4);
    });

    it('marks a kernel VTEP\'s tunnel GSO packet as the GSO super-frame it is', () => {
      const a = host(VTEP_A);
      const net = a.net(4097);
      const a1 = net.port('a1', A1);
      const sf = superFrame(40000, 1000, 20 * 1398);
      a.underlay.inject(VTEP_B, vxlanPayload(4097, sf.frame), 49152, 1398);
      settle(a);
      const got = a1.take();
      expect(got).toHaveLength(1);
      expect(got[0].vnet).toMatchObject({ gsoType: GSO_TCPV4, gsoSize: 1398, flags: VNET_F_NEEDS_CSUM, csumStart: 34 });
      expect(a.underlay.status[VST_RX_TUNNEL_GSO]).toBe(1);
    });

    it('hands on an inner checksum left partial as partial, and a complete one as it is', () => {
      const a = host(VTEP_A);
      const net = a.net(4097);
      const a1 = net.port('a1', A1);
      const partial = superFrame(40000, 1000, 100);
      const full = tcpFrame({ dst: A1, src: X, srcIp: '10.20.0.9', dstIp: '10.20.0.2', sport: 1, dport: 2, payloadLen: 100 });
      a.underlay.inject(VTEP_B, vxlanPayload(4097, partial.frame));
      a.underlay.inject(VTEP_B, vxlanPayload(4097, full.frame));
      settle(a);
      const [p, f] = a1.take();
      expect(p.vnet).toMatchObject({ flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, csumStart: 34, csumOffset: 16 });
      expect(f.vnet.flags).toBe(0);
      // A port that cannot take partial checksums gets it completed: valid.
      const b = net.port('b', 0x02420a140005, false);
      b.inject(ethFrame(BROADCAST, 0x02420a140005, 0x0806));
      a.underlay.inject(VTEP_B, vxlanPayload(4097, superFrame(40000, 1000, 100).frame.map((x, i) => (i < 6 ? [0xff][0] : x))));
      settle(a);
      const toB = b.take().filter((g) => g.frame[12] === 0x08 && g.frame[13] === 0x00);
      expect(toB).toHaveLength(1);
      expect(tcpChecksumsValid(toB[0].frame)).toBe(true);
    });
  });

  it('survives random datagrams and random GRO batches: every one counted or delivered, never a crash', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const rnd = prng(4097);
    const byte = () => Math.floor(rnd() * 256);
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rnd() * (rnd() < 0.1 ? 4000 : 200));
      const p = Uint8Array.from({ length: len }, byte);
      if (len >= 8 && rnd() < 0.7) {
        p[0] = rnd() < 0.9 ? 0x08 : byte();
        p[4] = 0;
        p[5] = 0x10;
        p[6] = rnd() < 0.9 ? 0x01 : byte();
      }
      if (len >= 60 && rnd() < 0.5) {
        // An inner IPv4/TCP-looking frame, often a consistent one.
        p.set(tcpFrame({ dst: A1, src: X, srcIp: '10.20.0.9', dstIp: '10.20.0.2', sport: 1, dport: 2, seq: byte(), payloadLen: Math.max(0, Math.min(len - 8 - 54, 100)), partialCsum: rnd() < 0.5 }).frame.subarray(0, len - 8), 8);
      }
      const seg = rnd() < 0.3 ? Math.floor(rnd() * 200) : 0;
      a.underlay.inject(VTEP_B, p, 49152, seg);
      if (i % 50 === 49) settle(a);
    }
    settle(a);
    expect(a.sw.internalErrors).toBe(0);
    a1.take();
    // Still a working switch afterwards.
    a.underlay.inject(VTEP_B, vxlanPayload(4097, ethFrame(A1, X)));
    settle(a);
    expect(a1.take()).toHaveLength(1);
  });

  it('traces an encapsulation (VNI, VTEP or head-end) and a decapsulated frame, without learning or sending', () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1);
    const r = a.sw.trace(a1, ethFrame(BROADCAST, A1, 0x0806));
    expect(r.outputs).toContain('vxlan4097');
    expect(r.records.find((x) => x.stage === 'overlay-mtu')?.decision).toBe('fits; encapsulate VNI 4097 from 198.18.0.1:4789 -> head-end to 2 peers (198.18.0.2, 198.18.0.3)');
    a.sw.domains.get('vni4097')!.fdb.addStatic(X, net.vx, 0, VTEP_C);
    expect(a.sw.trace(a1, ethFrame(X, A1)).records.find((x) => x.stage === 'overlay-mtu')?.decision).toMatch(/-> VTEP 198\.18\.0\.3$/);
    // A frame as decapsulated (entering by the overlay port): delivered locally, nothing learned.
    const fromRemote = a.sw.trace(net.vx, ethFrame(A1, 0x02420a140077));
    expect(fromRemote.outputs).toEqual(['a1']);
    expect(a.sw.domains.get('vni4097')!.fdb.get(0x02420a140077)).toBeUndefined();
    expect(a.underlay.take()).toHaveLength(0);
    expect(a1.take()).toHaveLength(0);
  });

  it("learns remote ARP senders of the network's subnet only, and answers without the request's offload fields", () => {
    const a = host(VTEP_A);
    const net = a.net(4097);
    const a1 = net.port('a1', A1, false);
    // A remote sender announcing an address outside 10.20.0.0/16: delivered, not learned.
    a.underlay.inject(VTEP_B, vxlanPayload(4097, arpFrame(ARP_REQUEST, B1, '192.0.2.7', 0, '10.20.0.2')));
    a.underlay.inject(VTEP_B, vxlanPayload(4097, arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2')));
    settle(a);
    expect(a1.take()).toHaveLength(2);
    expect(net.vx.neighbors.get(parseIpv4('192.0.2.7'))).toBeUndefined();
    expect(net.vx.neighbors.lookup(parseIpv4('10.20.0.3'), a.clock.now())).toBe(B1);
    // A request that claims a partial checksum (a container can set any virtio-net fields): the reply
    // carries none, so a port that completes checksums does not write into the ARP body.
    const req = arpFrame(ARP_REQUEST, A1, '10.20.0.2', 0, '10.20.0.3');
    a1.inject(req, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 14, csumOffset: 10 });
    settle(a);
    const got = a1.take();
    expect(got).toHaveLength(1);
    expect(hex(got[0].frame)).toBe(hex(arpFrame(ARP_REPLY, B1, '10.20.0.3', A1, '10.20.0.2')));
  });
});
