/**
 * ipvlan L2 demux over in-memory ports: every member has the parent's MAC; frames are demultiplexed by
 * IPv4 destination and ARP is answered with the parent's MAC. No root.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { addParentMember, createParentNetwork } from '../../../src/dataplane/parent-network-setup.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, ipv4Bytes, macBytes, tcpFrame } from '../../helpers/frames.js';

const PARENT = 0x0a0000000001;
const LAN_HOST = 0x0a00000000aa;
const LAN_IP = '10.70.0.1';
const IP1 = '10.70.0.2';
const IP2 = '10.70.0.3';
const SHIM_IP = '10.70.0.254';
const HOST_IP = '10.70.0.100'; // the parent's own address
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Ethernet + ARP (Ethernet/IPv4), padded to 60 bytes as on the wire. */
function arpFrame(op: 1 | 2, ethDst: number, sha: number, spa: string, tha: number, tpa: string): Uint8Array {
  const body = [0, 1, 8, 0, 6, 4, 0, op, ...macBytes(sha), ...ipv4Bytes(spa), ...macBytes(tha), ...ipv4Bytes(tpa), ...new Array(18).fill(0)];
  return ethFrame(ethDst, sha, 0x0806, body);
}

function ipFrame(dst: number, src: number, srcIp: string, dstIp: string): Uint8Array {
  return tcpFrame({ dst, src, srcIp, dstIp, sport: 40000, dport: 5201, payloadLen: 20 }).frame;
}

function topology(opts: { shim?: boolean } = {}) {
  const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
  const up = new MemoryPort('p0');
  const net = createParentNetwork(sw, 'iv', up, { kind: 'ipvlan', mode: 'bridge', parentMac: PARENT });
  const kids = [IP1, IP2].map((ip, i) => {
    const p = new MemoryPort(`c${i + 1}`, { ownIp: parseIpv4(ip) });
    addParentMember(sw, net, p, { ip: parseIpv4(ip) });
    return p;
  });
  let shim: MemoryPort | null = null;
  if (opts.shim) {
    shim = new MemoryPort('shim', { ownIp: parseIpv4(SHIM_IP) });
    addParentMember(sw, net, shim, { ip: parseIpv4(SHIM_IP), shim: true });
  }
  const all = [up, ...kids, ...(shim ? [shim] : [])];
  const out = () => Object.fromEntries(all.map((p) => [p.name, p.take().map((f) => hex(f.frame))]));
  return { sw, net, up, kids, shim, out };
}

