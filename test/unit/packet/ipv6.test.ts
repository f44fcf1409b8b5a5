import { describe, expect, it } from 'vitest';
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../../../src/packet/constants.js';
import { IPV6_MAX_EXTENSION_HEADERS, Ipv6View, emitIpv6, formatIpv6, parseIpv6 } from '../../../src/packet/ipv6.js';
import { ICMPV6_ECHO, IPV6_LAST_FRAGMENT, MLDV2_REPORT, TCP_SYN_V6, copy, hex, toHex } from './frames.js';

const IP = 14;

function addr(text: string): Uint8Array {
  const out = new Uint8Array(16);
  parseIpv6(text, out, 0);
  return out;
}

/** An IPv6 header (40 bytes) with next header `nh` and `payload` bytes after it, for malformed cases. */
function packet(nh: number, payload: Uint8Array, payloadLength = payload.length): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  emitIpv6(b, 0, addr('fd00::1'), 0, addr('fd00::2'), 0, nh, payloadLength);
  b.set(payload, 40);
  return b;
}

describe('Ipv6View: reading known headers', () => {
  it('reads every field of a captured TCP SYN', () => {
    const ip = new Ipv6View();
    expect(ip.bind(TCP_SYN_V6, IP, TCP_SYN_V6.length - IP)).toBe('ok');
    expect(ip.version).toBe(6);
    expect(ip.trafficClass).toBe(0);
    expect(ip.dscp).toBe(0);
    expect(ip.ecn).toBe(0);
    expect(ip.flowLabel).toBe(0xd58e0);
    expect(ip.payloadLength).toBe(40);
    expect(ip.nextHeader).toBe(IPPROTO_TCP);
    expect(ip.hopLimit).toBe(64);
    expect(ip.srcOffset).toBe(IP + 8);
    expect(ip.dstOffset).toBe(IP + 24);
    expect(formatIpv6(TCP_SYN_V6, ip.srcOffset)).toBe('fd00:ac11::2');
    expect(formatIpv6(TCP_SYN_V6, ip.dstOffset)).toBe('fd00:ac11::1');
    expect(ip.upperProtocol).toBe(IPPROTO_TCP);
    expect(ip.upperOffset).toBe(IP + 40);
    expect(ip.upperLength).toBe(40);
    expect(ip.headerLength).toBe(40);
    expect(ip.isFragment).toBe(false);
    expect(ip.fragmentHeaderOffset).toBe(-1);
    expect(ip.fragmentOffset).toBe(0);
    expect(ip.moreFragments).toBe(false);
    expect(ip.fragmentId).toBe(0);
  });

  it('walks a hop-by-hop options header to ICMPv6 (captured MLDv2 report)', () => {
    const ip = new Ipv6View();
    expect(ip.bind(MLDV2_REPORT, IP, MLDV2_REPORT.length - IP)).toBe('ok');
    expect(ip.nextHeader).toBe(0);
    expect(ip.hopLimit).toBe(1);
    expect(formatIpv6(MLDV2_REPORT, ip.srcOffset)).toBe('::');
    expect(formatIpv6(MLDV2_REPORT, ip.dstOffset)).toBe('ff02::16');
    expect(ip.upperProtocol).toBe(IPPROTO_ICMPV6);
    expect(ip.upperOffset).toBe(IP + 48);
    expect(ip.headerLength).toBe(48);
    expect(ip.upperLength).toBe(28);
    expect(MLDV2_REPORT[ip.upperOffset]).toBe(143);
  });

  it('walks a fragment header (captured last fragment)', () => {
    const ip = new Ipv6View();
    expect(ip.bind(IPV6_LAST_FRAGMENT, IP, IPV6_LAST_FRAGMENT.length - IP)).toBe('ok');
    expect(ip.flowLabel).toBe(0x32174);
    expect(ip.payloadLength).toBe(168);
    expect(ip.nextHeader).toBe(44);
    expect(ip.isFragment).toBe(true);
    expect(ip.fragmentHeaderOffset).toBe(IP + 40);
    expect(ip.fragmentOffset).toBe(1448);
    expect(ip.moreFragments).toBe(false);
    expect(ip.fragmentId).toBe(0xc728a9e5);
    expect(ip.upperProtocol).toBe(IPPROTO_UDP);
    expect(ip.upperOffset).toBe(IP + 48);
    expect(ip.upperLength).toBe(160);
  });

  it('walks routing, destination options, fragment (M set) and AH headers in sequence', () => {
    const ext = hex(`
      2b 00 0000 00000000        # hop-by-hop, 8 bytes, next routing (43)
      3c 01 00 00 ${'00'.repeat(12)}  # routing, 16 bytes, next destination options (60)
      2c 00 0104 00000000        # destination options, 8 bytes, next fragment (44)
      33 00 0011 12345678        # fragment: next AH (51), offset 16, M=1, id 0x12345678
      06 02 0000 00000001 00000002 00000000   # AH: next TCP, (2+2)*4 = 16 bytes
      ${'00'.repeat(20)}         # TCP header (not parsed here)
    `);
    const p = packet(0, ext);
    const ip = new Ipv6View();
    expect(ip.bind(p, 0, p.length)).toBe('ok');
    expect(ip.upperProtocol).toBe(IPPROTO_TCP);
    expect(ip.headerLength).toBe(40 + 8 + 16 + 8 + 8 + 16);
    expect(ip.upperLength).toBe(20);
    expect(ip.fragmentOffset).toBe(16);
    expect(ip.moreFragments).toBe(true);
    expect(ip.fragmentId).toBe(0x12345678);
  });

  it('stops at no-next-header (59) with an empty upper layer', () => {
    const p = packet(59, new Uint8Array(0));
    const ip = new Ipv6View();
    expect(ip.bind(p, 0, p.length)).toBe('ok');
    expect(ip.upperProtocol).toBe(59);
    expect(ip.upperLength).toBe(0);
  });

  it('excludes Ethernet padding after the payload', () => {
    const padded = new Uint8Array(TCP_SYN_V6.length + 10);
    padded.set(TCP_SYN_V6);
    const ip = new Ipv6View();
    expect(ip.bind(padded, IP, padded.length - IP)).toBe('ok');
    expect(ip.upperLength).toBe(40);
  });

  it('computes the pseudo header sum that makes the captured checksums verify', () => {
    const ip = new Ipv6View();
    ip.bind(ICMPV6_ECHO, IP, ICMPV6_ECHO.length - IP);
    let sum = ip.pseudoHeaderSum(IPPROTO_ICMPV6, ip.upperLength);
    for (let i = ip.upperOffset; i < ip.upperOffset + ip.upperLength; i += 2) sum += (ICMPV6_ECHO[i] << 8) | ICMPV6_ECHO[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    expect(sum).toBe(0xffff);
  });
});

describe('Ipv6View: writing', () => {
  it('emitIpv6 writes a captured header byte for byte', () => {
    const buf = new Uint8Array(42).fill(0xee);
    const n = emitIpv6(buf, 1, addr('fd00:ac11::2'), 0, addr('fd00:ac11::1'), 0, IPPROTO_ICMPV6, 48, 64, 0, 0xf8e9e);
    expect(n).toBe(40);
    expect(toHex(buf, 1, 40)).toBe(toHex(ICMPV6_ECHO, IP, 40));
    expect(buf[0]).toBe(0xee);
    expect(buf[41]).toBe(0xee);
  });

  it('emitIpv6 takes addresses from anywhere in a buffer', () => {
    const buf = new Uint8Array(40);
    emitIpv6(buf, 0, TCP_SYN_V6, IP + 8, TCP_SYN_V6, IP + 24, IPPROTO_TCP, 40, 64, 0, 0xd58e0);
    expect(toHex(buf)).toBe(toHex(TCP_SYN_V6, IP, 40));
  });

  it('setters write every field', () => {
    const frame = copy(TCP_SYN_V6);
    const ip = new Ipv6View();
    expect(ip.bind(frame, IP, frame.length - IP)).toBe('ok');
    ip.trafficClass = 0xb9; // DSCP 46, ECN 1
    ip.flowLabel = 0xabcde;
    ip.payloadLength = 0x0102;
    ip.nextHeader = IPPROTO_UDP;
    ip.hopLimit = 255;
    ip.setSrc(addr('2001:db8::1'), 0);
    const dst = new Uint8Array(20);
    parseIpv6('2001:db8:ffff:1:2:3:4:5', dst, 3);
    ip.setDst(dst, 3);
    expect(toHex(frame, IP, 40)).toBe(
      '6b9abcde' + '0102' + '11' + 'ff' + '20010db8000000000000000000000001' + '20010db8ffff00010002000300040005',
    );
    expect(ip.version).toBe(6);
    expect(ip.trafficClass).toBe(0xb9);
    expect(ip.dscp).toBe(46);
    expect(ip.ecn).toBe(1);
    expect(ip.flowLabel).toBe(0xabcde);
    expect(toHex(frame, IP + 40)).toBe(toHex(TCP_SYN_V6, IP + 40));
  });
});

describe('Ipv6View: malformed headers are reported', () => {
  const ip = new Ipv6View();

  it.each([0, 1, 39])('truncated: %i bytes, shorter than 40', (len) => {
    expect(ip.bind(TCP_SYN_V6, IP, len)).toBe('truncated');
  });

  it('bad-version: version 4 in an IPv6 frame', () => {
    const h = copy(TCP_SYN_V6.subarray(IP));
    h[0] = 0x40 | (h[0] & 0x0f);
    expect(ip.bind(h, 0, h.length)).toBe('bad-version');
  });

  it('truncated: payload length 40 but the frame was cut one byte short', () => {
    expect(ip.bind(TCP_SYN_V6, IP, 79)).toBe('truncated');
    expect(ip.bind(TCP_SYN_V6, IP, 80)).toBe('ok');
  });

  it('truncated: payload length 0xffff', () => {
    const h = copy(TCP_SYN_V6.subarray(IP));
    h[4] = 0xff;
    h[5] = 0xff;
    expect(ip.bind(h, 0, h.length)).toBe('truncated');
  });

  it('truncated: an extension header that claims more than the payload', () => {
    const p = packet(60, hex('06 01 0000 00000000 0000000000000000'), 16);
    expect(ip.bind(p, 0, p.length)).toBe('ok'); // 16 bytes: fits exactly
    const q = packet(60, hex('06 02 0000 00000000 0000000000000000'), 16);
    expect(ip.bind(q, 0, q.length)).toBe('truncated'); // claims 24
  });

  it('truncated: fewer than 8 bytes left for an extension header', () => {
    const p = packet(0, hex('06 00 0000 000000'));
    expect(ip.bind(p, 0, p.length)).toBe('truncated');
    const f = packet(44, hex('11 00 0000'));
    expect(ip.bind(f, 0, f.length)).toBe('truncated');
  });

  it('truncated: the extension header lies past the payload length though inside the buffer', () => {
    const p = packet(60, hex('06 00 0000 00000000'), 0);
    expect(ip.bind(p, 0, p.length)).toBe('truncated');
  });

  it('bad-extension-header: hop-by-hop options after another extension header', () => {
    const p = packet(60, hex('00 00 0000 00000000  06 00 0000 00000000'));
    expect(ip.bind(p, 0, p.length)).toBe('bad-extension-header');
  });

  it('bad-extension-header: more extension headers than the walk allows', () => {
    const n = IPV6_MAX_EXTENSION_HEADERS + 1;
    const chain = new Uint8Array(8 * n);
    for (let i = 0; i < n; i++) chain[8 * i] = i === n - 1 ? IPPROTO_TCP : 60;
    const p = packet(60, chain);
    expect(ip.bind(p, 0, p.length)).toBe('bad-extension-header');
    // One fewer is accepted.
    const ok = packet(60, chain.subarray(8));
    expect(ip.bind(ok, 0, ok.length)).toBe('ok');
    expect(ip.upperProtocol).toBe(IPPROTO_TCP);
  });
});

describe('formatIpv6 / parseIpv6', () => {
  it.each([
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::21f:caff:feb3:75c0', 'fe80000000000000021fcafffeb375c0'],
    ['2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001'], // a single zero group is not compressed
    ['2001:0:0:1::1', '20010000000000010000000000000001'], // the longer run wins
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'], // the first of equal runs wins
    ['ff02::1:ff11:2', 'ff0200000000000000000001ff110002'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ])('%s <-> %s (RFC 5952 form)', (text, bytes) => {
    const out = new Uint8Array(16);
    parseIpv6(text, out, 0);
    expect(toHex(out)).toBe(bytes);
    expect(formatIpv6(hex(bytes), 0)).toBe(text);
  });

  it('parses the longer forms RFC 4291 allows', () => {
    const out = new Uint8Array(18);
    parseIpv6('2001:0DB8:0000:0000:0000:0000:0000:0001', out, 2);
    expect(toHex(out, 2)).toBe('20010db8000000000000000000000001');
    parseIpv6('::1.2.3.4', out, 0);
    expect(toHex(out, 0, 16)).toBe('00000000000000000000000001020304');
    parseIpv6('1:2:3:4:5:6:7::', out, 0);
    expect(toHex(out, 0, 16)).toBe('00010002000300040005000600070000');
  });

  it.each(['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::', '12345::', 'g::1', 'fe80::1%eth0', 'fd00::/64', '1.2.3.4::', '::1.2.3', ' ::1'])(
    'rejects %j with an error naming the value and the form',
    (text) => {
      const out = new Uint8Array(16);
      expect(() => parseIpv6(text, out, 0)).toThrow(`invalid IPv6 address ${JSON.stringify(text)}`);
      expect(() => parseIpv6(text, out, 0)).toThrow('like fd00::1');
    },
  );
});
