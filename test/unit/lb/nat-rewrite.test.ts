/**
 * NAT rewrites and IP-in-IP on hand-built frames: checksums verify after the rewrite, for complete
 * checksums and for partial (virtio-net NEEDS_CSUM) ones completed afterwards as the kernel would.
 */
import { describe, expect, it } from 'vitest';
import { encapsulateIpip, IPIP_MAX_INNER, rewriteDestination, rewriteDestination6, rewriteSource, rewriteSource6 } from '../../../src/lb/nat-rewrite.js';
import { completePartialChecksum, fold, ipv6Bytes, l4Checksum6Valid, l4Frame6, tcpChecksumsValid, tcpFrame } from '../../helpers/frames.js';

const ip = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

function sum16(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  return s;
}

function udpFrame(srcIp: string, dstIp: string, sport: number, dport: number, payload: number, withCsum: boolean): Uint8Array {
  const f = new Uint8Array(14 + 28 + payload);
  f[12] = 8;
  f[14] = 0x45;
  const total = 28 + payload;
  f[16] = total >> 8;
  f[17] = total & 0xff;
  f[22] = 64;
  f[23] = 17;
  const dv = new DataView(f.buffer);
  dv.setUint32(26, ip(srcIp));
  dv.setUint32(30, ip(dstIp));
  dv.setUint16(24, fold(sum16(f, 14, 20)));
  dv.setUint16(34, sport);
  dv.setUint16(36, dport);
  dv.setUint16(38, 8 + payload);
  for (let i = 0; i < payload; i++) f[42 + i] = (i * 13) & 0xff;
  if (withCsum) {
    const pseudo = sum16(f, 26, 8) + 17 + 8 + payload;
    dv.setUint16(40, fold(pseudo + sum16(f, 34, 8 + payload)));
  }
  return f;
}

function udpValid(f: Uint8Array): boolean {
  const len = (f[38] << 8) | f[39];
  return fold(sum16(f, 14, 20)) === 0 && fold(sum16(f, 26, 8) + 17 + len + sum16(f, 34, len)) === 0;
}

describe('NAT rewrite', () => {
  it('rewrites destination and source of a TCP frame with a complete checksum; both verify', () => {
    const { frame } = tcpFrame({ dst: 1, src: 2, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport: 80, payloadLen: 101 });
    rewriteDestination(frame, 14, 34, 6, ip('10.1.0.11'), 8080, false);
    expect(Array.from(frame.subarray(30, 34))).toEqual([10, 1, 0, 11]);
    expect((frame[36] << 8) | frame[37]).toBe(8080);
    expect(tcpChecksumsValid(frame)).toBe(true);
    rewriteSource(frame, 14, 34, 6, ip('10.1.0.100'), 80, false);
    expect(Array.from(frame.subarray(26, 30))).toEqual([10, 1, 0, 100]);
    expect((frame[34] << 8) | frame[35]).toBe(80);
    expect(tcpChecksumsValid(frame)).toBe(true);
  });

  it('NEEDS_CSUM: only the pseudo-header part changes; completing afterwards gives a valid checksum', () => {
    const { frame, csumStart, csumOffset } = tcpFrame({ dst: 1, src: 2, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport: 80, payloadLen: 1400, partialCsum: true });
    rewriteDestination(frame, 14, 34, 6, ip('10.1.0.12'), 9090, true);
    const copy = frame.slice();
    completePartialChecksum(copy, csumStart, csumOffset);
    expect(tcpChecksumsValid(copy)).toBe(true);
    // Updating the port in the partial sum too (the classic mistake) would not verify:
    const wrong = frame.slice();
    rewriteDestination(wrong, 14, 34, 6, ip('10.1.0.12'), 9091, false);
    completePartialChecksum(wrong, csumStart, csumOffset);
    expect(tcpChecksumsValid(wrong)).toBe(false);
    rewriteSource(frame, 14, 34, 6, ip('10.1.0.100'), 80, true);
    completePartialChecksum(frame, csumStart, csumOffset);
    expect(tcpChecksumsValid(frame)).toBe(true);
  });

  it('UDP: a checksum stays valid, a zero checksum (none) stays zero', () => {
    const f = udpFrame('10.1.0.2', '10.1.0.100', 5353, 53, 33, true);
    expect(udpValid(f)).toBe(true);
    rewriteDestination(f, 14, 34, 17, ip('10.1.0.13'), 5300, false);
    expect(udpValid(f)).toBe(true);
    const z = udpFrame('10.1.0.2', '10.1.0.100', 5353, 53, 10, false);
    rewriteDestination(z, 14, 34, 17, ip('10.1.0.13'), 5300, false);
    expect((z[40] << 8) | z[41]).toBe(0);
    expect(fold(sum16(z, 14, 20))).toBe(0);
  });

  it('IP-in-IP: the Ethernet header moves into the headroom, the outer header verifies, the inner is untouched', () => {
    const { frame } = tcpFrame({ dst: 0x0242aabbccdd, src: 2, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport: 80, payloadLen: 50 });
    const buf = new Uint8Array(64 + frame.length + 20);
    buf.set(frame, 64);
    const n = encapsulateIpip(buf, 64, ip('10.1.0.100'), ip('10.1.0.11'));
    expect(n).toBe(44);
    const out = buf.subarray(n, n + frame.length + 20);
    expect(Array.from(out.subarray(0, 14))).toEqual(Array.from(frame.subarray(0, 14)));
    expect(out[14]).toBe(0x45);
    expect(out[23]).toBe(4);
    expect((out[16] << 8) | out[17]).toBe(frame.length - 14 + 20);
    expect(fold(sum16(out, 14, 20))).toBe(0);
    expect(Array.from(out.subarray(26, 34))).toEqual([10, 1, 0, 100, 10, 1, 0, 11]);
    expect(Array.from(out.subarray(34))).toEqual(Array.from(frame.subarray(14)));
  });
});

