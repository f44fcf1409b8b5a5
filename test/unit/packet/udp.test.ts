import { describe, expect, it } from 'vitest';
import { IPPROTO_UDP } from '../../../src/packet/constants.js';
import { Ipv4View } from '../../../src/packet/ipv4.js';
import { Ipv6View, emitIpv6, parseIpv6 } from '../../../src/packet/ipv6.js';
import { UdpView, emitUdp } from '../../../src/packet/udp.js';
import { DNS_QUERY, IPV4_OPTIONS_UDP, copy, hex, toHex } from './frames.js';

const UDP = 34;

function boundDns(frame: Uint8Array): { ip: Ipv4View; udp: UdpView } {
  const ip = new Ipv4View();
  expect(ip.bind(frame, 14, frame.length - 14)).toBe('ok');
  const udp = new UdpView();
  expect(udp.bind(frame, ip.payloadOffset, ip.payloadLength)).toBe('ok');
  return { ip, udp };
}

describe('UdpView: reading known datagrams', () => {
  it('reads every field of a captured DNS query and verifies its checksum', () => {
    const { ip, udp } = boundDns(DNS_QUERY);
    expect(udp.srcPort).toBe(41923);
    expect(udp.dstPort).toBe(53);
    expect(udp.length).toBe(37);
    expect(udp.checksum).toBe(0xf7ba);
    expect(udp.payloadOffset).toBe(UDP + 8);
    expect(udp.payloadLength).toBe(29);
    expect(toHex(DNS_QUERY, udp.payloadOffset, 2)).toBe('3c5d'); // DNS id
    expect(udp.verifyChecksum(ip)).toBe(true);
    expect(udp.computeChecksum(ip)).toBe(0xf7ba);
  });

  it('verifies a datagram behind IPv4 options (pseudo header from the addresses only)', () => {
    const ip = new Ipv4View();
    expect(ip.bind(IPV4_OPTIONS_UDP, 14, IPV4_OPTIONS_UDP.length - 14)).toBe('ok');
    const udp = new UdpView();
    expect(udp.bind(IPV4_OPTIONS_UDP, ip.payloadOffset, ip.payloadLength)).toBe('ok');
    expect(udp.srcPort).toBe(49525);
    expect(udp.dstPort).toBe(7);
    expect(udp.length).toBe(13);
    expect(udp.payloadLength).toBe(5);
    expect(udp.verifyChecksum(ip)).toBe(true);
    expect(udp.computeChecksum(ip)).toBe(0xa25f);
  });

  it('detects corruption of the data and of the pseudo header', () => {
    const frame = copy(DNS_QUERY);
    const { ip, udp } = boundDns(frame);
    frame[frame.length - 1] ^= 0x80;
    expect(udp.verifyChecksum(ip)).toBe(false);
    frame[frame.length - 1] ^= 0x80;
    expect(udp.verifyChecksum(ip)).toBe(true);
    ip.src = ip.src + 1;
    expect(udp.verifyChecksum(ip)).toBe(false);
  });

  it('treats a zero checksum as "none" over IPv4 and as invalid over IPv6', () => {
    const frame = copy(DNS_QUERY);
    const { ip, udp } = boundDns(frame);
    udp.checksum = 0;
    expect(udp.verifyChecksum(ip)).toBe(true);
    const v6 = new Uint8Array(40 + 37);
    const a = new Uint8Array(16);
    parseIpv6('fd00::1', a, 0);
    emitIpv6(v6, 0, a, 0, a, 0, IPPROTO_UDP, 37);
    v6.set(frame.subarray(UDP, UDP + 37), 40);
    const ip6 = new Ipv6View();
    expect(ip6.bind(v6, 0, v6.length)).toBe('ok');
    const udp6 = new UdpView();
    expect(udp6.bind(v6, ip6.upperOffset, ip6.upperLength)).toBe('ok');
    expect(udp6.checksum).toBe(0);
    expect(udp6.verifyChecksum(ip6)).toBe(false);
    udp6.fillChecksum(ip6);
    expect(udp6.verifyChecksum(ip6)).toBe(true);
  });

  it('ignores bytes after the UDP length (Ethernet padding)', () => {
    const padded = new Uint8Array(DNS_QUERY.length + 20).fill(0x55);
    padded.set(DNS_QUERY);
    const udp = new UdpView();
    // Bound to more bytes than the datagram: only `length` count.
    expect(udp.bind(padded, UDP, padded.length - UDP)).toBe('ok');
    expect(udp.payloadLength).toBe(29);
    const ip = new Ipv4View();
    ip.bind(padded, 14, padded.length - 14);
    expect(udp.verifyChecksum(ip)).toBe(true);
  });
});

