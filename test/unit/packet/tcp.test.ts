import { describe, expect, it } from 'vitest';
import { Ipv4View } from '../../../src/packet/ipv4.js';
import { Ipv6View } from '../../../src/packet/ipv6.js';
import {
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_NS,
  TCP_OPT_MSS,
  TCP_OPT_SACK,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_TIMESTAMP,
  TCP_OPT_WSCALE,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  TcpView,
  emitTcp,
} from '../../../src/packet/tcp.js';
import { TCP_SYN_V4, TCP_SYN_V6, copy, hex, toHex } from './frames.js';

const TCP4 = 34;
const TCP6 = 54;

function bindV4(frame: Uint8Array): { ip: Ipv4View; tcp: TcpView } {
  const ip = new Ipv4View();
  expect(ip.bind(frame, 14, frame.length - 14)).toBe('ok');
  const tcp = new TcpView();
  expect(tcp.bind(frame, ip.payloadOffset, ip.payloadLength)).toBe('ok');
  return { ip, tcp };
}

describe('TcpView: reading known segments', () => {
  it('reads every field of a captured IPv4 SYN with options', () => {
    const { ip, tcp } = bindV4(TCP_SYN_V4);
    expect(tcp.srcPort).toBe(45206);
    expect(tcp.dstPort).toBe(80);
    expect(tcp.seqNumber).toBe(1881613178);
    expect(tcp.ackNumber).toBe(0);
    expect(tcp.dataOffset).toBe(10);
    expect(tcp.headerLength).toBe(40);
    expect(tcp.flags).toBe(TCP_SYN);
    expect(tcp.window).toBe(64240);
    expect(tcp.checksum).toBe(0x6bc7);
    expect(tcp.urgentPointer).toBe(0);
    expect(tcp.optionsOffset).toBe(TCP4 + 20);
    expect(tcp.optionsLength).toBe(20);
    expect(tcp.payloadOffset).toBe(TCP4 + 40);
    expect(tcp.payloadLength).toBe(0);
    expect(tcp.verifyChecksum(ip)).toBe(true);
    expect(tcp.computeChecksum(ip)).toBe(0x6bc7);
  });

  it('finds every option of the captured SYN', () => {
    const { tcp } = bindV4(TCP_SYN_V4);
    const o = TCP4 + 20;
    expect(tcp.findOption(TCP_OPT_MSS)).toBe(o);
    expect(tcp.mss).toBe(1460);
    expect(tcp.findOption(TCP_OPT_SACK_PERMITTED)).toBe(o + 4);
    expect(tcp.findOption(TCP_OPT_TIMESTAMP)).toBe(o + 6);
    expect(toHex(TCP_SYN_V4, o + 8, 4)).toBe('38b20be5'); // TSval 951192549
    expect(tcp.findOption(TCP_OPT_WSCALE)).toBe(o + 17);
    expect(TCP_SYN_V4[o + 19]).toBe(10);
    expect(tcp.findOption(TCP_OPT_SACK)).toBe(-1);
  });

  it('reads a captured IPv6 SYN and verifies it with the IPv6 pseudo header', () => {
    const ip = new Ipv6View();
    expect(ip.bind(TCP_SYN_V6, 14, TCP_SYN_V6.length - 14)).toBe('ok');
    const tcp = new TcpView();
    expect(tcp.bind(TCP_SYN_V6, ip.upperOffset, ip.upperLength)).toBe('ok');
    expect(tcp.srcPort).toBe(34480);
    expect(tcp.dstPort).toBe(443);
    expect(tcp.seqNumber).toBe(2261027050); // above 2**31: must read unsigned
    expect(tcp.ackNumber).toBe(0);
    expect(tcp.flags).toBe(TCP_SYN);
    expect(tcp.window).toBe(64800);
    expect(tcp.checksum).toBe(0x2f3e);
    expect(tcp.mss).toBe(1440);
    expect(tcp.verifyChecksum(ip)).toBe(true);
    expect(tcp.computeChecksum(ip)).toBe(0x2f3e);
  });

  it('detects a corrupted option byte', () => {
    const frame = copy(TCP_SYN_V4);
    const { ip, tcp } = bindV4(frame);
    frame[TCP4 + 23] ^= 1;
    expect(tcp.verifyChecksum(ip)).toBe(false);
  });

  it('counts data after the options as payload (odd length checksum)', () => {
    const frame = new Uint8Array(TCP_SYN_V4.length + 5);
    frame.set(TCP_SYN_V4);
    frame.set(hex('68656c6c6f'), TCP_SYN_V4.length);
    frame[16] = 0;
    frame[17] = 65; // IPv4 total length 65
    const { ip, tcp } = bindV4(frame);
    ip.fillChecksum();
    expect(tcp.payloadLength).toBe(5);
    expect(tcp.verifyChecksum(ip)).toBe(false);
    tcp.fillChecksum(ip);
    expect(tcp.verifyChecksum(ip)).toBe(true);
  });
});

