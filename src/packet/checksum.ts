/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The checksum is the 16-bit one's complement of the one's complement sum of the data taken as
 * big-endian 16-bit words (an odd trailing byte is padded with a zero byte). It is computed in two
 * steps so that pieces can be combined without copying:
 *
 *   sum = onesSum(buf, off, len, initial)   // running sum, not yet folded or complemented
 *   csum = foldChecksum(sum)                // fold the carries into 16 bits, complement
 *
 * so a TCP checksum is `foldChecksum(onesSum(seg, o, n, pseudoHeaderSumV4(src, dst, 6, n)))`.
 * Running sums are non-negative integers; any sum of a few of them is exact in a JS number and
 * `foldChecksum` accepts it. Verifying is the same computation over the data *including* the stored
 * checksum: the result is 0 when the data is intact.
 *
 * Incremental update (RFC 1624 eqn. 3), for rewriting one field without touching the rest:
 *
 *   HC' = ~(~HC + ~m + m')      HC: old checksum, m: old 16-bit word, m': new word
 *
 * `checksumUpdate32` applies it to both halves of a 32-bit field (an IPv4 address). A field that
 * holds a *partial* checksum (virtio-net NEEDS_CSUM / Linux CHECKSUM_PARTIAL: the folded pseudo
 * header sum, not complemented) is updated through its complement:
 * `~checksumUpdate32(~field & 0xffff, old, new) & 0xffff`.
 *
 * Speed: `onesSum` reads bytes with plain arithmetic on the Uint8Array (no DataView, nothing
 * allocated), eight bytes per iteration, and folds every 32 KB so the accumulator stays a small
 * integer in optimized code. One's complement addition is commutative and byte-order independent
 * (RFC 1071 section 2), which is what makes the pieces and the incremental form work.
 */

/** Largest run of bytes summed before a fold: 16384 words of at most 0xffff stay below 2**30. */
const CHUNK = 32768;

/**
 * The one's complement running sum of `buf[off..off+len]` as big-endian 16-bit words, plus
 * `initial` (another running sum, default 0). An odd length is padded with a zero byte, so only the
 * last piece of a message may have an odd length. The result is a non-negative integer below 2**18,
 * not yet folded to 16 bits and not complemented: pass it to `foldChecksum` or back as `initial`.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let acc = initial > 0xffffffff ? foldCarries(initial) : (initial & 0xffff) + (initial >>> 16);
  const end = off + len;
  const evenEnd = end - (len & 1);
  let i = off;
  while (i < evenEnd) {
    const chunkEnd = Math.min(evenEnd, i + CHUNK);
    const unrolledEnd = chunkEnd - 7;
    let s = 0;
    for (; i < unrolledEnd; i += 8) {
      s +=
        ((buf[i] << 8) | buf[i + 1]) +
        ((buf[i + 2] << 8) | buf[i + 3]) +
        ((buf[i + 4] << 8) | buf[i + 5]) +
        ((buf[i + 6] << 8) | buf[i + 7]);
    }
    for (; i < chunkEnd; i += 2) s += (buf[i] << 8) | buf[i + 1];
    acc += s;
    acc = (acc & 0xffff) + (acc >>> 16);
  }
  if (len & 1) acc += buf[end - 1] << 8;
  return acc;
}

/** Folds any non-negative safe integer to at most 0xffff by end-around carry (no complement). */
function foldCarries(sum: number): number {
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Folds a running sum (any non-negative safe integer) into 16 bits and complements it: the checksum. */
export function foldChecksum(sum: number): number {
  return ~foldCarries(sum) & 0xffff;
}

/** The Internet checksum of `buf[off..off+len]`: `foldChecksum(onesSum(buf, off, len))`. */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return foldChecksum(onesSum(buf, off, len));
}

/**
 * The running sum of the IPv4 pseudo header (RFC 793 / RFC 768): source and destination addresses
 * (uint32), zero, protocol, and the upper-layer length `len` (header + data).
 */
export function pseudoHeaderSumV4(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/**
 * The running sum of the IPv6 pseudo header (RFC 8200 section 8.1): the 16-byte addresses at
 * `buf[srcOff]` and `buf[dstOff]`, the 32-bit upper-layer length `len` and the next header `proto`.
 */
export function pseudoHeaderSumV6(
  buf: Uint8Array,
  srcOff: number,
  dstOff: number,
  proto: number,
  len: number,
): number {
  return onesSum(buf, srcOff, 16, onesSum(buf, dstOff, 16, (len >>> 16) + (len & 0xffff) + proto));
}

/**
 * RFC 1624 eqn. 3: the checksum after one 16-bit word of the covered data changed from `oldWord`
 * to `newWord`, given the old checksum.
 */
export function checksumUpdate16(oldChecksum: number, oldWord: number, newWord: number): number {
  let sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * RFC 1624 eqn. 3 for a 32-bit field (an IPv4 address, a TCP sequence number) that changed from
 * `oldValue32` to `newValue32`; both are unsigned (or signed) 32-bit integers.
 */
export function checksumUpdate32(oldChecksum: number, oldValue32: number, newValue32: number): number {
  let sum =
    (~oldChecksum & 0xffff) +
    (~(oldValue32 >>> 16) & 0xffff) +
    (~oldValue32 & 0xffff) +
    ((newValue32 >>> 16) & 0xffff) +
    (newValue32 & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
