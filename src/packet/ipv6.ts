/**
 * IPv6 headers (RFC 8200): the fixed header, then a walk over the common extension headers to the
 * upper-layer protocol.
 *
 *   offset  size  field
 *   0       4     version (4 bits, = 6) | traffic class (8: DSCP 6, ECN 2) | flow label (20)
 *   4       2     payload length (bytes after the fixed header, extension headers included)
 *   6       1     next header
 *   7       1     hop limit
 *   8       16    source address
 *   24      16    destination address
 *   40            extension headers, then the upper-layer header
 *
 * Extension headers walked (at most 8), each starting with (next header, length):
 *   hop-by-hop options (0), routing (43), destination options (60): (length + 1) * 8 bytes
 *   fragment (44): 8 bytes: next header, reserved, offset (13 bits, 8-byte units) | M, identification
 *   authentication header (51): (length + 2) * 4 bytes
 * Any other next header (TCP, UDP, ICMPv6, ESP, no-next-header 59, ...) ends the walk and becomes
 * `upperProtocol`, its header at `upperOffset`.
 *
 * Check up front (`bind`): at least 40 bytes ('truncated'); version 6 ('bad-version'); 40 + payload
 * length <= the bytes bound ('truncated'); each extension header fits inside the payload
 * ('truncated'); hop-by-hop options only first and no more than 8 extension headers
 * ('bad-extension-header'). Jumbograms (payload length 0 with a jumbo option) are not supported and
 * report 'truncated'. In a fragment with a non-zero offset the upper-layer header is not present:
 * check `isFragment` / `fragmentOffset` before parsing what is at `upperOffset`.
 *
 * Addresses stay in the frame (16 bytes at `srcOffset` / `dstOffset`); `formatIpv6` and `parseIpv6`
 * convert at the edges. Emit: `emitIpv6`.
 */
import { read16, read32, write16 } from './bytes.js';
import { pseudoHeaderSumV6 } from './checksum.js';
import {
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT,
  IPPROTO_HOPOPTS,
  IPPROTO_ROUTING,
  IPV6_HEADER_LEN,
} from './constants.js';
import type { PseudoHeaderSource } from './result.js';

export type Ipv6Result = 'ok' | 'truncated' | 'bad-version' | 'bad-extension-header';

/** The most extension headers `bind` walks before reporting 'bad-extension-header'. */
export const IPV6_MAX_EXTENSION_HEADERS = 8;

const EMPTY = new Uint8Array(0);

export class Ipv6View implements PseudoHeaderSource {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;
  /** Found by `bind`: the protocol after the extension headers. */
  upperProtocol = 0;
  /** Found by `bind`: absolute offset of the upper-layer header. */
  upperOffset = 0;
  /** Found by `bind`: absolute offset of the fragment header, or -1 when there is none. */
  fragmentHeaderOffset = -1;

  /** Binds the view to `buf[off..off+len]` (usually an Ethernet payload), checks it and walks the extension headers. */
  bind(buf: Uint8Array, off: number, len: number): Ipv6Result {
    this.buf = buf;
    this.off = off;
    this.len = len;
    this.fragmentHeaderOffset = -1;
    if (len < IPV6_HEADER_LEN) return 'truncated';
    if (buf[off] >>> 4 !== 6) return 'bad-version';
    const end = off + IPV6_HEADER_LEN + read16(buf, off + 4);
    if (end > off + len) return 'truncated';
    let nh = buf[off + 6];
    let p = off + IPV6_HEADER_LEN;
    for (let n = 0; ; n++) {
      let hlen: number;
      if (nh === IPPROTO_HOPOPTS || nh === IPPROTO_ROUTING || nh === IPPROTO_DSTOPTS) {
        if (nh === IPPROTO_HOPOPTS && n !== 0) return 'bad-extension-header';
        if (p + 8 > end) return 'truncated';
        hlen = (buf[p + 1] + 1) << 3;
      } else if (nh === IPPROTO_FRAGMENT) {
        if (p + 8 > end) return 'truncated';
        this.fragmentHeaderOffset = p;
        hlen = 8;
      } else if (nh === IPPROTO_AH) {
        if (p + 8 > end) return 'truncated';
        hlen = (buf[p + 1] + 2) << 2;
      } else {
        break;
      }
      if (n === IPV6_MAX_EXTENSION_HEADERS) return 'bad-extension-header';
      if (p + hlen > end) return 'truncated';
      nh = buf[p];
      p += hlen;
    }
    this.upperProtocol = nh;
    this.upperOffset = p;
    return 'ok';
  }

  get version(): number {
    return this.buf[this.off] >>> 4;
  }

  get trafficClass(): number {
    return ((this.buf[this.off] & 0x0f) << 4) | (this.buf[this.off + 1] >>> 4);
  }
  set trafficClass(tc: number) {
    const b = this.buf;
    const o = this.off;
    b[o] = (b[o] & 0xf0) | ((tc >>> 4) & 0x0f);
    b[o + 1] = ((tc & 0x0f) << 4) | (b[o + 1] & 0x0f);
  }

  get dscp(): number {
    return this.trafficClass >>> 2;
  }
  get ecn(): number {
    return this.trafficClass & 0x03;
  }

  get flowLabel(): number {
    return read32(this.buf, this.off) & 0xfffff;
  }
  set flowLabel(label: number) {
    const b = this.buf;
    const o = this.off;
    b[o + 1] = (b[o + 1] & 0xf0) | ((label >>> 16) & 0x0f);
    write16(b, o + 2, label);
  }

