/**
 * Explanations cost nothing when nobody asked for them: the stages format their drop reasons and
 * decisions (MACs, addresses, labels) only while a trace runs. formatMac and formatIpv4 are wrapped in
 * counters; frames that take the drop paths of macvlan, ipvlan, lb and overlay-mtu must not call them
 * in a normal burst, and a trace of the same frame still explains itself.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { MemoryUnderlay } from '../../../src/dataplane/overlay/memory-underlay.js';
import { addParentMember, createParentNetwork } from '../../../src/dataplane/parent-network-setup.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { vipMac } from '../../../src/lb/load-balancer.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { ethFrame, tcpFrame } from '../../helpers/frames.js';

const calls = vi.hoisted(() => ({ mac: 0, ipv4: 0 }));
vi.mock('../../../src/packet/mac.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/packet/mac.js')>();
  return {
    ...real,
    formatMac: (m: number) => {
      calls.mac++;
      return real.formatMac(m);
    },
  };
});
vi.mock('../../../src/packet/ipv4.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/packet/ipv4.js')>();
  return {
    ...real,
    formatIpv4: (a: number) => {
      calls.ipv4++;
      return real.formatIpv4(a);
    },
  };
});

const PARENT = 0x0a0000000001;
const LAN_HOST = 0x0a00000000aa;

beforeEach(() => {
  calls.mac = calls.ipv4 = 0;
});

const formatted = () => calls.mac + calls.ipv4;
/** A stage's decision (or drop) for `frame` from `port`, by trace. */
const traced = (sw: SwitchEngine, port: MemoryPort, frame: Uint8Array, stage: string) =>
  sw.trace(port, frame).records.find((r) => r.stage === stage)?.decision;

