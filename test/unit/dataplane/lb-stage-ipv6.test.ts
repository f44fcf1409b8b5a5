/**
 * The lb stage with IPv6 services over in-memory ports: Neighbor Solicitation for the VIP, NAT both
 * ways with checksums (complete and NEEDS_CSUM), DR, ping6 to the VIP, persistence by client address,
 * IPv4 and IPv6 clients that fold alike kept apart, extension headers and fragments dropped by name,
 * and an IPv4 service on the same network left as it was.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { GSO_NONE, VNET_F_NEEDS_CSUM } from '../../../src/dataplane/layout.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { PROTO_V6, STATE_ESTABLISHED } from '../../../src/lb/conn-table.js';
import { vipMac, vipMac6 } from '../../../src/lb/load-balancer.js';
import type { ForwardMethod } from '../../../src/lb/real-server.js';
import { completePartialChecksum, ethFrame, ipv6Bytes, l4Checksum6Valid, l4Frame6, macBytes, tcpChecksumsValid, tcpFrame } from '../../helpers/frames.js';

const v6 = (s: string) => Uint8Array.from(ipv6Bytes(s));
const CLIENT = 0x02420a010002;
const SERVERS = [0x02420a01000a, 0x02420a01000b, 0x02420a01000c];
const VIP = 'fd00:1::100';
const VIP_MAC = vipMac6(v6(VIP), 0);
const CLIENT_IP = 'fd00:1::2';
const SYN = 0x02, ACK = 0x10;

function topology(method: ForwardMethod = 'nat', persistTimeout = 0) {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots: 64, lb: { connCapacity: 4096 } });
  const net = sw.createDomain('net1');
  const client = new MemoryPort('client', { ownMac: CLIENT });
  const servers = SERVERS.map((m, i) => new MemoryPort(`rs${i}`, { ownMac: m }));
  for (const p of [client, ...servers]) sw.addPort(p, net);
  const lb = sw.lb;
  const svc = lb.addService(net, { protocol: 'tcp', vip: v6(VIP), port: 80, scheduler: 'rr', persistTimeout });
  const rs = SERVERS.map((m, i) => lb.addServer(svc, { ip: v6(`fd00:1::${10 + i}`), port: method === 'nat' ? 8080 : 80, weight: 1, method, mac: m }));
  return { sw, net, client, servers, lb, svc, rs, clock };
}

const toVip = (sport: number, flags: number, payloadLen = 0, partialCsum = false, srcIp = CLIENT_IP) =>
  l4Frame6({ dst: VIP_MAC, src: CLIENT, srcIp, dstIp: VIP, proto: 6, sport, dport: 80, flags, payloadLen, partialCsum });

const out = (port: MemoryPort) => port.take().map((f) => f.frame);
const mac = (f: Uint8Array, o: number) => Array.from(f.subarray(o, o + 6));
const addr = (f: Uint8Array, o: number) => Array.from(f.subarray(o, o + 16));
const port16 = (f: Uint8Array, o: number) => (f[o] << 8) | f[o + 1];

/** An NS from the client for `target`, to its solicited-node group, with a source link-layer option. */
function neighborSolicit(target: string, src = CLIENT_IP): Uint8Array {
  const t = ipv6Bytes(target);
  const group = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]];
  const icmp = [135, 0, 0, 0, 0, 0, 0, 0, ...t, 1, 1, ...macBytes(CLIENT)];
  const ip = [0x60, 0, 0, 0, 0, icmp.length, 58, 255, ...ipv6Bytes(src), ...group];
  const f = ethFrame(0x3333ff000000 + t[13] * 65536 + t[14] * 256 + t[15], CLIENT, 0x86dd, [...ip, ...icmp]);
  fixIcmp6(f);
  return f;
}