describe('UdpView: writing', () => {
  it('emitUdp + data + fillChecksum reproduces the captured DNS query', () => {
    const frame = copy(DNS_QUERY);
    frame.fill(0xaa, UDP, UDP + 8);
    expect(emitUdp(frame, UDP, 41923, 53, 29)).toBe(8);
    expect(toHex(frame, UDP, 8)).toBe('a3c3003500250000');
    const { ip, udp } = boundDns(frame);
    udp.fillChecksum(ip);
    expect(toHex(frame)).toBe(toHex(DNS_QUERY));
  });

  it('setters write every field', () => {
    const frame = copy(DNS_QUERY);
    const { udp } = boundDns(frame);
    udp.srcPort = 0xfffe;
    udp.dstPort = 4789;
    udp.length = 0x0102;
    udp.checksum = 0xbeef;
    expect(toHex(frame, UDP, 8)).toBe('fffe12b50102beef');
    expect(toHex(frame, UDP + 8)).toBe(toHex(DNS_QUERY, UDP + 8));
  });

  it('sends a computed checksum of 0 as 0xffff', () => {
    // Choose the data word so that the one's complement sum is 0xffff, making the checksum 0.
    const ip4 = hex('4500 001e 0000 4000 40 11 0000 0a000001 0a000002');
    const seg = new Uint8Array(ip4.length + 10);
    seg.set(ip4);
    emitUdp(seg, 20, 1, 2, 2);
    const ip = new Ipv4View();
    expect(ip.bind(seg, 0, seg.length)).toBe('ok');
    const udp = new UdpView();
    expect(udp.bind(seg, 20, 10)).toBe('ok');
    // Sum without the data word: pseudo (0a00+0001+0a00+0002+0011+000a) + header (0001+0002+000a).
    const partial = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0011 + 0x000a + 0x0001 + 0x0002 + 0x000a;
    const word = 0xffff - partial;
    seg[28] = word >>> 8;
    seg[29] = word & 0xff;
    expect(udp.computeChecksum(ip)).toBe(0xffff);
    udp.fillChecksum(ip);
    expect(udp.checksum).toBe(0xffff);
    expect(udp.verifyChecksum(ip)).toBe(true);
  });

  it('adjustChecksum16/32 follow a NAT rewrite and leave "no checksum" alone', () => {
    const frame = copy(DNS_QUERY);
    const { ip, udp } = boundDns(frame);
    const oldDst = ip.dst;
    ip.rewriteDst(0x0a000035);
    udp.adjustChecksum32(oldDst, 0x0a000035);
    const oldPort = udp.dstPort;
    udp.dstPort = 5353;
    udp.adjustChecksum16(oldPort, 5353);
    expect(ip.verifyChecksum()).toBe(true);
    expect(udp.verifyChecksum(ip)).toBe(true);
    expect(udp.checksum).toBe(udp.computeChecksum(ip));
    udp.checksum = 0;
    udp.adjustChecksum32(0x0a000035, 0x0a000036);
    udp.adjustChecksum16(5353, 53);
    expect(udp.checksum).toBe(0);
  });
});

describe('UdpView: malformed', () => {
  const udp = new UdpView();

  it.each([0, 7])('truncated: %i bytes, shorter than the 8-byte header', (len) => {
    expect(udp.bind(DNS_QUERY, UDP, len)).toBe('truncated');
  });

  it.each([0, 7])('bad-total-length: length field %i, below 8', (length) => {
    const d = copy(DNS_QUERY.subarray(UDP));
    d[4] = 0;
    d[5] = length;
    expect(udp.bind(d, 0, d.length)).toBe('bad-total-length');
  });

  it('truncated: length field 37 but only 36 bytes', () => {
    expect(udp.bind(DNS_QUERY, UDP, 36)).toBe('truncated');
    expect(udp.bind(DNS_QUERY, UDP, 37)).toBe('ok');
  });

  it('length field exactly 8 is an empty datagram', () => {
    const d = hex('1234 5678 0008 0000');
    expect(udp.bind(d, 0, 8)).toBe('ok');
    expect(udp.payloadLength).toBe(0);
  });
});