describe('ipvlan L2 demux', () => {
  it('answers the LAN\'s ARP request for a child with the parent\'s MAC, back out the parent', () => {
    const { sw, up, out } = topology();
    up.inject(arpFrame(1, BROADCAST, LAN_HOST, LAN_IP, 0, IP2));
    sw.drain();
    const o = out();
    expect(o.c1).toEqual([]);
    expect(o.c2).toEqual([]);
    expect(o.p0).toEqual([hex(arpFrame(2, LAN_HOST, PARENT, IP2, LAN_HOST, LAN_IP))]);
  });

  it('does not answer for addresses that are no child\'s, nor gratuitous ARPs: those are flooded to the children', () => {
    const { sw, up, out } = topology();
    const forHost = arpFrame(1, BROADCAST, LAN_HOST, LAN_IP, 0, HOST_IP);
    const gratuitous = arpFrame(1, BROADCAST, LAN_HOST, IP1, 0, IP1);
    up.inject(forHost);
    up.inject(gratuitous);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(forHost), hex(gratuitous)], c2: [hex(forHost), hex(gratuitous)] });
  });

  it('demultiplexes unicast to the parent\'s MAC by IPv4 destination, and ARP replies by target', () => {
    const { sw, up, out } = topology();
    const toC2 = ipFrame(PARENT, LAN_HOST, LAN_IP, IP2);
    const replyToC1 = arpFrame(2, PARENT, LAN_HOST, LAN_IP, PARENT, IP1);
    up.inject(toC2);
    up.inject(replyToC1);
    up.inject(ipFrame(PARENT, LAN_HOST, LAN_IP, HOST_IP)); // the host's own traffic
    up.inject(ipFrame(0x0a00000000bb, LAN_HOST, LAN_IP, IP1)); // to another MAC
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(replyToC1)], c2: [hex(toC2)] });
    expect(up.counters.dropCount('uplink-no-member')).toBe(2);
  });

  it('answers a child\'s ARP for a sibling locally and switches sibling traffic by address', () => {
    const { sw, kids, out } = topology();
    kids[0].inject(arpFrame(1, BROADCAST, PARENT, IP1, 0, IP2));
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(arpFrame(2, PARENT, PARENT, IP2, PARENT, IP1))], c2: [] });
    const toC2 = ipFrame(PARENT, PARENT, IP1, IP2);
    kids[0].inject(toC2);
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [], c2: [hex(toC2)] });
  });

  it('sends a child\'s frames for the LAN out with the parent\'s MAC as source, ARP sender included', () => {
    const { sw, kids, out } = topology();
    const OTHER = 0x02420a460002; // the child changed its interface's MAC
    kids[0].inject(ipFrame(LAN_HOST, OTHER, IP1, LAN_IP));
    kids[0].inject(arpFrame(1, BROADCAST, OTHER, IP1, 0, LAN_IP));
    sw.drain();
    const o = out();
    expect(o.p0).toEqual([hex(ipFrame(LAN_HOST, PARENT, IP1, LAN_IP)), hex(arpFrame(1, BROADCAST, PARENT, IP1, 0, LAN_IP))]);
    expect(o.c2).toEqual([hex(arpFrame(1, BROADCAST, PARENT, IP1, 0, LAN_IP))]); // a broadcast reaches siblings too
  });

  it('drops a child\'s frame for the host\'s own address (only the shim reaches the host), and a spoofed source address', () => {
    const { sw, kids, out } = topology();
    kids[0].inject(ipFrame(PARENT, PARENT, IP1, HOST_IP));
    kids[0].inject(ipFrame(LAN_HOST, PARENT, IP2, LAN_IP)); // claims the sibling's address
    sw.drain();
    expect(Object.values(out()).flat()).toEqual([]);
    expect(kids[0].counters.dropCount('ipvlan-to-host')).toBe(1);
    expect(kids[0].counters.dropCount('spoofed-src-ip')).toBe(1);
  });

  it('lets the host shim and the children reach each other; LAN broadcasts skip the shim (the host has them already)', () => {
    const { sw, up, kids, shim, out } = topology({ shim: true });
    shim!.inject(arpFrame(1, BROADCAST, PARENT, SHIM_IP, 0, IP1));
    sw.drain();
    expect(out().shim).toEqual([hex(arpFrame(2, PARENT, PARENT, IP1, PARENT, SHIM_IP))]);
    const toShim = ipFrame(PARENT, PARENT, IP1, SHIM_IP);
    kids[0].inject(toShim);
    sw.drain();
    expect(out().shim).toEqual([hex(toShim)]);
    const bcast = arpFrame(1, BROADCAST, LAN_HOST, LAN_IP, 0, HOST_IP);
    up.inject(bcast);
    up.inject(ipFrame(PARENT, LAN_HOST, LAN_IP, SHIM_IP)); // the host gets it through the parent itself
    sw.drain();
    expect(out()).toEqual({ p0: [], c1: [hex(bcast)], c2: [hex(bcast)], shim: [] });
    expect(up.counters.dropCount('uplink-no-member')).toBe(1);
    void kids;
  });

  it('on a dual-stack network demultiplexes IPv6 by destination address, from the LAN and between members', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(1000), poolSlots: 64 });
    const up = new MemoryPort('p0');
    const net = createParentNetwork(sw, 'iv6', up, { kind: 'ipvlan', mode: 'bridge', parentMac: PARENT });
    const a6 = (last: number) => Uint8Array.from([0xfd, 0, 0, 0x70, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
    const kids = [2, 3].map((n, i) => {
      const p = new MemoryPort(`c${i + 1}`);
      addParentMember(sw, net, p, { ip: parseIpv4(`10.70.0.${n}`), ip6: a6(n) });
      return p;
    });
    const v6 = (dst: number, src: number, srcIp: Uint8Array, dstIp: Uint8Array) => ethFrame(dst, src, 0x86dd, [0x60, 0, 0, 0, 0, 8, 17, 64, ...srcIp, ...dstIp, 0x9c, 0x40, 0x14, 0x51, 0, 8, 0, 0]);
    up.inject(v6(PARENT, LAN_HOST, a6(1), a6(3)));
    up.inject(v6(PARENT, LAN_HOST, a6(1), a6(9))); // nobody's: the host's own traffic
    kids[0].inject(v6(PARENT, PARENT, a6(2), a6(3)));
    kids[0].inject(v6(PARENT, PARENT, a6(2), a6(0x99))); // not a member: for the host
    sw.drain();
    expect(kids[1].take()).toHaveLength(2);
    expect(kids[0].take()).toHaveLength(0);
    expect(up.counters.dropCount('uplink-no-member')).toBe(1);
    expect(kids[0].counters.dropCount('ipvlan-to-host')).toBe(1);
  });
});
