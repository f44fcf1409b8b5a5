/**
 * UDP datagrams (RFC 768).
 *
 *   offset  size  field
 *   0       2     source port
 *   2       2     destination port
 *   4       2     length (header + data, >= 8)
 *   6       2     checksum (over pseudo header + header + data; 0 = none, IPv4 only)
 *   8             data, up to length
 *
 * Check up front (`bind`): at least 8 bytes ('truncated'); length field >= 8 ('bad-total-length');
 * length field <= the bytes bound ('truncated'). Bind to the IP payload (`Ipv4View.payloadLength`
 * or `Ipv6View.upperLength`); the datagram is `length` bytes, anything after it is ignored.
 *
 * Checksums: the methods take the IP view in front (`PseudoHeaderSource`). A computed checksum of 0
 * is sent as 0xffff (RFC 768); a stored 0 means "no checksum" over IPv4 and verifies as true, and is
 * invalid over IPv6 (RFC 8200 section 8.1). For rewrites (NAT), `adjustChecksum16/32` apply RFC 1624
 * and leave a "no checksum" 0 alone. Emit: `emitUdp`.
 */
import { read16, write16 } from './bytes.js';
import { checksumUpdate16, checksumUpdate32, foldChecksum, onesSum } from './checksum.js';
import { IPPROTO_UDP, UDP_HEADER_LEN } from './constants.js';
import type { PseudoHeaderSource } from './result.js';

export type UdpResult = 'ok' | 'truncated' | 'bad-total-length';

const EMPTY = new Uint8Array(0);

export class UdpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to `buf[off..off+len]` (the IP payload) and checks it. */
  bind(buf: Uint8Array, off: number, len: number): UdpResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < UDP_HEADER_LEN) return 'truncated';
    const length = read16(buf, off + 4);
    if (length < UDP_HEADER_LEN) return 'bad-total-length';
    if (length > len) return 'truncated';
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

  /** Header plus data, in bytes (the length field). */
  get length(): number {
    return read16(this.buf, this.off + 4);
  }
  set length(len: number) {
    write16(this.buf, this.off + 4, len);
  }

  get checksum(): number {
    return read16(this.buf, this.off + 6);
  }
  set checksum(csum: number) {
    write16(this.buf, this.off + 6, csum);
  }

  /** Absolute offset of the data in `buf`. */
  get payloadOffset(): number {
    return this.off + UDP_HEADER_LEN;
  }
  /** Data bytes, by the length field. */
  get payloadLength(): number {
    return this.length - UDP_HEADER_LEN;
  }

  /** The checksum the datagram should carry (0 computed is returned as 0xffff). */
  computeChecksum(ip: PseudoHeaderSource): number {
    const b = this.buf;
    const o = this.off;
    const len = this.length;
    const sum = onesSum(b, o, 6, onesSum(b, o + 8, len - 8, ip.pseudoHeaderSum(IPPROTO_UDP, len)));
    return foldChecksum(sum) || 0xffff;
  }

  /** Computes the checksum and stores it. */
  fillChecksum(ip: PseudoHeaderSource): void {
    this.checksum = this.computeChecksum(ip);
  }

  /** True when the stored checksum is correct, or is 0 ("none") over IPv4. */
  verifyChecksum(ip: PseudoHeaderSource): boolean {
    if (this.checksum === 0) return ip.version === 4;
    const len = this.length;
    return foldChecksum(onesSum(this.buf, this.off, len, ip.pseudoHeaderSum(IPPROTO_UDP, len))) === 0;
  }

  /** RFC 1624 update after a 16-bit covered field (a port) changed; a "no checksum" 0 stays 0. */
  adjustChecksum16(oldWord: number, newWord: number): void {
    const c = this.checksum;
    if (c !== 0) this.checksum = checksumUpdate16(c, oldWord, newWord) || 0xffff;
  }

  /** RFC 1624 update after a 32-bit covered field (a pseudo-header address) changed; 0 stays 0. */
  adjustChecksum32(oldValue: number, newValue: number): void {
    const c = this.checksum;
    if (c !== 0) this.checksum = checksumUpdate32(c, oldValue, newValue) || 0xffff;
  }
}

/**
 * Writes an 8-byte UDP header at `buf[off]` for `payloadLength` data bytes, checksum 0 (fill it
 * after the data, or leave 0 over IPv4, as VXLAN encapsulation usually does). Returns 8.
 */
export function emitUdp(buf: Uint8Array, off: number, srcPort: number, dstPort: number, payloadLength: number): number {
  write16(buf, off, srcPort);
  write16(buf, off + 2, dstPort);
  write16(buf, off + 4, UDP_HEADER_LEN + payloadLength);
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return UDP_HEADER_LEN;
}
