import { describe, expect, it } from 'vitest';
import {
  checksumUpdate16,
  checksumUpdate32,
  foldChecksum,
  internetChecksum,
  onesSum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
} from '../../../src/packet/checksum.js';
import { DNS_QUERY, ICMPV6_ECHO, TCP_SYN_V4, TCP_SYN_V6, hex } from './frames.js';

/**
 * A reference Internet checksum computed another way: every byte weighted by its lane (256 for the
 * high byte of a word, 1 for the low byte), summed exactly, reduced mod 0xffff. One's complement
 * addition is addition mod 0xffff with 0xffff standing for a non-zero multiple.
 */
function referenceChecksum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += i % 2 === 0 ? bytes[i] * 256 : bytes[i];
  let r = sum % 0xffff;
  if (r === 0 && sum !== 0) r = 0xffff;
  return ~r & 0xffff;
}

/** mulberry32: a small seeded PRNG so the property loops are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

describe('onesSum / foldChecksum / internetChecksum', () => {
  it('matches the RFC 1071 section 3 example (sum ddf2, checksum 220d)', () => {
    const data = hex('0001 f203 f4f5 f6f7');
    // The RFC's 16-bit sum with the carry folded in is 0xddf2.
    const sum = onesSum(data, 0, data.length);
    expect((sum & 0xffff) + (sum >>> 16)).toBe(0xddf2);
    expect(internetChecksum(data, 0, data.length)).toBe(0x220d);
    expect(foldChecksum(sum)).toBe(0x220d);
  });

  it('verifies the IPv4 header checksum of the Wikipedia example header (b861)', () => {
    const header = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header, 0, 20)).toBe(0);
    header[10] = 0;
    header[11] = 0;
    expect(internetChecksum(header, 0, 20)).toBe(0xb861);
  });

  it('verifies the IPv4 header checksum of a captured frame and recomputes it', () => {
    const frame = Uint8Array.from(TCP_SYN_V4);
    expect(internetChecksum(frame, 14, 20)).toBe(0);
    frame[24] = 0;
    frame[25] = 0;
    expect(internetChecksum(frame, 14, 20)).toBe(0xafb5);
  });

  it('verifies the TCP checksum of a captured IPv4 SYN, with the pseudo header', () => {
    const src = 0xac110002;
    const dst = 0xac110001;
    const segLen = TCP_SYN_V4.length - 34;
    const pseudo = pseudoHeaderSumV4(src, dst, 6, segLen);
    expect(foldChecksum(onesSum(TCP_SYN_V4, 34, segLen, pseudo))).toBe(0);
    const zeroed = Uint8Array.from(TCP_SYN_V4);
    zeroed[34 + 16] = 0;
    zeroed[34 + 17] = 0;
    expect(foldChecksum(onesSum(zeroed, 34, segLen, pseudo))).toBe(0x6bc7);
  });

  it('verifies the UDP checksum of a captured DNS query (odd length: 37 bytes)', () => {
    const udpLen = 37;
    expect(udpLen % 2).toBe(1);
    const pseudo = pseudoHeaderSumV4(0xac110002, 0xac110001, 17, udpLen);
    expect(foldChecksum(onesSum(DNS_QUERY, 34, udpLen, pseudo))).toBe(0);
  });

  it('verifies TCP and ICMPv6 checksums over IPv6 with pseudoHeaderSumV6', () => {
    expect(foldChecksum(onesSum(TCP_SYN_V6, 54, 40, pseudoHeaderSumV6(TCP_SYN_V6, 22, 38, 6, 40)))).toBe(0);
    expect(foldChecksum(onesSum(ICMPV6_ECHO, 54, 48, pseudoHeaderSumV6(ICMPV6_ECHO, 22, 38, 58, 48)))).toBe(0);
    // A wrong protocol number must break it.
    expect(foldChecksum(onesSum(TCP_SYN_V6, 54, 40, pseudoHeaderSumV6(TCP_SYN_V6, 22, 38, 17, 40)))).not.toBe(0);
  });

  it('pseudoHeaderSumV4 equals summing an explicit 12-byte pseudo header', () => {
    const rand = prng(7);
    for (let i = 0; i < 200; i++) {
      const src = Math.floor(rand() * 2 ** 32);
      const dst = Math.floor(rand() * 2 ** 32);
      const len = Math.floor(rand() * 65536);
      const ph = new Uint8Array(12);
      new DataView(ph.buffer).setUint32(0, src);
      new DataView(ph.buffer).setUint32(4, dst);
      ph[9] = 6;
      new DataView(ph.buffer).setUint16(10, len);
      expect(foldChecksum(pseudoHeaderSumV4(src, dst, 6, len))).toBe(referenceChecksum(ph));
    }
  });

  it('pseudoHeaderSumV6 equals summing an explicit 40-byte pseudo header, 32-bit lengths included', () => {
    const rand = prng(11);
    for (let i = 0; i < 200; i++) {
      const addrs = randomBytes(rand, 32);
      const len = i === 0 ? 0x12345678 : Math.floor(rand() * 2 ** 32);
      const ph = new Uint8Array(40);
      ph.set(addrs, 0);
      new DataView(ph.buffer).setUint32(32, len);
      ph[39] = 58;
      expect(foldChecksum(pseudoHeaderSumV6(addrs, 0, 16, 58, len))).toBe(referenceChecksum(ph));
    }
  });

  it('matches the reference for random data of every length 0..300 at odd and even offsets', () => {
    const rand = prng(1);
    for (let len = 0; len <= 300; len++) {
      const data = randomBytes(rand, len + 3);
      for (const off of [0, 1, 2, 3]) {
        const n = Math.min(len, data.length - off);
        expect(internetChecksum(data, off, n)).toBe(referenceChecksum(data.subarray(off, off + n)));
      }
    }
  });

  it('pads an odd trailing byte with zero', () => {
    expect(internetChecksum(hex('ab'), 0, 1)).toBe(~0xab00 & 0xffff);
    expect(internetChecksum(hex('0102 03'), 0, 3)).toBe(~(0x0102 + 0x0300) & 0xffff);
    // The byte after the range must not be read.
    expect(internetChecksum(hex('0102 03ff'), 0, 3)).toBe(~(0x0102 + 0x0300) & 0xffff);
  });

  it('chains: the sum of pieces split at even lengths equals the sum of the whole', () => {
    const rand = prng(3);
    const data = randomBytes(rand, 1501);
    for (let cut = 0; cut <= 1500; cut += 2) {
      const whole = internetChecksum(data, 0, 1501);
      expect(foldChecksum(onesSum(data, cut, 1501 - cut, onesSum(data, 0, cut)))).toBe(whole);
    }
  });

  it('does not lose carries on 64 KB of 0xff, or on large initial sums', () => {
    const ff = new Uint8Array(65536).fill(0xff);
    expect(internetChecksum(ff, 0, ff.length)).toBe(referenceChecksum(ff));
    const big = new Uint8Array(65535);
    const rand = prng(5);
    for (let i = 0; i < big.length; i++) big[i] = 0xf0 | Math.floor(rand() * 16);
    expect(internetChecksum(big, 0, big.length)).toBe(referenceChecksum(big));
    // An initial sum above 2**32 (several running sums added together).
    const initial = 0xffff * 70000 + 0x1234;
    const expected = referenceChecksum([0x12, 0x34]);
    expect(foldChecksum(onesSum(ff, 0, 0, initial))).toBe(expected);
    expect(foldChecksum(initial)).toBe(expected);
  });

  it('returns a running sum that stays small enough to chain', () => {
    const ff = new Uint8Array(65536).fill(0xff);
    const s = onesSum(ff, 0, ff.length, 0xffffffff);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThan(2 ** 18);
  });

  it('agrees with the reference on the word path at every alignment, around the 128-byte switch', () => {
    const rand = prng(21);
    const backing = randomBytes(rand, 4096);
    for (const byteOffset of [0, 1, 2, 3]) {
      const view = new Uint8Array(backing.buffer, byteOffset, backing.length - byteOffset);
      for (const off of [0, 1, 2, 3, 5]) {
        for (const len of [126, 127, 128, 129, 130, 131, 132, 133, 1499, 1500, 1501, 4000]) {
          const n = Math.min(len, view.length - off);
          expect(internetChecksum(view, off, n)).toBe(referenceChecksum(view.subarray(off, off + n)));
        }
      }
    }
  });

  it('switches between buffers: frames of two pools, a pooled Node Buffer, a SharedArrayBuffer', () => {
    const rand = prng(22);
    const a = randomBytes(rand, 3000);
    const b = randomBytes(rand, 5000);
    const nodeBuf = Buffer.allocUnsafe(700); // a slice of Node's shared pool: byteOffset is usually not 0
    nodeBuf.set(randomBytes(rand, 700));
    const shared = new Uint8Array(new SharedArrayBuffer(2048));
    shared.set(randomBytes(rand, 2048));
    for (let i = 0; i < 3; i++) {
      for (const buf of [a, b, nodeBuf, shared]) {
        expect(internetChecksum(buf, 7, 600)).toBe(referenceChecksum(buf.subarray(7, 607)));
      }
    }
  });

  it('works on a subarray whose byteOffset is odd (frames sit anywhere in the pool)', () => {
    const pool = new Uint8Array(4096 + 1);
    const rand = prng(9);
    pool.set(randomBytes(rand, pool.length));
    const view = pool.subarray(1);
    expect(internetChecksum(view, 0, 4096)).toBe(referenceChecksum(pool.subarray(1, 4097)));
    expect(internetChecksum(view, 3, 1001)).toBe(referenceChecksum(pool.subarray(4, 1005)));
  });
});

describe('incremental update (RFC 1624)', () => {
  it('checksumUpdate16 equals a full recompute for many random word rewrites', () => {
    const rand = prng(42);
    for (let round = 0; round < 2000; round++) {
      const len = 20 + 2 * Math.floor(rand() * 40);
      const data = randomBytes(rand, len);
      data[0] = 0x45; // a non-zero word, as in every real header: excludes the all-zero corner case
      data[10] = 0;
      data[11] = 0;
      const csum = internetChecksum(data, 0, len);
      const at = 2 + 2 * Math.floor(rand() * ((len - 2) / 2));
      if (at === 10) continue;
      const oldWord = (data[at] << 8) | data[at + 1];
      const newWord = round % 10 === 0 ? 0 : Math.floor(rand() * 65536);
      data[at] = newWord >>> 8;
      data[at + 1] = newWord & 0xff;
      const full = internetChecksum(data, 0, len);
      const incremental = checksumUpdate16(csum, oldWord, newWord);
      expect(incremental).toBe(full);
      // And the updated checksum verifies.
      data[10] = incremental >>> 8;
      data[11] = incremental & 0xff;
      expect(internetChecksum(data, 0, len)).toBe(0);
    }
  });

  it('checksumUpdate32 equals a full recompute for many random address rewrites', () => {
    const rand = prng(43);
    for (let round = 0; round < 2000; round++) {
      const header = randomBytes(rand, 20);
      header[0] = 0x45;
      header[10] = 0;
      header[11] = 0;
      const csum = internetChecksum(header, 0, 20);
      const at = rand() < 0.5 ? 12 : 16;
      const dv = new DataView(header.buffer);
      const oldAddr = dv.getUint32(at);
      const newAddr = round % 7 === 0 ? 0xffffffff : Math.floor(rand() * 2 ** 32);
      dv.setUint32(at, newAddr);
      const incremental = checksumUpdate32(csum, oldAddr, newAddr);
      expect(incremental).toBe(internetChecksum(header, 0, 20));
      // Signed int32 inputs (as `|` arithmetic produces) give the same answer.
      expect(checksumUpdate32(csum, oldAddr | 0, newAddr | 0)).toBe(incremental);
    }
  });

  it('folds a carry that the first fold itself produces (checksum 0, word 0 -> 1)', () => {
    // Words 1234 + edcb = ffff, so the checksum is 0; then the zero word at offset 6 becomes 1.
    const data = hex('1234 edcb 0000 0000');
    expect(internetChecksum(data, 0, 8)).toBe(0);
    data[7] = 1;
    expect(checksumUpdate16(0, 0x0000, 0x0001)).toBe(internetChecksum(data, 0, 8));
    expect(checksumUpdate16(0, 0x0000, 0x0001)).toBe(0xfffe);
    // The same for a 32-bit field 0.0.0.0 -> 0.0.0.1 at offsets 4..8.
    const wide = hex('1234 edcb 0000 0000 0000');
    expect(internetChecksum(wide, 0, 10)).toBe(0);
    wide[7] = 1;
    expect(checksumUpdate32(0, 0, 1)).toBe(internetChecksum(wide, 0, 10));
  });

  it('updates a captured TCP checksum after a NAT rewrite of the destination address and port', () => {
    const seg = Uint8Array.from(TCP_SYN_V4.subarray(34));
    const oldDst = 0xac110001;
    const newDst = 0x0a000005; // 10.0.0.5
    let csum = (seg[16] << 8) | seg[17];
    csum = checksumUpdate32(csum, oldDst, newDst);
    csum = checksumUpdate16(csum, 80, 8080);
    seg[2] = 8080 >>> 8;
    seg[3] = 8080 & 0xff;
    seg[16] = csum >>> 8;
    seg[17] = csum & 0xff;
    const pseudo = pseudoHeaderSumV4(0xac110002, newDst, 6, seg.length);
    expect(foldChecksum(onesSum(seg, 0, seg.length, pseudo))).toBe(0);
    // And the old pseudo header no longer verifies.
    expect(foldChecksum(onesSum(seg, 0, seg.length, pseudoHeaderSumV4(0xac110002, oldDst, 6, seg.length)))).not.toBe(0);
  });

  it('updates a partial (pseudo-header-only) checksum through its complement', () => {
    const src = 0xac110002;
    const oldDst = 0xac110001;
    const newDst = 0xc0a80a0b;
    const partialOld = foldChecksum(pseudoHeaderSumV4(src, oldDst, 6, 40)) ^ 0xffff; // folded, not complemented
    const partialNew = foldChecksum(pseudoHeaderSumV4(src, newDst, 6, 40)) ^ 0xffff;
    expect(~checksumUpdate32(~partialOld & 0xffff, oldDst, newDst) & 0xffff).toBe(partialNew);
  });
});
