/**
 * The lb stage over in-memory ports: ARP for the VIP, NAT both ways with checksums, DR and TUN, the
 * scheduler's spread, TCP without a connection, removed and drained servers, and a trace dry run.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { GSO_NONE, VNET_F_NEEDS_CSUM } from '../../../src/dataplane/layout.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { STATE_ESTABLISHED } from '../../../src/lb/conn-table.js';
import { vipMac } from '../../../src/lb/load-balancer.js';
import type { ForwardMethod } from '../../../src/lb/real-server.js';
import { BROADCAST, completePartialChecksum, ethFrame, macBytes, tcpChecksumsValid, tcpFrame } from '../../helpers/frames.js';

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
const CLIENT = 0x02420a010002;
const SERVERS = [0x02420a01000a, 0x02420a01000b, 0x02420a01000c];
const VIP = '10.1.0.100';
const SYN = 0x02, ACK = 0x10;

function topology(method: ForwardMethod = 'nat', scheduler: 'rr' | 'mh' = 'rr', connCapacity?: number, persistTimeout = 0) {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots: 64, lb: { connCapacity: connCapacity ?? 4096 } });
  const net = sw.createDomain('net1');
  const client = new MemoryPort('client', { ownMac: CLIENT });
  const servers = SERVERS.map((m, i) => new MemoryPort(`rs${i}`, { ownMac: m }));
  for (const p of [client, ...servers]) sw.addPort(p, net);
  const lb = sw.lb;
  const svc = lb.addService(net, { protocol: 'tcp', vip: ip(VIP), port: 80, scheduler, persistTimeout });
  const rs = SERVERS.map((m, i) => lb.addServer(svc, { ip: ip(`10.1.0.${10 + i}`), port: method === 'nat' ? 8080 : 80, weight: 1, method, mac: m }));
  return { sw, net, client, servers, lb, svc, rs, clock };
}

function arpRequest(targetIp: string): Uint8Array {
  const p = [0, 1, 8, 0, 6, 4, 0, 1, ...macBytes(CLIENT), 10, 1, 0, 2, 0, 0, 0, 0, 0, 0, ...targetIp.split('.').map(Number)];
  return ethFrame(BROADCAST, CLIENT, 0x0806, [...p, ...new Array(18).fill(0)]);
}

const toVip = (sport: number, flags: number, payloadLen = 0, partialCsum = false) =>
  tcpFrame({ dst: vipMac(ip(VIP)), src: CLIENT, srcIp: '10.1.0.2', dstIp: VIP, sport, dport: 80, flags, payloadLen, partialCsum });

function out(port: MemoryPort) {
  return port.take().map((f) => f.frame);
}

const dstIp = (f: Uint8Array) => `${f[30]}.${f[31]}.${f[32]}.${f[33]}`;
const srcIp = (f: Uint8Array) => `${f[26]}.${f[27]}.${f[28]}.${f[29]}`;
const mac = (f: Uint8Array, o: number) => Array.from(f.subarray(o, o + 6));

describe('lb stage', () => {
  it('answers ARP for the VIP with its switch-owned MAC, out of the ingress port only', () => {
    const { sw, client, servers } = topology();
    client.inject(arpRequest(VIP));
    sw.drain();
    const [reply] = out(client);
    expect(reply).toBeDefined();
    expect(mac(reply, 0)).toEqual(macBytes(CLIENT));
    expect(mac(reply, 6)).toEqual(macBytes(vipMac(ip(VIP))));
    expect((reply[20] << 8) | reply[21]).toBe(2); // reply
    expect(mac(reply, 22)).toEqual(macBytes(vipMac(ip(VIP))));
    expect(Array.from(reply.subarray(28, 32))).toEqual([10, 1, 0, 100]);
    expect(mac(reply, 32)).toEqual(macBytes(CLIENT));
    expect(Array.from(reply.subarray(38, 42))).toEqual([10, 1, 0, 2]);
    for (const s of servers) expect(out(s)).toHaveLength(0);
    // ARP for another address is flooded as usual.
    client.inject(arpRequest('10.1.0.10'));
    sw.drain();
    expect(out(servers[0])).toHaveLength(1);
  });

  it('NAT: a SYN is scheduled round robin and rewritten; the reply comes back from the VIP; checksums verify', () => {
    const { sw, client, servers, rs, svc, lb } = topology();
    for (let i = 0; i < 3; i++) client.inject(toVip(40000 + i, SYN).frame);
    sw.drain();
    const got = servers.map((s) => out(s));
    expect(got.map((g) => g.length)).toEqual([1, 1, 1]);
    for (let i = 0; i < 3; i++) {
      const f = got[i][0];
      expect(mac(f, 0)).toEqual(macBytes(SERVERS[i]));
      expect(mac(f, 6)).toEqual(macBytes(CLIENT));
      expect(dstIp(f)).toBe(`10.1.0.${10 + i}`);
      expect((f[36] << 8) | f[37]).toBe(8080);
      expect(tcpChecksumsValid(f)).toBe(true);
    }
    // Server 0 answers SYN-ACK to the client: source becomes VIP:80 and the VIP's MAC.
    servers[0].inject(tcpFrame({ dst: CLIENT, src: SERVERS[0], srcIp: '10.1.0.10', dstIp: '10.1.0.2', sport: 8080, dport: 40000, flags: SYN | ACK, payloadLen: 0 }).frame);
    sw.drain();
    const [back] = out(client);
    expect(srcIp(back)).toBe(VIP);
    expect((back[34] << 8) | back[35]).toBe(80);
    expect(mac(back, 6)).toEqual(macBytes(vipMac(ip(VIP))));
    expect(tcpChecksumsValid(back)).toBe(true);
    // The client's ACK establishes; data follows on the same server.
    client.inject(toVip(40000, ACK).frame);
    client.inject(toVip(40000, ACK | 0x08, 500).frame);
    sw.drain();
    expect(out(servers[0])).toHaveLength(2);
    expect(rs[0].activeConns).toBe(1);
    expect(rs[1].inactConns).toBe(1);
    expect(svc.stats.conns).toBe(3);
    expect(svc.stats.inPkts).toBe(5);
    expect(svc.stats.outPkts).toBe(1);
    const e = lb.conns.lookup(6, ip('10.1.0.2'), 40000, ip(VIP), 80, 1000);
    expect(lb.conns.state[e]).toBe(STATE_ESTABLISHED);
    // The VIP MAC was never learned on a port.
    expect(sw.domains.get('net1')!.fdb.lookup(vipMac(ip(VIP)))).toBeUndefined();
  });

  it('NAT with NEEDS_CSUM frames: the partial checksum completes to a valid one', () => {
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
    expect(tcpChecksumsValid(g)).toBe(true);
  });

  it('drops TCP that is not a SYN and matches no connection, and frames to an unknown port of the VIP', () => {
    const { sw, client, servers } = topology();
    client.inject(toVip(42000, ACK, 10).frame);
    client.inject(tcpFrame({ dst: vipMac(ip(VIP)), src: CLIENT, srcIp: '10.1.0.2', dstIp: VIP, sport: 1, dport: 443, flags: SYN, payloadLen: 0 }).frame);
    sw.drain();
    for (const s of servers) expect(out(s)).toHaveLength(0);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-no-conn': 1, 'lb-no-service': 1 });
  });

  it('never sends to a removed server; a drained (weight 0) server keeps its connections but gets no new ones', () => {
    const { sw, client, servers, rs, svc, lb } = topology();
    for (let i = 0; i < 3; i++) client.inject(toVip(43000 + i, SYN).frame);
    sw.drain();
    for (const s of servers) s.take();
    lb.editServer(svc, rs[1], { weight: 0 });
    client.inject(toVip(43001, ACK, 10).frame); // existing connection on rs1 continues
    for (let i = 0; i < 4; i++) client.inject(toVip(43100 + i, SYN).frame);
    sw.drain();
    expect(out(servers[1])).toHaveLength(1);
    expect(servers[0].take().length + servers[2].take().length).toBe(4);
    lb.removeServer(svc, rs[0], false);
    client.inject(toVip(43000, ACK, 10).frame); // its connection went with it
    client.inject(toVip(43000, SYN).frame); // the client retries: scheduled to a live server
    sw.drain();
    expect(out(servers[0])).toHaveLength(0);
    expect(out(servers[2])).toHaveLength(1);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-no-conn': 1 });
  });

  it('a SYN reusing the ports of a closed connection is scheduled afresh', () => {
    const { sw, client, servers, rs, svc, lb } = topology();
    client.inject(toVip(44000, SYN).frame);
    sw.drain();
    const first = servers.findIndex((s) => s.take().length === 1);
    client.inject(toVip(44000, 0x04).frame); // RST: CLOSE
    sw.drain();
    servers[first].take();
    lb.editServer(svc, rs[first], { weight: 0 });
    client.inject(toVip(44000, SYN).frame);
    sw.drain();
    expect(out(servers[first])).toHaveLength(0);
    expect(servers.reduce((n, s) => n + s.take().length, 0)).toBe(1);
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

  it('TUN wraps the packet in IP-in-IP to the real server, the NEEDS_CSUM start moved with it', () => {
    const { sw, client, servers } = topology('tun');
    const { frame, csumStart, csumOffset } = toVip(46000, SYN, 0, true);
    client.inject(frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart, csumOffset });
    sw.drain();
    const [f] = servers[0].take();
    expect(f.frame.length).toBe(frame.length + 20);
    expect(mac(f.frame, 0)).toEqual(macBytes(SERVERS[0]));
    expect(f.frame[23]).toBe(4);
    expect(srcIp(f.frame)).toBe(VIP);
    expect(dstIp(f.frame)).toBe('10.1.0.10');
    expect(Array.from(f.frame.subarray(34))).toEqual(Array.from(frame.subarray(14)));
    expect(f.vnet.csumStart).toBe(csumStart + 20);
  });

  it('TUN drops a packet too long for IP-in-IP (inner over 65515 bytes) as lb-malformed; 65515 still goes', () => {
    const { sw, client, servers } = topology('tun');
    // 20 IPv4 + 20 TCP + payload: total length 65516, then 65515.
    const tooLong = toVip(46100, SYN, 65516 - 40).frame;
    expect((tooLong[16] << 8) | tooLong[17]).toBe(65516);
    client.inject(tooLong);
    sw.drain();
    for (const s of servers) expect(s.take()).toHaveLength(0);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-malformed': 1 });
    client.inject(toVip(46102, SYN, 65515 - 40).frame);
    sw.drain();
    const got = servers.flatMap((s) => s.take());
    expect(got).toHaveLength(1);
    expect((got[0].frame[16] << 8) | got[0].frame[17]).toBe(65535);
    expect((got[0].frame[36] << 8) | got[0].frame[37]).toBe(65515);
  });

  it('a trace after a connection expired changes nothing: the entry stays for the sweep, no onRemove', () => {
    const { sw, client, servers, lb, rs, clock } = topology();
    client.inject(toVip(47100, SYN).frame);
    sw.drain();
    const first = servers.findIndex((s) => s.take().length === 1);
    expect(lb.conns.count).toBe(1);
    clock.advance(61); // SYN_RECV times out after 60 s
    const removed: number[] = [];
    const hook = lb.conns.onRemove;
    lb.conns.onRemove = (e) => {
      removed.push(e);
      hook?.(e);
    };
    const r = sw.trace(client, toVip(47100, SYN).frame);
    expect(r.records.find((x) => x.stage === 'lb')!.decision).toMatch(/would pick/);
    // The server's reply, traced: the reply index finds the expired entry and leaves it too.
    sw.trace(servers[first], tcpFrame({ dst: CLIENT, src: SERVERS[first], srcIp: `10.1.0.${10 + first}`, dstIp: '10.1.0.2', sport: 8080, dport: 47100, flags: SYN | ACK, payloadLen: 0 }).frame);
    expect(removed).toEqual([]);
    expect(lb.conns.count).toBe(1);
    expect(lb.conns.expired).toBe(0);
    expect(rs[first].connections).toBe(1);
    sw.periodic();
    expect(lb.conns.count).toBe(0);
    expect(removed).toHaveLength(1);
    expect(rs[first].connections).toBe(0);
  });

  it('trace explains the decision without making a connection', () => {
    const { sw, client, lb } = topology('nat', 'mh');
    const r = sw.trace(client, toVip(47000, SYN).frame);
    expect(r.records.find((x) => x.stage === 'lb')!.decision).toMatch(/scheduler mh would pick 10\.1\.0\.1[0-2]:8080/);
    expect(lb.conns.count).toBe(0);
  });

  it('a full connection table refuses new connections and counts them; expiry frees entries and server counts', () => {
    const { sw, client, servers, lb, rs, clock } = topology('nat', 'rr', 2);
    for (let i = 0; i < 3; i++) client.inject(toVip(48000 + i, SYN).frame);
    sw.drain();
    expect(servers.reduce((n, s) => n + s.take().length, 0)).toBe(2);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-table-full': 1 });
    expect(lb.conns.refusedFull).toBe(1);
    expect(rs[0].inactConns + rs[1].inactConns).toBe(2);
    clock.advance(61); // SYN_RECV times out after 60 s
    sw.periodic();
    expect(lb.conns.count).toBe(0);
    expect(rs.map((r) => r.connections)).toEqual([0, 0, 0]);
    client.inject(toVip(48002, SYN).frame);
    sw.drain();
    expect(servers.reduce((n, s) => n + s.take().length, 0)).toBe(1);
  });

  it('no available server: the SYN is dropped as lb-no-server', () => {
    const { sw, client, servers, lb, rs, svc } = topology();
    for (const r of rs) lb.editServer(svc, r, { weight: 0 });
    client.inject(toVip(49000, SYN).frame);
    sw.drain();
    for (const s of servers) expect(out(s)).toHaveLength(0);
    expect(client.counters.dropsByReason()).toEqual({ 'lb-no-server': 1 });
    expect(svc.noServer).toBe(1);
  });

  it('persistence sends a client\'s new connections to the same server until the template expires', () => {
    const { sw, client, servers, clock } = topology('nat', 'rr', undefined, 30);
    const where = () => servers.findIndex((s) => s.take().length === 1);
    client.inject(toVip(50000, SYN).frame);
    sw.drain();
    const first = where();
    for (let i = 1; i < 4; i++) {
      client.inject(toVip(50000 + i, SYN).frame);
      sw.drain();
      expect(where()).toBe(first);
    }
    clock.advance(100); // connections (SYN_RECV, 60 s) and the template (30 s) expire
    sw.periodic();
    client.inject(toVip(50100, SYN).frame);
    sw.drain();
    expect(where()).not.toBe(first);
  });

  it('answers a ping to the VIP itself, as IPVS\'s director does: an echo reply from the VIP, checksums right', () => {
    const { sw, client, servers } = topology();
    const vm = vipMac(ip(VIP));
    const icmp = [8, 0, 0, 0, 0x12, 0x34, 0, 1, ...Array.from({ length: 56 }, (_, i) => i)];
    const sum = (b: number[]) => {
      let x = 0;
      for (let i = 0; i < b.length; i += 2) x += (b[i] << 8) | (b[i + 1] ?? 0);
      while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
      return ~x & 0xffff;
    };
    const ic = sum(icmp);
    icmp[2] = ic >> 8;
    icmp[3] = ic & 0xff;
    const hdr = [0x45, 0, 0, 20 + icmp.length, 0, 1, 0x40, 0, 63, 1, 0, 0, 10, 1, 0, 2, 10, 1, 0, 100];
    const hc = sum(hdr);
    hdr[10] = hc >> 8;
    hdr[11] = hc & 0xff;
    client.inject(ethFrame(vm, CLIENT, 0x0800, [...hdr, ...icmp]));
    sw.drain();
    const [reply] = out(client);
    expect(reply).toBeDefined();
    expect(mac(reply, 0)).toEqual(macBytes(CLIENT));
    expect(mac(reply, 6)).toEqual(macBytes(vm));
    expect([srcIp(reply), dstIp(reply)]).toEqual([VIP, '10.1.0.2']);
    expect(reply[34]).toBe(0); // echo reply
    expect(sum(Array.from(reply.subarray(14, 34)))).toBe(0);
    expect(sum(Array.from(reply.subarray(34)))).toBe(0);
    expect(Array.from(reply.subarray(38, 42))).toEqual([0x12, 0x34, 0, 1]); // id and sequence kept
    for (const sv of servers) expect(out(sv)).toHaveLength(0);
    expect(client.counters.totalDrops()).toBe(0);
  });

  it('malformed frames to the VIP are dropped with a named reason, never a crash', () => {
    const { sw, client, servers } = topology();
    const vm = vipMac(ip(VIP));
    const truncated = toVip(51000, SYN).frame.slice(0, 14 + 20 + 10);
    truncated[16] = 0;
    truncated[17] = 30; // IP total length 30: a 10-byte TCP header
    const fragment = toVip(51001, SYN).frame.slice();
    fragment[20] = 0x20; // MF
    const icmp = toVip(51002, SYN).frame.slice();
    icmp[23] = 1;
    const badTotal = toVip(51003, SYN).frame.slice();
    badTotal[16] = 0xff; // total length past the frame
    for (const f of [truncated, fragment, icmp, badTotal]) client.inject(f);
    sw.drain();
    expect(client.counters.dropsByReason()).toEqual({ 'lb-malformed': 2, 'lb-fragment': 1, 'lb-no-service': 1 });
    // Random bytes behind an Ethernet + IPv4 header to the VIP: counted, no stage throws.
    let seed = 1;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24);
    for (let k = 0; k < 300; k++) {
      const f = toVip(52000 + k, SYN, 40).frame.slice(0, 34 + (k % 60));
      for (let i = 14; i < f.length; i++) if (i < 30 || i > 33) f[i] = rnd();
      f.set(macBytes(vm), 0);
      client.inject(f);
      sw.drain();
    }
    expect(sw.internalErrors).toBe(0);
    for (const s of servers) s.take();
  });
});
