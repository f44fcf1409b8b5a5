/**
 * IPv4 headers (RFC 791), options included, and IPv4 addresses as uint32 numbers.
 *
 *   offset  size  field
 *   0       1     version (4 bits, = 4) | IHL (4 bits, header length in 32-bit words, >= 5)
 *   1       1     DSCP (6 bits) | ECN (2 bits)
 *   2       2     total length (header + payload, bytes)
 *   4       2     identification
 *   6       2     flags (reserved, DF, MF: 3 bits) | fragment offset (13 bits, 8-byte units)
 *   8       1     TTL
 *   9       1     protocol
 *   10      2     header checksum
 *   12      4     source address
 *   16      4     destination address
 *   20      IHL*4-20  options
 *   IHL*4         payload, up to total length (Ethernet padding may follow)
 *
 * Check up front (`bind`), in this order: at least 20 bytes ('truncated'); version 4
 * ('bad-version'); IHL >= 5 ('bad-header-length'); IHL*4 bytes present ('truncated'); total length
 * >= IHL*4 ('bad-total-length'); total length <= the bytes bound ('truncated'). The header checksum
 * is not checked by `bind` (checksum offload may have vouched for it): `verifyChecksum()` does.
 * The payload is `totalLength - headerLength` bytes, so trailing Ethernet padding is excluded.
 *
 * Addresses are uint32 numbers on the hot path (10.0.0.1 is 0x0a000001); `formatIpv4` and
 * `parseIpv4` convert at the edges. Emit: `emitIpv4` writes a 20-byte header with its checksum.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { checksumUpdate16, checksumUpdate32, foldChecksum, onesSum, pseudoHeaderSumV4 } from './checksum.js';
import { IPV4_HEADER_LEN } from './constants.js';
import type { PseudoHeaderSource } from './result.js';

export type Ipv4Result = 'ok' | 'truncated' | 'bad-version' | 'bad-header-length' | 'bad-total-length';

/** Flag bits of the 16-bit flags/fragment-offset word. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;

const EMPTY = new Uint8Array(0);

export class Ipv4View implements PseudoHeaderSource {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to `buf[off..off+len]` (usually an Ethernet payload) and checks it. */
  bind(buf: Uint8Array, off: number, len: number): Ipv4Result {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < IPV4_HEADER_LEN) return 'truncated';
    const vihl = buf[off];
    if (vihl >>> 4 !== 4) return 'bad-version';
    const hlen = (vihl & 0x0f) << 2;
    if (hlen < IPV4_HEADER_LEN) return 'bad-header-length';
    if (hlen > len) return 'truncated';
    const total = read16(buf, off + 2);
    if (total < hlen) return 'bad-total-length';
    if (total > len) return 'truncated';
    return 'ok';
  }

  get version(): number {
    return this.buf[this.off] >>> 4;
  }

  /** Header length in bytes (IHL * 4), options included. */
  get headerLength(): number {
    return (this.buf[this.off] & 0x0f) << 2;
  }
  /** Sets IHL from a length in bytes (a multiple of 4, 20..60); the version nibble is kept. */
  set headerLength(bytes: number) {
    this.buf[this.off] = (this.buf[this.off] & 0xf0) | ((bytes >>> 2) & 0x0f);
  }

  /** The whole second byte: DSCP << 2 | ECN (the old TOS byte). */
  get tos(): number {
    return this.buf[this.off + 1];
  }
  set tos(tos: number) {
    this.buf[this.off + 1] = tos;
  }

  get dscp(): number {
    return this.buf[this.off + 1] >>> 2;
  }
  set dscp(dscp: number) {
    this.buf[this.off + 1] = ((dscp & 0x3f) << 2) | (this.buf[this.off + 1] & 0x03);
  }

  get ecn(): number {
    return this.buf[this.off + 1] & 0x03;
  }
  set ecn(ecn: number) {
    this.buf[this.off + 1] = (this.buf[this.off + 1] & 0xfc) | (ecn & 0x03);
  }

  /** Header plus payload, in bytes. */
  get totalLength(): number {
    return read16(this.buf, this.off + 2);
  }
  set totalLength(len: number) {
    write16(this.buf, this.off + 2, len);
  }

  get identification(): number {
    return read16(this.buf, this.off + 4);
  }
  set identification(id: number) {
    write16(this.buf, this.off + 4, id);
  }

  /** The 16-bit word of flags (DF 0x4000, MF 0x2000) and fragment offset. */
  get flagsAndFragment(): number {
    return read16(this.buf, this.off + 6);
  }
  set flagsAndFragment(word: number) {
    write16(this.buf, this.off + 6, word);
  }

  get dontFragment(): boolean {
    return (this.buf[this.off + 6] & 0x40) !== 0;
  }
  set dontFragment(df: boolean) {
    const o = this.off + 6;
    this.buf[o] = df ? this.buf[o] | 0x40 : this.buf[o] & 0xbf;
  }

  get moreFragments(): boolean {
    return (this.buf[this.off + 6] & 0x20) !== 0;
  }
  set moreFragments(mf: boolean) {
    const o = this.off + 6;
    this.buf[o] = mf ? this.buf[o] | 0x20 : this.buf[o] & 0xdf;
  }

  /** Fragment offset in bytes (the field counts 8-byte units; a set value is rounded down to 8). */
  get fragmentOffset(): number {
    return (read16(this.buf, this.off + 6) & 0x1fff) << 3;
  }
  set fragmentOffset(bytes: number) {
    const o = this.off + 6;
    write16(this.buf, o, ((this.buf[o] & 0xe0) << 8) | ((bytes >>> 3) & 0x1fff));
  }

  /** True for any fragment of a fragmented datagram (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (read16(this.buf, this.off + 6) & 0x3fff) !== 0;
  }

  get ttl(): number {
    return this.buf[this.off + 8];
  }
  set ttl(ttl: number) {
    this.buf[this.off + 8] = ttl;
  }

  get protocol(): number {
    return this.buf[this.off + 9];
  }
  set protocol(proto: number) {
    this.buf[this.off + 9] = proto;
  }

  get checksum(): number {
    return read16(this.buf, this.off + 10);
  }
  set checksum(csum: number) {
    write16(this.buf, this.off + 10, csum);
  }

  get src(): number {
    return read32(this.buf, this.off + 12);
  }
  set src(addr: number) {
    write32(this.buf, this.off + 12, addr);
  }

  get dst(): number {
    return read32(this.buf, this.off + 16);
  }
  set dst(addr: number) {
    write32(this.buf, this.off + 16, addr);
  }

  /** Absolute offset of the options in `buf` (equal to `payloadOffset` when there are none). */
  get optionsOffset(): number {
    return this.off + IPV4_HEADER_LEN;
  }
  get optionsLength(): number {
    return this.headerLength - IPV4_HEADER_LEN;
  }

  /** Absolute offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** Payload bytes by the total length field (Ethernet padding excluded). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }

  /** The header checksum the header should carry (computed with the checksum field taken as zero). */
  computeChecksum(): number {
    const b = this.buf;
    const o = this.off;
    const sum = onesSum(b, o, 10, onesSum(b, o + 12, this.headerLength - 12));
    return foldChecksum(sum);
  }

  /** Computes the header checksum and stores it. */
  fillChecksum(): void {
    this.checksum = this.computeChecksum();
  }

  /** True when the stored header checksum is correct. */
  verifyChecksum(): boolean {
    return foldChecksum(onesSum(this.buf, this.off, this.headerLength)) === 0;
  }

  /** The pseudo header sum for TCP/UDP checksums (`PseudoHeaderSource`). */
  pseudoHeaderSum(proto: number, len: number): number {
    return pseudoHeaderSumV4(this.src, this.dst, proto, len);
  }

  /** Sets the source address and updates the header checksum incrementally (RFC 1624). */
  rewriteSrc(addr: number): void {
    this.checksum = checksumUpdate32(this.checksum, this.src, addr);
    this.src = addr;
  }

  /** Sets the destination address and updates the header checksum incrementally (RFC 1624). */
  rewriteDst(addr: number): void {
    this.checksum = checksumUpdate32(this.checksum, this.dst, addr);
    this.dst = addr;
  }

  /**
   * Decrements the TTL and updates the header checksum incrementally. Returns the new TTL; a TTL
   * already 0 is left alone and 0 is returned (the caller drops the datagram).
   */
  decrementTtl(): number {
    const b = this.buf;
    const o = this.off + 8;
    const ttl = b[o];
    if (ttl === 0) return 0;
    const oldWord = (ttl << 8) | b[o + 1];
    b[o] = ttl - 1;
    this.checksum = checksumUpdate16(this.checksum, oldWord, oldWord - 0x100);
    return ttl - 1;
  }
}

