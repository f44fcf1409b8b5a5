import { describe, expect, it } from 'vitest';
import {
  ICMPV6_ECHO_REQUEST,
  ICMPV6_MLDV2_REPORT,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IcmpView,
  emitIcmp,
} from '../../../src/packet/icmp.js';
import { Ipv4View } from '../../../src/packet/ipv4.js';
import { Ipv6View } from '../../../src/packet/ipv6.js';
import { ICMPV6_ECHO, ICMP_ECHO, MLDV2_REPORT, copy, toHex } from './frames.js';

const ICMP4 = 34; // Ethernet 14 + IPv4 20
const ICMP6 = 54; // Ethernet 14 + IPv6 40

describe('IcmpView: reading known messages', () => {
  it('reads every field of a captured ICMP echo request', () => {
    const icmp = new IcmpView();
    expect(icmp.bind(ICMP_ECHO, ICMP4, 48)).toBe('ok');
    expect(icmp.type).toBe(ICMP_ECHO_REQUEST);
    expect(icmp.code).toBe(0);
    expect(icmp.checksum).toBe(0x5833);
    expect(icmp.restOfHeader).toBe(0xe0f80001);
    expect(icmp.identifier).toBe(57592);
    expect(icmp.sequence).toBe(1);
    expect(icmp.payloadOffset).toBe(ICMP4 + 8);
    expect(icmp.payloadLength).toBe(40);
    expect(ICMP_ECHO[icmp.payloadOffset]).toBe(0x10);
    expect(icmp.verifyChecksum()).toBe(true);
    expect(icmp.computeChecksum()).toBe(0x5833);
  });

  it('ICMPv4 ignores an IPv4 view passed to the checksum methods (no pseudo header)', () => {
    const ip = new Ipv4View();
    expect(ip.bind(ICMP_ECHO, 14, ICMP_ECHO.length - 14)).toBe('ok');
    const icmp = new IcmpView();
    icmp.bind(ICMP_ECHO, ip.payloadOffset, ip.payloadLength);
    expect(icmp.verifyChecksum(ip)).toBe(true);
    expect(icmp.computeChecksum(ip)).toBe(0x5833);
  });

  it('reads a captured ICMPv6 echo request and verifies it with the IPv6 pseudo header', () => {
    const ip = new Ipv6View();
    expect(ip.bind(ICMPV6_ECHO, 14, ICMPV6_ECHO.length - 14)).toBe('ok');
    const icmp = new IcmpView();
    expect(icmp.bind(ICMPV6_ECHO, ip.upperOffset, ip.upperLength)).toBe('ok');
    expect(icmp.type).toBe(ICMPV6_ECHO_REQUEST);
    expect(icmp.code).toBe(0);
    expect(icmp.checksum).toBe(0x8d9f);
    expect(icmp.identifier).toBe(57593);
    expect(icmp.sequence).toBe(1);
    expect(icmp.verifyChecksum(ip)).toBe(true);
    expect(icmp.computeChecksum(ip)).toBe(0x8d9f);
    // Without the pseudo header it does not verify.
    expect(icmp.verifyChecksum()).toBe(false);
  });

  it('verifies a captured MLDv2 report found behind a hop-by-hop header', () => {
    const ip = new Ipv6View();
    expect(ip.bind(MLDV2_REPORT, 14, MLDV2_REPORT.length - 14)).toBe('ok');
    const icmp = new IcmpView();
    expect(icmp.bind(MLDV2_REPORT, ip.upperOffset, ip.upperLength)).toBe('ok');
    expect(icmp.type).toBe(ICMPV6_MLDV2_REPORT);
    expect(icmp.checksum).toBe(0x6f77);
    expect(icmp.verifyChecksum(ip)).toBe(true);
    expect(icmp.computeChecksum(ip)).toBe(0x6f77);
  });
});

describe('IcmpView: writing', () => {
  it('emitIcmp + data + fillChecksum reproduces the captured echo request', () => {
    const buf = new Uint8Array(48);
    expect(emitIcmp(buf, 0, ICMP_ECHO_REQUEST, 0, (57592 << 16) | 1)).toBe(8);
    buf.set(ICMP_ECHO.subarray(ICMP4 + 8), 8);
    const icmp = new IcmpView();
    expect(icmp.bind(buf, 0, 48)).toBe('ok');
    expect(icmp.checksum).toBe(0);
    icmp.fillChecksum();
    expect(toHex(buf)).toBe(toHex(ICMP_ECHO, ICMP4));
  });

  it('emitIcmp + fillChecksum(ip6) reproduces the captured ICMPv6 echo request', () => {
    const frame = copy(ICMPV6_ECHO);
    frame.fill(0xaa, ICMP6, ICMP6 + 8);
    emitIcmp(frame, ICMP6, ICMPV6_ECHO_REQUEST, 0, (57593 << 16) | 1);
    const ip = new Ipv6View();
    ip.bind(frame, 14, frame.length - 14);
    const icmp = new IcmpView();
    icmp.bind(frame, ip.upperOffset, ip.upperLength);
    icmp.fillChecksum(ip);
    expect(toHex(frame)).toBe(toHex(ICMPV6_ECHO));
  });

  it('setters write every field; turning a request into a reply keeps a valid checksum after refill', () => {
    const frame = copy(ICMP_ECHO);
    const icmp = new IcmpView();
    icmp.bind(frame, ICMP4, 48);
    icmp.type = ICMP_ECHO_REPLY;
    icmp.code = 3;
    icmp.identifier = 0x0102;
    icmp.sequence = 0x0304;
    icmp.checksum = 0xabcd;
    expect(toHex(frame, ICMP4, 8)).toBe('0003abcd01020304');
    icmp.restOfHeader = 0xfffefdfc;
    expect(toHex(frame, ICMP4 + 4, 4)).toBe('fffefdfc');
    icmp.fillChecksum();
    expect(icmp.verifyChecksum()).toBe(true);
    expect(icmp.checksum).not.toBe(0x5833);
    expect(toHex(frame, ICMP4 + 8)).toBe(toHex(ICMP_ECHO, ICMP4 + 8));
  });

  it('detects a corrupted data byte', () => {
    const frame = copy(ICMP_ECHO);
    frame[frame.length - 1] ^= 0x01;
    const icmp = new IcmpView();
    icmp.bind(frame, ICMP4, 48);
    expect(icmp.verifyChecksum()).toBe(false);
  });

  it('checksums an odd-length message', () => {
    const buf = new Uint8Array(9);
    emitIcmp(buf, 0, ICMP_ECHO_REQUEST, 0, 0x00010002);
    buf[8] = 0x7f;
    const icmp = new IcmpView();
    icmp.bind(buf, 0, 9);
    icmp.fillChecksum();
    // words 0800 0000 0001 0002 7f00 -> sum 0x8703, checksum 0x78fc
    expect(icmp.checksum).toBe(0x78fc);
    expect(icmp.verifyChecksum()).toBe(true);
  });
});

describe('IcmpView: malformed', () => {
  it.each([0, 4, 7])('truncated: %i bytes, shorter than the 8-byte header', (len) => {
    expect(new IcmpView().bind(ICMP_ECHO, ICMP4, len)).toBe('truncated');
  });

  it('exactly 8 bytes is a message with no body', () => {
    const icmp = new IcmpView();
    expect(icmp.bind(ICMP_ECHO, ICMP4, 8)).toBe('ok');
    expect(icmp.payloadLength).toBe(0);
  });
});