describe('TcpView: writing', () => {
  it('emitTcp + options + fillChecksum reproduces the captured IPv4 SYN', () => {
    const frame = copy(TCP_SYN_V4);
    frame.fill(0xaa, TCP4, TCP4 + 20);
    const n = emitTcp(frame, TCP4, 45206, 80, 1881613178, 0, TCP_SYN, 64240, 40);
    expect(n).toBe(40);
    const { ip, tcp } = bindV4(frame);
    tcp.fillChecksum(ip);
    expect(toHex(frame)).toBe(toHex(TCP_SYN_V4));
  });

  it('emitTcp + fillChecksum(ip6) reproduces the captured IPv6 SYN', () => {
    const frame = copy(TCP_SYN_V6);
    frame.fill(0, TCP6, TCP6 + 20);
    emitTcp(frame, TCP6, 34480, 443, 2261027050, 0, TCP_SYN, 64800, 40);
    const ip = new Ipv6View();
    ip.bind(frame, 14, frame.length - 14);
    const tcp = new TcpView();
    tcp.bind(frame, ip.upperOffset, ip.upperLength);
    tcp.fillChecksum(ip);
    expect(toHex(frame)).toBe(toHex(TCP_SYN_V6));
  });

  it('setters write every field', () => {
    const frame = copy(TCP_SYN_V4);
    const { tcp } = bindV4(frame);
    tcp.srcPort = 0xfffe;
    tcp.dstPort = 0x0102;
    tcp.seqNumber = 0xfedcba98;
    tcp.ackNumber = 0x80000001;
    tcp.flags = TCP_NS | TCP_CWR | TCP_ECE | TCP_URG | TCP_ACK | TCP_PSH | TCP_RST | TCP_SYN | TCP_FIN;
    tcp.window = 0x1234;
    tcp.checksum = 0x5678;
    tcp.urgentPointer = 0x9abc;
    expect(toHex(frame, TCP4, 20)).toBe('fffe0102' + 'fedcba98' + '80000001' + 'a1ff' + '1234' + '5678' + '9abc');
    expect(tcp.flags).toBe(0x1ff);
    tcp.flags = TCP_ACK;
    expect(toHex(frame, TCP4 + 12, 2)).toBe('a010');
    tcp.dataOffset = 5;
    expect(toHex(frame, TCP4 + 12, 2)).toBe('5010');
    expect(tcp.headerLength).toBe(20);
    expect(tcp.seqNumber).toBe(0xfedcba98);
    expect(tcp.ackNumber).toBe(0x80000001);
  });

  it('adjustChecksum16/32 follow a NAT rewrite of address and port', () => {
    const frame = copy(TCP_SYN_V4);
    const { ip, tcp } = bindV4(frame);
    const oldSrc = ip.src;
    ip.rewriteSrc(0xc0a80001);
    tcp.adjustChecksum32(oldSrc, 0xc0a80001);
    const oldPort = tcp.srcPort;
    tcp.srcPort = 61000;
    tcp.adjustChecksum16(oldPort, 61000);
    expect(ip.verifyChecksum()).toBe(true);
    expect(tcp.verifyChecksum(ip)).toBe(true);
    expect(tcp.checksum).toBe(tcp.computeChecksum(ip));
  });

  it('clampMss lowers a larger MSS and keeps the checksum valid (MSS at an even offset)', () => {
    const frame = copy(TCP_SYN_V4);
    const { ip, tcp } = bindV4(frame);
    expect(tcp.clampMss(1410)).toBe(true);
    expect(tcp.mss).toBe(1410);
    expect(tcp.verifyChecksum(ip)).toBe(true);
    expect(tcp.clampMss(1410)).toBe(false);
    expect(tcp.clampMss(9000)).toBe(false);
    expect(tcp.mss).toBe(1410);
  });

  it('clampMss keeps the checksum valid when the MSS value sits at an odd offset', () => {
    const frame = copy(TCP_SYN_V4);
    frame.set(hex('01 020405b4 0402 080a38b20be500000000 03030a'), TCP4 + 20);
    const { ip, tcp } = bindV4(frame);
    tcp.fillChecksum(ip);
    expect(tcp.findOption(TCP_OPT_MSS)).toBe(TCP4 + 21);
    expect(tcp.mss).toBe(1460);
    expect(tcp.clampMss(1360)).toBe(true);
    expect(tcp.mss).toBe(1360);
    expect(tcp.verifyChecksum(ip)).toBe(true);
  });

  it('clampMss does nothing without an MSS option', () => {
    const frame = copy(TCP_SYN_V4);
    frame.fill(1, TCP4 + 20, TCP4 + 40); // all NOPs
    const { tcp } = bindV4(frame);
    expect(tcp.mss).toBe(0);
    expect(tcp.clampMss(100)).toBe(false);
  });
});

