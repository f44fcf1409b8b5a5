/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) messages: both share the first 8 bytes.
 *
 *   offset  size  field
 *   0       1     type
 *   1       1     code
 *   2       2     checksum
 *   4       4     rest of header; for echo request/reply: identifier (2) | sequence number (2)
 *   8             body (echo data, or the invoking packet for errors; NDP fields for ICMPv6)
 *
 * Check up front (`bind`): at least 8 bytes ('truncated'). Types and codes are not checked.
 * The view is bound to the whole message (the IPv4 payload or the IPv6 upper-layer bytes), and the
 * checksum covers all of it; for ICMPv6 it also covers the IPv6 pseudo header (RFC 4443 section
 * 2.3), which is why the checksum methods take the IP view: an IPv6 view adds its pseudo header, an
 * IPv4 view (or none) does not. Emit: `emitIcmp`, then `fillChecksum` once the body is written.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { foldChecksum, onesSum } from './checksum.js';
import { ICMP_HEADER_LEN, IPPROTO_ICMPV6 } from './constants.js';
import type { PseudoHeaderSource } from './result.js';

export type IcmpResult = 'ok' | 'truncated';

// ICMPv4 types.
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
/** Code of ICMP_DEST_UNREACHABLE: fragmentation needed and DF set (path MTU discovery). */
export const ICMP_CODE_FRAG_NEEDED = 4;

// ICMPv6 types.
export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_ROUTER_SOLICITATION = 133;
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const ICMPV6_REDIRECT = 137;
export const ICMPV6_MLDV2_REPORT = 143;

const EMPTY = new Uint8Array(0);

export class IcmpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to the message `buf[off..off+len]` and checks it. */
  bind(buf: Uint8Array, off: number, len: number): IcmpResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < ICMP_HEADER_LEN) return 'truncated';
    return 'ok';
  }

  get type(): number {
    return this.buf[this.off];
  }
  set type(type: number) {
    this.buf[this.off] = type;
  }

  get code(): number {
    return this.buf[this.off + 1];
  }
  set code(code: number) {
    this.buf[this.off + 1] = code;
  }

  get checksum(): number {
    return read16(this.buf, this.off + 2);
  }
  set checksum(csum: number) {
    write16(this.buf, this.off + 2, csum);
  }

  /** Bytes 4..8 as one uint32 (unused / pointer / MTU / identifier+sequence, by type). */
  get restOfHeader(): number {
    return read32(this.buf, this.off + 4);
  }
  set restOfHeader(rest: number) {
    write32(this.buf, this.off + 4, rest);
  }

  /** Echo identifier (bytes 4..6). */
  get identifier(): number {
    return read16(this.buf, this.off + 4);
  }
  set identifier(id: number) {
    write16(this.buf, this.off + 4, id);
  }

  /** Echo sequence number (bytes 6..8). */
  get sequence(): number {
    return read16(this.buf, this.off + 6);
  }
  set sequence(seq: number) {
    write16(this.buf, this.off + 6, seq);
  }

  /** Absolute offset of the body in `buf`. */
  get payloadOffset(): number {
    return this.off + ICMP_HEADER_LEN;
  }
  get payloadLength(): number {
    return this.len - ICMP_HEADER_LEN;
  }

  /**
   * The checksum the message should carry, over all `len` bytes with the checksum field taken as
   * zero. Pass the IPv6 view for ICMPv6 (pseudo header included); for ICMPv4 pass nothing or the
   * IPv4 view.
   */
  computeChecksum(ip?: PseudoHeaderSource): number {
    const b = this.buf;
    const o = this.off;
    let sum = ip !== undefined && ip.version === 6 ? ip.pseudoHeaderSum(IPPROTO_ICMPV6, this.len) : 0;
    sum = onesSum(b, o, 2, onesSum(b, o + 4, this.len - 4, sum));
    return foldChecksum(sum);
  }

  /** Computes the checksum and stores it. */
  fillChecksum(ip?: PseudoHeaderSource): void {
    this.checksum = this.computeChecksum(ip);
  }

  /** True when the stored checksum is correct. */
  verifyChecksum(ip?: PseudoHeaderSource): boolean {
    const sum = ip !== undefined && ip.version === 6 ? ip.pseudoHeaderSum(IPPROTO_ICMPV6, this.len) : 0;
    return foldChecksum(onesSum(this.buf, this.off, this.len, sum)) === 0;
  }
}

/**
 * Writes an 8-byte ICMP/ICMPv6 header at `buf[off]` with a zero checksum; for echo,
 * `restOfHeader = identifier << 16 | sequence`. Fill the checksum after writing the body.
 * Returns the header length, 8.
 */
export function emitIcmp(buf: Uint8Array, off: number, type: number, code: number, restOfHeader: number): number {
  buf[off] = type;
  buf[off + 1] = code;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  write32(buf, off + 4, restOfHeader);
  return ICMP_HEADER_LEN;
}
