/**
 * Trace frame specs: each accepted form builds the frame a container would send (MACs from the
 * network, checksums right), and runs through the pipeline's dry run to the expected decision — a
 * known, an unknown and a broadcast destination; anything else is an error listing the forms.
 */
import { describe, expect, it } from 'vitest';
import { buildFrame, destinationMac, type FrameSpecNetwork } from '../../../src/capture/frame-spec.js';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { fold, tcpChecksumsValid } from '../../helpers/frames.js';

const WEB1 = 0x02420a000002;
const WEB2 = 0x02420a000003;
const GW = 0x02420a000001;
const hosts = new Map([
  [parseIpv4('10.0.0.2'), WEB1],
  [parseIpv4('10.0.0.3'), WEB2],
  [parseIpv4('10.0.0.1'), GW],
]);
const net: FrameSpecNetwork = {
  srcMac: WEB1,
  srcIp: parseIpv4('10.0.0.2'),
  subnet: { address: parseIpv4('10.0.0.0'), prefixLen: 24 },
  gateway: { ip: parseIpv4('10.0.0.1'), mac: GW },
  macOf: (ip) => hosts.get(ip),
};
const hex = (b: Uint8Array, from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('hex');
const sum16 = (b: Uint8Array, off: number, len: number) => {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (b[off + i + 1] ?? 0);
  return s;
};

describe('frame specs', () => {
  it('builds an ICMP echo request with the endpoint MACs and valid checksums', () => {
    const { frame, summary } = buildFrame('icmp 10.0.0.2 > 10.0.0.3', net);
    expect(summary).toBe('02:42:0a:00:00:02 > 02:42:0a:00:00:03, IPv4 10.0.0.2 > 10.0.0.3, ICMP echo request, 98 bytes');
    expect(hex(frame, 0, 14)).toBe('02420a00000302420a0000020800');
    expect(frame[14 + 9]).toBe(1);
    expect(fold(sum16(frame, 14, 20))).toBe(0);
    expect(fold(sum16(frame, 34, 64))).toBe(0);
    expect(frame[34]).toBe(8);
  });

  it('builds TCP with flags, UDP, and ARP requests', () => {
    const t = buildFrame('tcp 10.0.0.2:1234 > 10.0.0.3:80 syn,ack', net);
    expect(t.summary).toMatch(/TCP 1234 > 80 \[SYN, ACK\], 54 bytes$/);
    expect(t.frame[14 + 20 + 13]).toBe(0x12);
    expect(tcpChecksumsValid(t.frame)).toBe(true);
    expect(buildFrame('tcp 10.0.0.2:1 > 10.0.0.3:2', net).frame[47]).toBe(0x02); // default SYN
    const u = buildFrame('udp 10.0.0.2:5000 > 10.0.0.3:53', net);
    expect(u.frame[23]).toBe(17);
    const udpLen = u.frame.length - 34;
    const pseudo = sum16(u.frame, 26, 8) + 17 + udpLen;
    expect(fold(sum16(u.frame, 34, udpLen) + pseudo)).toBe(0);
    const a = buildFrame('arp who-has 10.0.0.3', net);
    expect(hex(a.frame, 0, 14)).toBe('ffffffffffff02420a0000020806');
    expect(hex(a.frame, 14, 42)).toBe('0001080006040001' + '02420a000002' + '0a000002' + '000000000000' + '0a000003');
    expect(buildFrame('arp who-has 10.0.0.3 tell 10.0.0.9', net).summary).toMatch(/tell 10\.0\.0\.9/);
    expect(hex(buildFrame('ff:ff:ff:ff:ff:ff 02:42:0a:00:00:02 08 06 00 01', net).frame, 0, 16)).toBe('ffffffffffff02420a00000208060001');
  });

  it('chooses destination MACs as a host on the network would', () => {
    const mac = (ip: string) => destinationMac(net, parseIpv4(ip)).toString(16);
    expect(mac('10.0.0.3')).toBe('2420a000003'); // an endpoint
    expect(mac('10.0.0.77')).toBe('2420a00004d'); // nobody: the MAC it would get
    expect(mac('10.0.0.255')).toBe('ffffffffffff'); // subnet broadcast
    expect(mac('255.255.255.255')).toBe('ffffffffffff');
    expect(mac('224.0.0.251')).toBe('1005e0000fb'); // multicast
    expect(mac('198.18.0.1')).toBe('2420a000001'); // off the subnet: the gateway
    expect(() => destinationMac({ ...net, gateway: null }, parseIpv4('198.18.0.1'))).toThrow(/outside the network's subnet and the network has no gateway/);
  });

  it('refuses anything else, listing the accepted forms', () => {
    for (const [spec, why] of [
      ['icmp 10.0.0.2 10.0.0.3', /expected "icmp SRC > DST"/],
      ['tcp 10.0.0.2 > 10.0.0.3:80', /source "10\.0\.0\.2": expected IP:PORT/],
      ['tcp 10.0.0.2:1 > 10.0.0.3:80 syn,bogus', /TCP flag "bogus": expected syn, ack, fin, rst, psh, urg/],
      ['udp 10.0.0.2:1 > 10.0.0.3:99999', /port 99999: expected 0 to 65535/],
      ['icmp 10.0.0.2 > 10.0.0.300', /destination "10\.0\.0\.300" is not an IPv4 address/],
      ['arp who 10.0.0.3', /expected "arp who-has IP \[tell IP\]"/],
      ['ff:ff', /2 bytes of hex: an Ethernet frame needs at least 14/],
      ['ping 10.0.0.3', /"ping" is not one of icmp, icmp6, tcp, udp, arp, nor hex/],
      ['', /empty/],
    ] as const) {
      expect(() => buildFrame(spec, net), spec).toThrow(why);
      expect(() => buildFrame(spec, net)).toThrow(/accepted forms: icmp SRC > DST; tcp SRC:PORT > DST:PORT \[syn\|ack\|fin\|rst\|psh\|urg \.\.\.\]; udp SRC:PORT > DST:PORT; icmp6 SRC6 > DST6; tcp\|udp \[SRC6\]:PORT > \[DST6\]:PORT; arp who-has IP \[tell IP\]; the frame in hex/);
    }
  });

  it('traces a known, an unknown and a broadcast destination through the pipeline, by port labels', () => {
    const sw = new SwitchEngine({ clock: new VirtualClock(10), poolSlots: 16 });
    const d = sw.createDomain('net1');
    const web1 = new MemoryPort('eth0', { ownMac: WEB1 });
    const web2 = new MemoryPort('eth0', { ownMac: WEB2 });
    const gw = new MemoryPort('tsn0');
    for (const p of [web1, web2, gw]) sw.addPort(p, d);
    web1.label = 'c1:eth0';
    web2.label = 'c2:eth0';
    gw.label = 'tsn0 (gateway)';
    d.fdb.addStatic(GW, gw);
    const run = (spec: string) => sw.trace(web1, buildFrame(spec, net).frame);
    const known = run('icmp 10.0.0.2 > 10.0.0.3');
    expect(known.records.map((r) => `${r.stage}: ${r.decision}`)).toEqual([
      'ingress: accept from c1:eth0 (98 bytes)',
      'l2-learn: static entry, not learned: 02:42:0a:00:00:02 on c1:eth0',
      'l2-fwd: fdb hit 02:42:0a:00:00:03 -> c2:eth0',
      'egress: output c2:eth0',
    ]);
    expect(known.outputs).toEqual(['c2:eth0']);
    const unknown = run('tcp 10.0.0.2:1 > 10.0.0.99:80');
    expect(unknown.records.find((r) => r.stage === 'l2-fwd')!.decision).toBe('flood: fdb miss 02:42:0a:00:00:63 (unknown unicast)');
    expect(unknown.outputs).toEqual(['c2:eth0', 'tsn0 (gateway)']);
    const bcast = run('arp who-has 10.0.0.3');
    expect(bcast.records.find((r) => r.stage === 'egress')!.decision).toBe('flood to 2 ports: c2:eth0, tsn0 (gateway)');
    expect(web2.take()).toHaveLength(0); // a dry run sends nothing
    expect(web1.counters.rxPackets).toBe(0);
  });

  it('builds IPv6 frames on a dual-stack network: ICMPv6 echo, TCP and UDP with [ADDR]:PORT, checksums right', () => {
    const six: FrameSpecNetwork = {
      ...net,
      ipv6: {
        macOf: (ip) => (ip === 'fd00:1::3' ? WEB2 : ip === 'fd00:1::1' ? GW : undefined),
        inSubnet: (ip) => ip.startsWith('fd00:1::'),
        gateway: { ip: 'fd00:1::1', mac: GW },
      },
    };
    // The IPv6 pseudo header: both addresses, the upper-layer length and the next header.
    const l4Valid = (f: Uint8Array, proto: number) => fold(sum16(f, 22, 32) + (f.length - 54) + proto + sum16(f, 54, f.length - 54)) === 0;
    const e = buildFrame('icmp6 fd00:1::2 > fd00:1::3', six);
    expect(e.summary).toBe('02:42:0a:00:00:02 > 02:42:0a:00:00:03, IPv6 fd00:1::2 > fd00:1::3, ICMPv6 echo request, 118 bytes');
    expect(hex(e.frame, 12, 14)).toBe('86dd');
    expect([e.frame[20], e.frame[54]]).toEqual([58, 128]);
    expect(l4Valid(e.frame, 58)).toBe(true);
    const t = buildFrame('tcp [fd00:1::2]:1234 > [fd00:1::3]:80 syn', six);
    expect(t.summary).toMatch(/IPv6 fd00:1::2 > fd00:1::3, TCP 1234 > 80 \[SYN\], 74 bytes$/);
    expect(l4Valid(t.frame, 6)).toBe(true);
    const u = buildFrame('udp [fd00:1::2]:5000 > [fd00:1::3]:53', six);
    expect(l4Valid(u.frame, 17)).toBe(true);
    // Multicast, an unknown address of the subnet (an FDB miss), and off the subnet (the gateway).
    expect(hex(buildFrame('icmp6 fd00:1::2 > ff02::1', six).frame, 0, 6)).toBe('333300000001');
    expect(hex(buildFrame('icmp6 fd00:1::2 > fd00:1::99', six).frame, 0, 6)).toBe('024200000099');
    expect(hex(buildFrame('icmp6 fd00:1::2 > fd00:9::1', six).frame, 0, 6)).toBe('02420a000001');
    expect(() => buildFrame('icmp6 fd00:1::2 > fd00:1::3', net)).toThrow('the network has no IPv6 subnet');
    expect(() => buildFrame('icmp6 10.0.0.2 > fd00:1::3', six)).toThrow('source "10.0.0.2" is not an IPv6 address');
    expect(() => buildFrame('tcp [fd00:1::2]:1 > 10.0.0.3:2', six)).toThrow('an IPv6 source needs an IPv6 destination');
    expect(() => buildFrame('udp [fd00:1::2] > [fd00:1::3]:53', six)).toThrow('expected [IPV6]:PORT');
  });
});