describe('TcpView: malformed', () => {
  const tcp = new TcpView();

  it.each([0, 19])('truncated: %i bytes, shorter than 20', (len) => {
    expect(tcp.bind(TCP_SYN_V4, TCP4, len)).toBe('truncated');
  });

  it.each([0, 4])('bad-header-length: data offset %i', (doff) => {
    const s = copy(TCP_SYN_V4.subarray(TCP4));
    s[12] = doff << 4;
    expect(tcp.bind(s, 0, s.length)).toBe('bad-header-length');
  });

  it('truncated: data offset 10 (40 bytes) but only 39 bytes', () => {
    expect(tcp.bind(TCP_SYN_V4, TCP4, 39)).toBe('truncated');
    expect(tcp.bind(TCP_SYN_V4, TCP4, 40)).toBe('ok');
  });

  it('truncated: data offset 15 on a 40-byte segment', () => {
    const s = copy(TCP_SYN_V4.subarray(TCP4));
    s[12] = 0xf0;
    expect(tcp.bind(s, 0, s.length)).toBe('truncated');
  });

  it('findOption stops at malformed options without reading past the header', () => {
    const s = copy(TCP_SYN_V4.subarray(TCP4));
    const t = new TcpView();
    // Option length 0 (would loop forever if trusted).
    s.set(hex('08 00'), 20);
    expect(t.bind(s, 0, s.length)).toBe('ok');
    expect(t.findOption(TCP_OPT_MSS)).toBe(-1);
    // Option length running past the header.
    s.set(hex('02 40'), 20);
    expect(t.findOption(TCP_OPT_MSS)).toBe(-1);
    // A kind byte as the last byte of the header, with no room for its length.
    s.fill(1, 20, 39);
    s[39] = TCP_OPT_MSS;
    expect(t.findOption(TCP_OPT_MSS)).toBe(-1);
    // END stops the walk even if an MSS follows.
    s.set(hex('00 020405b4'), 20);
    expect(t.findOption(TCP_OPT_MSS)).toBe(-1);
    // MSS with the wrong length is not an MSS.
    s.set(hex('02 03 05 01'), 20);
    expect(t.findOption(TCP_OPT_MSS)).toBe(20);
    expect(t.mss).toBe(0);
  });
});