/**
 * Writes a 20-byte IPv4 header (no options) at `buf[off]` with its checksum. `payloadLength` is the
 * bytes that will follow; `flagsAndFragment` defaults to DF. Returns the header length, 20.
 */
export function emitIpv4(
  buf: Uint8Array,
  off: number,
  src: number,
  dst: number,
  protocol: number,
  payloadLength: number,
  ttl = 64,
  identification = 0,
  flagsAndFragment = IPV4_FLAG_DF,
  tos = 0,
): number {
  buf[off] = 0x45;
  buf[off + 1] = tos;
  write16(buf, off + 2, IPV4_HEADER_LEN + payloadLength);
  write16(buf, off + 4, identification);
  write16(buf, off + 6, flagsAndFragment);
  buf[off + 8] = ttl;
  buf[off + 9] = protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  write32(buf, off + 12, src);
  write32(buf, off + 16, dst);
  write16(buf, off + 10, foldChecksum(onesSum(buf, off, IPV4_HEADER_LEN)));
  return IPV4_HEADER_LEN;
}

/** Dotted quad, e.g. `10.0.0.1` for 0x0a000001. */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

/**
 * The project's one reading of IPv4 text: a strict dotted quad, four decimal numbers 0-255 without
 * leading zeros (some tools read those as octal), signs or spaces. Returns the value, or why the
 * text is not one, in words fit for an error message (control/cidr.ts wraps it in ERR_BAD_IP).
 */