  /** Bytes after the 40-byte fixed header (extension headers and upper layer). */
  get payloadLength(): number {
    return read16(this.buf, this.off + 4);
  }
  set payloadLength(len: number) {
    write16(this.buf, this.off + 4, len);
  }

  /** The fixed header's next header field (the first extension header, or the upper layer). */
  get nextHeader(): number {
    return this.buf[this.off + 6];
  }
  set nextHeader(nh: number) {
    this.buf[this.off + 6] = nh;
  }

  get hopLimit(): number {
    return this.buf[this.off + 7];
  }
  set hopLimit(hops: number) {
    this.buf[this.off + 7] = hops;
  }

  /** Absolute offset of the 16-byte source address. */
  get srcOffset(): number {
    return this.off + 8;
  }
  /** Absolute offset of the 16-byte destination address. */
  get dstOffset(): number {
    return this.off + 24;
  }

  /** Copies 16 bytes from `from[fromOff]` into the source address (no allocation). */
  setSrc(from: Uint8Array, fromOff: number): void {
    const b = this.buf;
    const o = this.off + 8;
    for (let i = 0; i < 16; i++) b[o + i] = from[fromOff + i];
  }
  /** Copies 16 bytes from `from[fromOff]` into the destination address (no allocation). */
  setDst(from: Uint8Array, fromOff: number): void {
    const b = this.buf;
    const o = this.off + 24;
    for (let i = 0; i < 16; i++) b[o + i] = from[fromOff + i];
  }

  /** Bytes from the start of the fixed header to the upper-layer header (40 + extension headers). */
  get headerLength(): number {
    return this.upperOffset - this.off;
  }

  /** Upper-layer bytes: from `upperOffset` to the end of the payload (Ethernet padding excluded). */
  get upperLength(): number {
    return this.off + IPV6_HEADER_LEN + this.payloadLength - this.upperOffset;
  }

  /** True when a fragment header is present. */
  get isFragment(): boolean {
    return this.fragmentHeaderOffset >= 0;
  }

  /** The fragment offset in bytes, or 0 without a fragment header. */
  get fragmentOffset(): number {
    const f = this.fragmentHeaderOffset;
    return f < 0 ? 0 : read16(this.buf, f + 2) & 0xfff8;
  }

  /** The fragment header's M flag, or false without one. */
  get moreFragments(): boolean {
    const f = this.fragmentHeaderOffset;
    return f >= 0 && (this.buf[f + 3] & 1) === 1;
  }

  /** The fragment identification, or 0 without a fragment header. */
  get fragmentId(): number {
    const f = this.fragmentHeaderOffset;
    return f < 0 ? 0 : read32(this.buf, f + 4);
  }

  /** The pseudo header sum for TCP/UDP/ICMPv6 checksums (`PseudoHeaderSource`). */
  pseudoHeaderSum(proto: number, len: number): number {
    return pseudoHeaderSumV6(this.buf, this.off + 8, this.off + 24, proto, len);
  }
}

/**
 * Writes a 40-byte IPv6 header at `buf[off]`, the addresses copied from `src[srcOff]` and
 * `dst[dstOff]` (16 bytes each; they may lie in `buf`, but not overlap the header being written).
 * Returns the header length, 40.
 */
export function emitIpv6(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  nextHeader: number,
  payloadLength: number,
  hopLimit = 64,
  trafficClass = 0,
  flowLabel = 0,
): number {
  buf[off] = 0x60 | ((trafficClass >>> 4) & 0x0f);
  buf[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  write16(buf, off + 2, flowLabel);
  write16(buf, off + 4, payloadLength);
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  for (let i = 0; i < 16; i++) buf[off + 8 + i] = src[srcOff + i];
  for (let i = 0; i < 16; i++) buf[off + 24 + i] = dst[dstOff + i];
  return IPV6_HEADER_LEN;
}

/**
 * RFC 5952 text for the 16 bytes at `buf[off]`: lowercase hex, no leading zeros, the longest run of
 * two or more zero groups (the first on a tie) as `::`, and `::ffff:a.b.c.d` for IPv4-mapped addresses.
 */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) g[i] = read16(buf, off + 2 * i);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

const GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/**
 * Parses IPv6 text (RFC 4291 section 2.2: eight hex groups, one `::`, an optional dotted IPv4 tail)
 * into 16 bytes at `out[outOff]`. No zone IDs or prefix lengths. Throws an Error naming the value
 * and the accepted form otherwise.
 */
export function parseIpv6(text: string, out: Uint8Array, outOff: number): void {
  const fail = (): never => {
    throw new Error(
      `invalid IPv6 address ${JSON.stringify(text)}: expected eight groups of 1-4 hex digits separated by colons, one "::" allowed, like fd00::1 or 2001:db8:0:0:0:0:0:1`,
    );
  };
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) fail();
  const halves = text.split('::');
  if (halves.length > 2) fail();
  const groups = (part: string, allowTail: boolean): number[] => {
    if (part === '') return [];
    const words: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (allowTail && i === items.length - 1 && item.includes('.')) {
        if (!DOTTED.test(item)) fail();
        const [a, b, c, d] = item.split('.').map(Number);
        words.push((a << 8) | b, (c << 8) | d);
      } else if (GROUP.test(item)) {
        words.push(parseInt(item, 16));
      } else {
        fail();
      }
    }
    return words;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) fail();
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  for (let i = 0; i < 8; i++) write16(out, outOff + 2 * i, words[i]);
}
