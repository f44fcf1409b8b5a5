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
 * Speed: nothing is allocated per call and no DataView is used. Short runs (headers) are summed
 * byte by byte, eight bytes per iteration, folding every 32 KB so the accumulator stays a small
 * integer in optimized code. Runs of 128 bytes or more are summed as 32-bit words through one cached
 * Uint32Array over the buffer's whole ArrayBuffer (the frame pool), in double-precision
 * accumulators that stay exact; that is about 10 GB/s against 2 GB/s for the byte loop on a 64 KB
 * super-frame. Both rely on one's complement addition being commutative and byte-order independent
 * (RFC 1071 section 2), which is also what makes the pieces and the incremental form work.
 */

/** Below this many bytes the byte loop wins over setting up the word loop. */
const WIDE_MIN = 128;
/** Largest run of bytes the byte loop sums before a fold: 16384 words of at most 0xffff stay below 2**30. */
const BYTE_CHUNK = 32768;
/** Largest run of 32-bit words the word loop sums before a fold: 2**18 words below 2**32 stay below 2**50. */
const WORD_CHUNK = 0x40000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * One Uint32Array over the whole ArrayBuffer of the last buffer summed with the word loop. The data
 * plane sums frames of one pool, so this is created once; a different buffer replaces it.
 */
let wideBuffer: ArrayBufferLike | null = null;
let wideWords: Uint32Array = new Uint32Array(0);

/**
 * The one's complement running sum of `buf[off..off+len]` as big-endian 16-bit words, plus
 * `initial` (another running sum, default 0). An odd length is padded with a zero byte, so only the
 * last piece of a message may have an odd length. The result is a non-negative integer below 2**17,
 * not yet fully folded to 16 bits and not complemented: pass it to `foldChecksum` or back as `initial`.
 *
 * Runs of 128 bytes or more are summed as aligned 32-bit little-endian words through a Uint32Array
 * over the same memory (about four times the speed of the byte loop on a 64 KB super-frame); the few
 * bytes before the first aligned word and after the last are added with their big-endian weights,
 * and the word sum is byte-swapped back when its lanes are out of phase with the message's words.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let acc = initial > 0xffffffff ? foldCarries(initial) : (initial & 0xffff) + (initial >>> 16);
  acc += len >= WIDE_MIN && LITTLE_ENDIAN ? sumWords(buf, off, len) : sumBytes(buf, off, len);
  return (acc & 0xffff) + (acc >>> 16);
}

/** The byte loop: eight bytes per iteration, a fold every 32 KB. Returns a value below 2**18. */
function sumBytes(buf: Uint8Array, off: number, len: number): number {
  const end = off + len;
  const evenEnd = end - (len & 1);
  let acc = 0;
  let i = off;
  while (i < evenEnd) {
    const chunkEnd = Math.min(evenEnd, i + BYTE_CHUNK);
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

/**
 * The word loop (little-endian hosts, len >= 4). A byte at message position k weighs 256 when k is
 * even and 1 when odd (mod 0xffff, 2**16 == 1). A little-endian 32-bit load gives the bytes at an
 * aligned address A, A+1, A+2, A+3 the weights 1, 256, 1, 256; so when A is at an even message
 * position the lanes are swapped and the folded word sum is byte-swapped. Returns a value below 2**20.
 */
function sumWords(buf: Uint8Array, off: number, len: number): number {
  const abs = buf.byteOffset + off;
  const head = (4 - (abs & 3)) & 3;
  const first = (abs + head) >>> 2;
  const count = (len - head) >>> 2;
  const last = first + count;
  let words = wideWords;
  if (buf.buffer !== wideBuffer || last > words.length) {
    wideBuffer = buf.buffer;
    words = wideWords = new Uint32Array(wideBuffer, 0, wideBuffer.byteLength >>> 2);
  }
  let edges = 0;
  for (let k = 0; k < head; k++) edges += (k & 1) === 0 ? buf[off + k] << 8 : buf[off + k];
  for (let k = head + 4 * count; k < len; k++) edges += (k & 1) === 0 ? buf[off + k] << 8 : buf[off + k];
  let le = 0;
  for (let w = first; w < last; ) {
    const end = Math.min(last, w + WORD_CHUNK);
    let s1 = 0;
    let s2 = 0;
    for (; w + 3 < end; w += 4) {
      s1 += words[w] + words[w + 1];
      s2 += words[w + 2] + words[w + 3];
    }
    for (; w < end; w++) s1 += words[w];
    le = foldCarries(le + s1 + s2);
  }
  if ((head & 1) === 0) le = ((le & 0xff) << 8) | (le >>> 8);
  return edges + le;
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