export function ipv4OrProblem(text: unknown): number | string {
  if (typeof text !== 'string') return `it is a ${text === null ? 'null' : typeof text}, not a string`;
  if (text === '') return 'it is empty';
  if (/\s/.test(text)) return 'it contains whitespace';
  const parts = text.split('.');
  if (parts.length !== 4) return `it has ${parts.length} part${parts.length === 1 ? '' : 's'}, expected 4`;
  let n = 0;
  for (const p of parts) {
    if (p === '') return 'it has an empty part';
    if (!/^[0-9]+$/.test(p)) return `part '${p}' is not a decimal number`;
    if (p.length > 1 && p[0] === '0') return `part '${p}' has a leading zero, which some tools read as octal; write it without leading zeros`;
    const v = Number.parseInt(p, 10);
    if (v > 255) return `part ${p} is above 255`;
    n = n * 256 + v;
  }
  return n;
}

/** True if `text` is a strict dotted quad. */
export function isIpv4(text: unknown): boolean {
  return typeof ipv4OrProblem(text) === 'number';
}

/** Parses a strict dotted quad; throws an Error naming the value, why, and the accepted form. */
export function parseIpv4(text: string): number {
  const r = ipv4OrProblem(text);
  if (typeof r === 'number') return r;
  throw new Error(`invalid IPv4 address ${JSON.stringify(text)}: ${r}; expected four decimal numbers 0-255 separated by dots, like 10.0.0.1`);
}