function fixIcmp6(f: Uint8Array): void {
  const len = port16(f, 18);
  f[56] = f[57] = 0;
  let s = 58 + len;
  for (let i = 22; i < 54; i += 2) s += port16(f, i);
  for (let i = 54; i < 54 + len; i += 2) s += (f[i] << 8) | (i + 1 < 54 + len ? f[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  f[56] = c >> 8;
  f[57] = c & 0xff;
}

function echoRequest(dst: string): Uint8Array {
  const icmp = [128, 0, 0, 0, 0x12, 0x34, 0, 1, ...new Array(24).fill(0).map((_, i) => i)];
  const f = ethFrame(VIP_MAC, CLIENT, 0x86dd, [0x60, 0, 0, 0, 0, icmp.length, 58, 64, ...ipv6Bytes(CLIENT_IP), ...ipv6Bytes(dst), ...icmp]);
  fixIcmp6(f);
  return f;
}

describe('lb stage, IPv6', () => {
  it('answers a Neighbor Solicitation for the VIP with its switch-owned MAC, back out of the ingress port; DAD probes and other targets go on', () => {
    const { sw, client, servers } = topology();
    client.inject(neighborSolicit(VIP));
    sw.drain();
    const [na] = out(client);
    expect(na).toBeDefined();
    expect(mac(na, 0)).toEqual(macBytes(CLIENT));
    expect(mac(na, 6)).toEqual(macBytes(VIP_MAC));
    expect(na[54]).toBe(136);
    expect(addr(na, 22)).toEqual(ipv6Bytes(VIP)); // from the VIP
    expect(addr(na, 38)).toEqual(ipv6Bytes(CLIENT_IP)); // to the soliciting node
    expect(addr(na, 62)).toEqual(ipv6Bytes(VIP)); // target
    expect(mac(na, 80)).toEqual(macBytes(VIP_MAC)); // target link-layer option
    expect(l4Checksum6Valid(na)).toBe(true);
    for (const s of servers) expect(out(s)).toHaveLength(0);
    client.inject(neighborSolicit(VIP, '::')); // DAD for the VIP: not ours to answer, flooded
    client.inject(neighborSolicit('fd00:1::10')); // a server's address: the server answers
    sw.drain();
    expect(out(client)).toHaveLength(0);
    expect(out(servers[0])).toHaveLength(2);
  });

  it('NAT: SYNs are spread round robin to the servers rewritten; the reply comes back from the VIP; checksums verify', () => {
    const { sw, client, servers, rs, svc, lb } = topology();
    for (let i = 0; i < 3; i++) client.inject(toVip(40000 + i, SYN, 10).frame);
    sw.drain();
    const got = servers.map((s) => out(s));
    expect(got.map((g) => g.length)).toEqual([1, 1, 1]);
    for (let i = 0; i < 3; i++) {
      const f = got[i][0];
      expect(mac(f, 0)).toEqual(macBytes(SERVERS[i]));
      expect(addr(f, 38)).toEqual(ipv6Bytes(`fd00:1::${10 + i}`));
      expect(addr(f, 22)).toEqual(ipv6Bytes(CLIENT_IP));
      expect(port16(f, 56)).toBe(8080);
      expect(l4Checksum6Valid(f)).toBe(true);
    }
    servers[1].inject(l4Frame6({ dst: CLIENT, src: SERVERS[1], srcIp: 'fd00:1::11', dstIp: CLIENT_IP, proto: 6, sport: 8080, dport: 40001, flags: SYN | ACK, payloadLen: 0 }).frame);
    sw.drain();
    const [back] = out(client);
    expect(addr(back, 22)).toEqual(ipv6Bytes(VIP));
    expect(port16(back, 54)).toBe(80);
    expect(mac(back, 6)).toEqual(macBytes(VIP_MAC));
    expect(l4Checksum6Valid(back)).toBe(true);
    client.inject(toVip(40001, ACK).frame);
    sw.drain();
    expect(out(servers[1])).toHaveLength(1);
    expect(rs[1].activeConns).toBe(1);
    expect(svc.stats.conns).toBe(3);
    expect(svc.stats.outPkts).toBe(1);
    lb.conns.key6.set([0xfd000001, 0, 0, 2]);
    const e = lb.conns.lookup(6 + PROTO_V6, lb.conns.cip[lb.conns.entries().next().value!], 40001, svc.vip, 80, 1000);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(lb.conns.state[e]).toBe(STATE_ESTABLISHED);
    expect(sw.domains.get('net1')!.fdb.lookup(VIP_MAC)).toBeUndefined();
  });

  it('NAT with NEEDS_CSUM: the partial checksum, completed afterwards, verifies', () => {
    const { sw, client, servers } = topology();
    client.inject(toVip(41000, SYN).frame);
    sw.drain();
    const first = servers.findIndex((s) => s.take().length === 1);
    const { frame, csumStart, csumOffset } = toVip(41000, ACK | 0x08, 1000, true);
    client.inject(frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart, csumOffset });
    sw.drain();
    const [f] = servers[first].take();
    expect(f.vnet.flags & VNET_F_NEEDS_CSUM).toBeTruthy();
    const g = f.frame.slice();
    completePartialChecksum(g, csumStart, csumOffset);
    expect(l4Checksum6Valid(g)).toBe(true);
    expect(addr(g, 38)).toEqual(ipv6Bytes(`fd00:1::${10 + first}`));
  });

  it('DR rewrites only the destination MAC', () => {
    const { sw, client, servers } = topology('dr');
    const { frame } = toVip(45000, SYN, 20);
    client.inject(frame);
    sw.drain();
    const [f] = out(servers[0]);
    expect(mac(f, 0)).toEqual(macBytes(SERVERS[0]));
    expect(Array.from(f.subarray(6))).toEqual(Array.from(frame.subarray(6)));
  });

  it('answers ping6 to the VIP (echo reply from the VIP, checksum valid); no server sees it', () => {
    const { sw, client, servers } = topology();
    client.inject(echoRequest(VIP));
    sw.drain();
    const [r] = out(client);
    expect(r[54]).toBe(129);
    expect(addr(r, 22)).toEqual(ipv6Bytes(VIP));
    expect(addr(r, 38)).toEqual(ipv6Bytes(CLIENT_IP));
    expect(mac(r, 6)).toEqual(macBytes(VIP_MAC));
    expect(port16(r, 58)).toBe(0x1234);
    expect(l4Checksum6Valid(r)).toBe(true);
    for (const s of servers) expect(out(s)).toHaveLength(0);
  });

  it('persistence pins a client by its whole IPv6 address; another client is scheduled on its own', () => {
    const { sw, client, servers, svc } = topology('nat', 300);
    for (let i = 0; i < 4; i++) client.inject(toVip(42000 + i, SYN).frame);
    client.inject(toVip(42100, SYN, 0, false, 'fd00:1::3').frame);
    sw.drain();
    const counts = servers.map((s) => s.take().length);
    expect(counts.filter((n) => n > 0).length).toBe(2);
    expect(counts.includes(4)).toBe(true);
    expect(svc.templates.size).toBe(2);
  });

  it('drops extension headers, fragments and non-SYN TCP to the VIP by name; nothing reaches a server', () => {
    const { sw, client, servers } = topology();
    const frag = toVip(43000, SYN).frame;
    frag[20] = 44; // next header: Fragment
    const hbh = toVip(43001, SYN).frame;
    hbh[20] = 0; // Hop-by-Hop options
    client.inject(frag);
    client.inject(hbh);
    client.inject(toVip(43002, ACK, 10).frame);
    client.inject(l4Frame6({ dst: VIP_MAC, src: CLIENT, srcIp: CLIENT_IP, dstIp: VIP, proto: 6, sport: 1, dport: 443, flags: SYN, payloadLen: 0 }).frame);
    const short = toVip(43003, SYN).frame.subarray(0, 14 + 40 + 10);
    client.inject(short);
    sw.drain();
    for (const s of servers) expect(out(s)).toHaveLength(0);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-fragment': 1, 'lb-no-service': 2, 'lb-no-conn': 1, 'lb-malformed': 1 });
  });

  it('an IPv4 service on the same network is untouched by the IPv6 one; their connections carry their family in the protocol key', () => {
    const { sw, client, servers, lb, net } = topology();
    const svc4 = lb.addService(net, { protocol: 'tcp', vip: 0x0a010064, port: 80, scheduler: 'rr', persistTimeout: 0 });
    lb.addServer(svc4, { ip: 0x0a01000a, port: 8080, weight: 1, method: 'nat', mac: SERVERS[0] });
    client.inject(tcpFrame({ dst: vipMac(0x0a010064), src: CLIENT, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 44000, dport: 80, flags: SYN, payloadLen: 0 }).frame);
    client.inject(toVip(44000, SYN).frame);
    sw.drain();
    const got = servers.map((s) => out(s));
    const v4 = got[0].find((f) => f[12] === 8)!;
    expect(tcpChecksumsValid(v4)).toBe(true);
    expect(lb.conns.count).toBe(2);
    const protos = [...lb.conns.entries()].map((e) => lb.conns.proto[e]).sort((a, b) => a - b);
    expect(protos).toEqual([6, 6 + PROTO_V6]);
  });

  it('refuses a server of the other family and frees the VIP handle with the last service', () => {
    const { lb, svc } = topology();
    expect(() => lb.addServer(svc, { ip: 0x0a01000a, port: 80, weight: 1, method: 'nat', mac: 1 })).toThrow(/not IPv6/);
    expect(lb.addrs6.size).toBe(4);
    lb.removeService(svc);
    expect(lb.addrs6.size).toBe(0);
    expect(lb.domains.size).toBe(0);
  });
});
