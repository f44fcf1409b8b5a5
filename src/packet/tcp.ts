/**
 * TCP segments (RFC 9293).
 *
 *   offset  size  field
 *   0       2     source port
 *   2       2     destination port
 *   4       4     sequence number
 *   8       4     acknowledgment number
 *   12      1     data offset (4 bits, header length in 32-bit words, >= 5) | reserved (3) | NS (1)
 *   13      1     flags CWR ECE URG ACK PSH RST SYN FIN
 *   14      2     window
 *   16      2     checksum (over pseudo header + header + data)
 *   18      2     urgent pointer
 *   20      dataOffset*4-20  options
 *   dataOffset*4  data, to the end of the segment
 *
 * Check up front (`bind`): at least 20 bytes ('truncated'); data offset >= 5 ('bad-header-length');
 * data offset * 4 <= the bytes bound ('truncated'). Bind to exactly the segment (the IP payload:
 * `Ipv4View.payloadLength` or `Ipv6View.upperLength`): TCP has no length field, so the bound length
 * is the segment length used by `payloadLength` and the checksum. Options are not validated by
 * `bind`; `findOption` walks them and stops at anything malformed.
 *
 * Checksum methods take the IP view in front (`PseudoHeaderSource`). Flags are one 9-bit number
 * (`TCP_SYN | TCP_ACK`, ...). Emit: `emitTcp`, then `fillChecksum` once options and data are in place.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { checksumUpdate16, checksumUpdate32, foldChecksum, onesSum } from './checksum.js';
import { IPPROTO_TCP, TCP_HEADER_LEN } from './constants.js';
import type { PseudoHeaderSource } from './result.js';

export type TcpResult = 'ok' | 'truncated' | 'bad-header-length';

// Flag bits of `flags`.
export const TCP_FIN = 0x001;
export const TCP_SYN = 0x002;
export const TCP_RST = 0x004;
export const TCP_PSH = 0x008;
export const TCP_ACK = 0x010;
export const TCP_URG = 0x020;
export const TCP_ECE = 0x040;
export const TCP_CWR = 0x080;
export const TCP_NS = 0x100;

// Option kinds.
export const TCP_OPT_END = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMP = 8;

const EMPTY = new Uint8Array(0);

export class TcpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to the segment `buf[off..off+len]` and checks it. */
  bind(buf: Uint8Array, off: number, len: number): TcpResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < TCP_HEADER_LEN) return 'truncated';
    const hlen = (buf[off + 12] >>> 4) << 2;
    if (hlen < TCP_HEADER_LEN) return 'bad-header-length';
    if (hlen > len) return 'truncated';
    return 'ok';
  }

  get srcPort(): number {
    return read16(this.buf, this.off);
  }
  set srcPort(port: number) {
    write16(this.buf, this.off, port);
  }

  get dstPort(): number {
    return read16(this.buf, this.off + 2);
  }
  set dstPort(port: number) {
    write16(this.buf, this.off + 2, port);
  }

  /** Sequence number, uint32. */
  get seqNumber(): number {
    return read32(this.buf, this.off + 4);
  }
  set seqNumber(seq: number) {
    write32(this.buf, this.off + 4, seq);
  }

  /** Acknowledgment number, uint32 (meaningful when TCP_ACK is set). */
  get ackNumber(): number {
    return read32(this.buf, this.off + 8);
  }
  set ackNumber(ack: number) {
    write32(this.buf, this.off + 8, ack);
  }

  /** Header length in 32-bit words (5..15). */
  get dataOffset(): number {
    return this.buf[this.off + 12] >>> 4;
  }
  set dataOffset(words: number) {
    const o = this.off + 12;
    this.buf[o] = ((words & 0x0f) << 4) | (this.buf[o] & 0x0f);
  }

  /** Header length in bytes, options included (dataOffset * 4). */
  get headerLength(): number {
    return (this.buf[this.off + 12] >>> 4) << 2;
  }

  /** The 9 flag bits: NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN (see the TCP_* constants). */
  get flags(): number {
    return ((this.buf[this.off + 12] & 1) << 8) | this.buf[this.off + 13];
  }
  set flags(flags: number) {
    const o = this.off + 12;
    this.buf[o] = (this.buf[o] & 0xfe) | ((flags >>> 8) & 1);
    this.buf[o + 1] = flags;
  }

  get window(): number {
    return read16(this.buf, this.off + 14);
  }
  set window(win: number) {
    write16(this.buf, this.off + 14, win);
  }

  get checksum(): number {
    return read16(this.buf, this.off + 16);
  }
  set checksum(csum: number) {
    write16(this.buf, this.off + 16, csum);
  }

  get urgentPointer(): number {
    return read16(this.buf, this.off + 18);
  }
  set urgentPointer(ptr: number) {
    write16(this.buf, this.off + 18, ptr);
  }

  /** Absolute offset of the options in `buf`. */
  get optionsOffset(): number {
    return this.off + TCP_HEADER_LEN;
  }
  get optionsLength(): number {
    return this.headerLength - TCP_HEADER_LEN;
  }

  /** Absolute offset of the data in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  /** Data bytes: the bound segment length minus the header. */
  get payloadLength(): number {
    return this.len - this.headerLength;
  }

  /**
   * Absolute offset of the first option of `kind` (its kind byte), or -1 when it is absent or the
   * options are malformed before it (a length < 2 or running past the header). Stops at END.
   */
  findOption(kind: number): number {
    const b = this.buf;
    const end = this.off + this.headerLength;
    let p = this.off + TCP_HEADER_LEN;
    while (p < end) {
      const k = b[p];
      if (k === TCP_OPT_END) return -1;
      if (k === TCP_OPT_NOP) {
        p++;
        continue;
      }
      if (p + 2 > end) return -1;
      const l = b[p + 1];
      if (l < 2 || p + l > end) return -1;
      if (k === kind) return p;
      p += l;
    }
    return -1;
  }

  /** The MSS option's value, or 0 when there is no well-formed MSS option. */
  get mss(): number {
    const p = this.findOption(TCP_OPT_MSS);
    return p >= 0 && this.buf[p + 1] === 4 ? read16(this.buf, p + 2) : 0;
  }

  /**
   * Lowers the MSS option to `max` when it is larger, updating the checksum incrementally (the
   * clamp an overlay applies to SYNs so segments fit the smaller inner MTU). Returns true if changed.
   */
  clampMss(max: number): boolean {
    const p = this.findOption(TCP_OPT_MSS);
    if (p < 0 || this.buf[p + 1] !== 4) return false;
    const old = read16(this.buf, p + 2);
    if (old <= max) return false;
    write16(this.buf, p + 2, max);
    // A word at an odd offset from the segment start enters the sum byte-swapped.
    if (((p + 2 - this.off) & 1) === 0) {
      this.checksum = checksumUpdate16(this.checksum, old, max);
    } else {
      this.checksum = checksumUpdate16(this.checksum, swap16(old), swap16(max));
    }
    return true;
  }

  /** The checksum the segment should carry, over all `len` bytes with the checksum field taken as zero. */
  computeChecksum(ip: PseudoHeaderSource): number {
    const b = this.buf;
    const o = this.off;
    const len = this.len;
    const sum = onesSum(b, o, 16, onesSum(b, o + 18, len - 18, ip.pseudoHeaderSum(IPPROTO_TCP, len)));
    return foldChecksum(sum);
  }

  /** Computes the checksum and stores it. */
  fillChecksum(ip: PseudoHeaderSource): void {
    this.checksum = this.computeChecksum(ip);
  }

  /** True when the stored checksum is correct. */
  verifyChecksum(ip: PseudoHeaderSource): boolean {
    return foldChecksum(onesSum(this.buf, this.off, this.len, ip.pseudoHeaderSum(IPPROTO_TCP, this.len))) === 0;
  }

  /** RFC 1624 update after a 16-bit covered field (a port) changed from `oldWord` to `newWord`. */
  adjustChecksum16(oldWord: number, newWord: number): void {
    this.checksum = checksumUpdate16(this.checksum, oldWord, newWord);
  }

  /** RFC 1624 update after a 32-bit covered field (a pseudo-header address) changed. */
  adjustChecksum32(oldValue: number, newValue: number): void {
    this.checksum = checksumUpdate32(this.checksum, oldValue, newValue);
  }
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/**
 * Writes a TCP header at `buf[off]`: ports, sequence and acknowledgment numbers, `flags`, `window`,
 * data offset from `headerLength` (20 + options, a multiple of 4), checksum and urgent pointer 0.
 * The options region after byte 20 is left for the caller. Returns `headerLength`.
 */
export function emitTcp(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  seqNumber: number,
  ackNumber: number,
  flags: number,
  window: number,
  headerLength = TCP_HEADER_LEN,
): number {
  write16(buf, off, srcPort);
  write16(buf, off + 2, dstPort);
  write32(buf, off + 4, seqNumber);
  write32(buf, off + 8, ackNumber);
  buf[off + 12] = ((headerLength >>> 2) << 4) | ((flags >>> 8) & 1);
  buf[off + 13] = flags;
  write16(buf, off + 14, window);
  write32(buf, off + 16, 0);
  return headerLength;
}
