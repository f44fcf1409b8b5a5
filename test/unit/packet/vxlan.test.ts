import { describe, expect, it } from 'vitest';
import {
  ETHERTYPE_IPV4,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  VXLAN_OVERHEAD_IPV4,
  VXLAN_PORT,
} from '../../../src/packet/constants.js';
import { EthernetView, emitEthernet } from '../../../src/packet/ethernet.js';
import { IcmpView } from '../../../src/packet/icmp.js';
import { Ipv4View, emitIpv4, parseIpv4 } from '../../../src/packet/ipv4.js';
import { parseMac } from '../../../src/packet/mac.js';
import { UdpView, emitUdp } from '../../../src/packet/udp.js';
import { VXLAN_FLAG_I, VxlanView, emitVxlan } from '../../../src/packet/vxlan.js';
import { ICMP_ECHO, VXLAN_ICMP, copy, hex, inPool, toHex } from './frames.js';

const VX = 14 + 20 + 8;

describe('VxlanView: reading a known encapsulated frame', () => {
  it('reads every field of the VXLAN header', () => {
    const vx = new VxlanView();
    expect(vx.bind(VXLAN_ICMP, VX, VXLAN_ICMP.length - VX)).toBe('ok');
    expect(vx.flags).toBe(VXLAN_FLAG_I);
    expect(vx.vni).toBe(4242);
    expect(vx.reservedBitsSet).toBe(false);
    expect(vx.payloadOffset).toBe(VX + 8);
    expect(vx.payloadLength).toBe(ICMP_ECHO.length);
  });

  it('decapsulates through every layer with reused views', () => {
    const eth = new EthernetView();
    const ip = new Ipv4View();
    const udp = new UdpView();
    const vx = new VxlanView();
    const icmp = new IcmpView();
    const f = VXLAN_ICMP;

    expect(eth.bind(f, 0, f.length)).toBe('ok');
    expect(eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(ip.bind(f, eth.payloadOffset, eth.payloadLength)).toBe('ok');
    expect(ip.protocol).toBe(IPPROTO_UDP);
    expect(ip.totalLength).toBe(118);
    expect(ip.verifyChecksum()).toBe(true);
    expect(udp.bind(f, ip.payloadOffset, ip.payloadLength)).toBe('ok');
    expect(udp.srcPort).toBe(51234);
    expect(udp.dstPort).toBe(VXLAN_PORT);
    expect(udp.length).toBe(98);
    expect(udp.checksum).toBe(0);
    expect(udp.verifyChecksum(ip)).toBe(true); // zero = none over IPv4
    expect(vx.bind(f, udp.payloadOffset, udp.payloadLength)).toBe('ok');
    expect(vx.vni).toBe(4242);

    // The same Ethernet and IPv4 views, rebound to the inner frame.
    expect(eth.bind(f, vx.payloadOffset, vx.payloadLength)).toBe('ok');
    expect(eth.dst).toBe(parseMac('02:42:7a:3c:51:9e'));
    expect(eth.src).toBe(parseMac('02:42:ac:11:00:02'));
    expect(ip.bind(f, eth.payloadOffset, eth.payloadLength)).toBe('ok');
    expect(ip.protocol).toBe(IPPROTO_ICMP);
    expect(ip.verifyChecksum()).toBe(true);
    expect(icmp.bind(f, ip.payloadOffset, ip.payloadLength)).toBe('ok');
    expect(icmp.identifier).toBe(57592);
    expect(icmp.verifyChecksum()).toBe(true);
    expect(toHex(f, vx.payloadOffset)).toBe(toHex(ICMP_ECHO));
  });
});

describe('VxlanView: writing', () => {
  it('emitVxlan writes the header byte for byte', () => {
    const buf = new Uint8Array(10).fill(0xee);
    expect(emitVxlan(buf, 1, 4242)).toBe(8);
    expect(toHex(buf, 1, 8)).toBe(toHex(VXLAN_ICMP, VX, 8));
    expect(buf[0]).toBe(0xee);
    expect(buf[9]).toBe(0xee);
    emitVxlan(buf, 1, 0xffffff);
    expect(toHex(buf, 1, 8)).toBe('08000000ffffff00');
  });

  it('encapsulates in headroom: emit outer headers in front of the inner frame, no copy of it', () => {
    const headroom = 64;
    const pool = inPool(ICMP_ECHO, headroom);
    const innerLen = ICMP_ECHO.length;
    let o = headroom - VXLAN_OVERHEAD_IPV4;
    const start = o;
    o += emitEthernet(pool, o, parseMac('02:42:7a:3c:51:9e'), parseMac('02:42:ac:11:00:02'), ETHERTYPE_IPV4);
    o += emitIpv4(pool, o, parseIpv4('172.17.0.2'), parseIpv4('172.17.0.1'), IPPROTO_UDP, 8 + 8 + innerLen, 64, 7470);
    o += emitUdp(pool, o, 51234, VXLAN_PORT, 8 + innerLen);
    o += emitVxlan(pool, o, 4242);
    expect(o).toBe(headroom);
    expect(toHex(pool, start, VXLAN_OVERHEAD_IPV4 + innerLen)).toBe(toHex(VXLAN_ICMP));
  });

  it('setters write every field', () => {
    const frame = copy(VXLAN_ICMP);
    const vx = new VxlanView();
    vx.bind(frame, VX, frame.length - VX);
    vx.vni = 0xabcdef;
    vx.flags = 0x88;
    expect(toHex(frame, VX, 8)).toBe('88000000abcdef00');
    expect(vx.vni).toBe(0xabcdef);
    expect(vx.reservedBitsSet).toBe(true);
  });
});

describe('VxlanView: malformed', () => {
  const vx = new VxlanView();

  it.each([0, 4, 7])('truncated: %i bytes, shorter than the 8-byte header', (len) => {
    expect(vx.bind(VXLAN_ICMP, VX, len)).toBe('truncated');
  });

  it('bad-flags: I flag clear (flags 0x00)', () => {
    const h = hex('00000000 00109200');
    expect(vx.bind(h, 0, 8)).toBe('bad-flags');
  });

  it('bad-flags: other flags set but not I (0x80, the GBP G bit)', () => {
    const h = hex('80000000 00109200');
    expect(vx.bind(h, 0, 8)).toBe('bad-flags');
  });

  it('reserved bits with I set are ignored on receipt (RFC 7348) but visible', () => {
    const h = hex('0c00ff00 001092ff');
    expect(vx.bind(h, 0, 8)).toBe('ok');
    expect(vx.vni).toBe(4242);
    expect(vx.reservedBitsSet).toBe(true);
  });

  it('exactly 8 bytes is a header with an empty inner frame', () => {
    expect(vx.bind(VXLAN_ICMP, VX, 8)).toBe('ok');
    expect(vx.payloadLength).toBe(0);
  });
});