describe('no explanation strings without a trace', () => {
  it('macvlan: LAN frames for nobody and hairpinned private frames are dropped without formatting', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const up = new MemoryPort('p0');
    const net = createParentNetwork(sw, 'mv', up, { kind: 'macvlan', mode: 'private', parentMac: PARENT });
    const a = new MemoryPort('c1', { ownMac: 0x02420a000002 });
    const b = new MemoryPort('c2', { ownMac: 0x02420a000003 });
    addParentMember(sw, net, a, { mac: 0x02420a000002 });
    addParentMember(sw, net, b, { mac: 0x02420a000003 });
    calls.mac = calls.ipv4 = 0;
    for (let i = 0; i < 20; i++) up.inject(ethFrame(0x0a00000000bb + i, LAN_HOST)); // other LAN hosts' traffic
    up.inject(ethFrame(0x02420a000003, 0x02420a000002)); // c1 -> c2 hairpinned back (mode private)
    a.inject(ethFrame(0x02420a000003, 0x02420a000002)); // c1 -> c2 directly (mode private)
    sw.drain();
    expect(up.counters.dropCount('uplink-no-member')).toBe(20);
    expect(up.counters.dropCount('macvlan-private')).toBe(1);
    expect(a.counters.dropCount('macvlan-private')).toBe(1);
    expect(formatted()).toBe(0);
    expect(traced(sw, up, ethFrame(0x0a00000000bb, LAN_HOST), 'macvlan')).toBe('drop uplink-no-member: 0a:00:00:00:00:bb is no member of this network');
    expect(traced(sw, a, ethFrame(0x02420a000003, 0x02420a000002), 'macvlan')).toBe('drop macvlan-private: c1 -> c2 is container to container (mode private)');
  });

  it('ipvlan: frames to another MAC or to the host\'s own address are dropped without formatting', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const up = new MemoryPort('p0');
    const net = createParentNetwork(sw, 'iv', up, { kind: 'ipvlan', mode: 'bridge', parentMac: PARENT });
    const c1 = new MemoryPort('c1', { ownIp: parseIpv4('10.70.0.2') });
    addParentMember(sw, net, c1, { ip: parseIpv4('10.70.0.2') });
    calls.mac = calls.ipv4 = 0;
    const toHost = tcpFrame({ dst: PARENT, src: LAN_HOST, srcIp: '10.70.0.1', dstIp: '10.70.0.100', sport: 1, dport: 2, payloadLen: 10 }).frame;
    const otherMac = ethFrame(0x0a00000000bb, LAN_HOST);
    for (let i = 0; i < 10; i++) up.inject(toHost);
    for (let i = 0; i < 10; i++) up.inject(otherMac);
    up.inject(ethFrame(PARENT, LAN_HOST, 0x86dd)); // no IPv4 destination
    sw.drain();
    expect(up.counters.dropCount('uplink-no-member')).toBe(21);
    expect(formatted()).toBe(0);
    expect(traced(sw, up, toHost, 'ipvlan')).toBe('drop uplink-no-member: 10.70.0.100 is no container of this network (the host\'s own traffic)');
    expect(traced(sw, up, otherMac, 'ipvlan')).toBe('drop uplink-no-member: 0a:00:00:00:00:bb is not the parent\'s MAC 0a:00:00:00:00:01');
  });

  it('lb: frames to a VIP that no service takes, fragments and stray segments are dropped without formatting', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const domain = sw.createDomain('net1');
    const client = new MemoryPort('client', { ownMac: 0x02420a010002 });
    const server = new MemoryPort('rs0', { ownMac: 0x02420a01000a });
    sw.addPort(client, domain);
    sw.addPort(server, domain);
    const vip = parseIpv4('10.1.0.100');
    const svc = sw.lb.addService(domain, { protocol: 'tcp', vip, port: 80, scheduler: 'rr', persistTimeout: 0 });
    sw.lb.addServer(svc, { ip: parseIpv4('10.1.0.10'), port: 8080, weight: 1, method: 'nat', mac: 0x02420a01000a });
    calls.mac = calls.ipv4 = 0;
    const f = (dport: number, flags: number) => tcpFrame({ dst: vipMac(vip), src: 0x02420a010002, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport, flags, payloadLen: 0 }).frame;
    const noService = f(81, 0x02);
    const stray = f(80, 0x10);
    const fragment = f(80, 0x02).slice();
    fragment[20] = 0x20; // MF
    for (const x of [noService, stray, fragment]) client.inject(x);
    sw.drain();
    expect(client.counters.dropsByReason()).toEqual({ 'lb-no-service': 1, 'lb-no-conn': 1, 'lb-fragment': 1 });
    expect(formatted()).toBe(0);
    expect(traced(sw, client, noService, 'lb')).toBe('drop lb-no-service: no TCP service on 10.1.0.100:81');
    expect(traced(sw, client, stray, 'lb')).toBe('drop lb-no-conn: ACK from 10.1.0.2:40000 to 10.1.0.100:80 matches no connection');
  });

  it('overlay-mtu: a frame too big for the underlay gets its ICMP without formatting', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const vtep = parseIpv4('198.18.0.1');
    const sock = new VtepSocketPort('vtep', new MemoryUnderlay(vtep));
    sw.addDetachedPort(sock);
    const domain = sw.createDomain('vni4097');
    const vx = new VxlanPort('vxlan4097', { vni: 4097, vtep: sock, peers: [parseIpv4('198.18.0.2')], underlayMtu: 1500, subnet: { network: parseIpv4('10.20.0.0'), prefixLen: 16 } });
    sock.attach(vx);
    sw.addPort(vx, domain);
    const a1 = new MemoryPort('a1', { ownMac: 0x02420a140002 });
    sw.addPort(a1, domain);
    const X = 0x02420a140009;
    domain.fdb.addStatic(X, vx, 0, parseIpv4('198.18.0.2'));
    calls.mac = calls.ipv4 = 0;
    const big = tcpFrame({ dst: X, src: 0x02420a140002, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 1460 }).frame;
    a1.inject(big);
    sw.drain();
    expect(a1.counters.dropCount('overlay-mtu-exceeded')).toBe(1);
    expect(a1.take()).toHaveLength(1); // the ICMP frag-needed
    expect(formatted()).toBe(0);
    expect(traced(sw, a1, big, 'overlay-mtu')).toMatch(/^drop overlay-mtu-exceeded: 1514-byte frame does not fit vxlan4097 .*ICMP frag-needed \(mtu 1450\) back to 10\.20\.0\.2 via a1$/);
  });
});