describe('NAT rewrite, IPv6', () => {
  const a6 = (t: string) => Uint8Array.from(ipv6Bytes(t));

  for (const proto of [6, 17] as const) {
    it(`${proto === 6 ? 'TCP' : 'UDP'}: destination then source rewritten, the checksum verifies after each`, () => {
      const { frame } = l4Frame6({ dst: 1, src: 2, srcIp: 'fd00:1::2', dstIp: 'fd00:1::100', proto, sport: 40000, dport: 80, payloadLen: 77 });
      expect(l4Checksum6Valid(frame)).toBe(true);
      rewriteDestination6(frame, 14, 54, proto, a6('fd00:1:0:0:ffff:1234:abcd:11'), 8080, false);
      expect(Array.from(frame.subarray(38, 54))).toEqual(ipv6Bytes('fd00:1:0:0:ffff:1234:abcd:11'));
      expect((frame[56] << 8) | frame[57]).toBe(8080);
      expect(l4Checksum6Valid(frame)).toBe(true);
      rewriteSource6(frame, 14, 54, proto, a6('fd00:1::100'), 80, false);
      expect(Array.from(frame.subarray(22, 38))).toEqual(ipv6Bytes('fd00:1::100'));
      expect(l4Checksum6Valid(frame)).toBe(true);
    });
  }

  it('NEEDS_CSUM: only the address enters the partial sum; completed afterwards it verifies', () => {
    const { frame, csumStart, csumOffset } = l4Frame6({ dst: 1, src: 2, srcIp: 'fd00:1::2', dstIp: 'fd00:1::100', proto: 6, sport: 40000, dport: 80, payloadLen: 1200, partialCsum: true });
    rewriteDestination6(frame, 14, 54, 6, a6('fd00:9::12'), 9090, true);
    completePartialChecksum(frame, csumStart, csumOffset);
    expect(l4Checksum6Valid(frame)).toBe(true);
  });
});

describe('IP-in-IP limits', () => {
  /** 20 bytes of headroom, an Ethernet header and an IPv4 header whose total length says `total`. */
  function bigInner(total: number): Uint8Array {
    const f = new Uint8Array(20 + 14 + 20);
    f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0], 20);
    const h = 34;
    f[h] = 0x45;
    f[h + 2] = total >> 8;
    f[h + 3] = total & 0xff;
    f[h + 6] = 0x40; // DF
    f[h + 8] = 64;
    f[h + 9] = 6;
    f.set([10, 1, 0, 2, 10, 1, 0, 100], h + 12);
    return f;
  }

  it('wraps an inner packet of 65515 bytes, the outer total length then 65535', () => {
    const f = bigInner(IPIP_MAX_INNER);
    expect(IPIP_MAX_INNER).toBe(65515);
    expect(encapsulateIpip(f, 20, ip('10.1.0.100'), ip('10.1.0.10'))).toBe(0);
    expect((f[16] << 8) | f[17]).toBe(65535);
    expect(fold(sum16(f, 14, 20))).toBe(0);
  });

  it('refuses an inner packet of 65516 bytes or more (the outer total length would wrap): -1, nothing written', () => {
    for (const total of [IPIP_MAX_INNER + 1, 65535]) {
      const f = bigInner(total);
      const before = f.slice();
      expect(encapsulateIpip(f, 20, ip('10.1.0.100'), ip('10.1.0.10'))).toBe(-1);
      expect(f).toEqual(before);
    }
  });
});
