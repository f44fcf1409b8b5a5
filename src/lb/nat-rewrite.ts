/**
 * In-place header rewrites of the load balancer: NAT (destination towards a real server, source back
 * to the VIP) and IP-in-IP encapsulation (TUN), with checksums kept right without summing the payload.
 *
 * - IPv4 header checksum: RFC 1624 incremental update for the changed address.
 * - TCP/UDP checksum, complete (a frame whose checksum the sender filled in): RFC 1624 for the address
 *   (it is in the pseudo header) and the port. A UDP checksum of 0 means "none" and stays 0; a computed
 *   0 is sent as 0xffff (RFC 768).
 * - TCP/UDP checksum, partial (virtio-net NEEDS_CSUM, which TAPs use for nearly every TCP frame and all
 *   GSO super-frames): the field holds only the folded pseudo-header sum, not complemented; whoever
 *   completes it sums the header and data as they are then. So only the address enters, through the
 *   complement: field' = ~update32(~field, old, new). The port is data: it is summed at completion.
 *
 * IPv6 (rewriteDestination6/rewriteSource6) is the same without the IP header checksum, the address
 * entering as four words. Nothing is allocated; offsets are absolute in the pool buffer.
 */
import { read16, read32, write16, write32 } from '../packet/bytes.js';
import { checksumUpdate16, checksumUpdate32, foldChecksum, onesSum } from '../packet/checksum.js';
import { IPPROTO_TCP } from './conn-table.js';

/** Offset of the checksum field within a TCP (16) or UDP (6) header. */
function l4ChecksumAt(proto: number): number {
  return proto === IPPROTO_TCP ? 16 : 6;
}

function rewriteAddrPort(buf: Uint8Array, ip: number, l4: number, proto: number, newAddr: number, newPort: number, partial: boolean, addrAt: number, portAt: number): void {
  const oldAddr = read32(buf, ip + addrAt);
  const oldPort = read16(buf, l4 + portAt);
  write16(buf, ip + 10, checksumUpdate32(read16(buf, ip + 10), oldAddr, newAddr));
  write32(buf, ip + addrAt, newAddr);
  write16(buf, l4 + portAt, newPort);
  const c = l4 + l4ChecksumAt(proto);
  const field = read16(buf, c);
  if (partial) {
    write16(buf, c, ~checksumUpdate32(~field & 0xffff, oldAddr, newAddr) & 0xffff);
    return;
  }
  if (proto !== IPPROTO_TCP && field === 0) return; // UDP without a checksum
  let sum = checksumUpdate16(checksumUpdate32(field, oldAddr, newAddr), oldPort, newPort);
  if (proto !== IPPROTO_TCP && sum === 0) sum = 0xffff;
  write16(buf, c, sum);
}

/**
 * The IPv6 form: no IP header checksum; the 16-byte address enters the TCP/UDP checksum (it is in the
 * pseudo header) as four 32-bit words. `addr` holds the new address at 0.
 */
function rewriteAddrPort6(buf: Uint8Array, ip: number, l4: number, proto: number, addr: Uint8Array, newPort: number, partial: boolean, addrAt: number, portAt: number): void {
  const a = ip + addrAt;
  const c = l4 + l4ChecksumAt(proto);
  const field = read16(buf, c);
  const oldPort = read16(buf, l4 + portAt);
  const udpNone = !partial && proto !== IPPROTO_TCP && field === 0;
  let sum = partial ? ~field & 0xffff : field;
  for (let k = 0; k < 16; k += 4) sum = checksumUpdate32(sum, read32(buf, a + k), read32(addr, k));
  for (let k = 0; k < 16; k++) buf[a + k] = addr[k];
  write16(buf, l4 + portAt, newPort);
  if (udpNone) return;
  if (partial) {
    write16(buf, c, ~sum & 0xffff);
    return;
  }
  sum = checksumUpdate16(sum, oldPort, newPort);
  if (proto !== IPPROTO_TCP && sum === 0) sum = 0xffff;
  write16(buf, c, sum);
}

/** IPv6 client -> VIP becomes client -> real server. */
export function rewriteDestination6(buf: Uint8Array, ip: number, l4: number, proto: number, addr: Uint8Array, newPort: number, partial: boolean): void {
  rewriteAddrPort6(buf, ip, l4, proto, addr, newPort, partial, 24, 2);
}

/** IPv6 real server -> client becomes VIP -> client. */
export function rewriteSource6(buf: Uint8Array, ip: number, l4: number, proto: number, addr: Uint8Array, newPort: number, partial: boolean): void {
  rewriteAddrPort6(buf, ip, l4, proto, addr, newPort, partial, 8, 0);
}

/** Client -> VIP becomes client -> real server: destination address and port. */
export function rewriteDestination(buf: Uint8Array, ip: number, l4: number, proto: number, newAddr: number, newPort: number, partial: boolean): void {
  rewriteAddrPort(buf, ip, l4, proto, newAddr, newPort, partial, 16, 2);
}

/** Real server -> client becomes VIP -> client: source address and port. */
export function rewriteSource(buf: Uint8Array, ip: number, l4: number, proto: number, newAddr: number, newPort: number, partial: boolean): void {
  rewriteAddrPort(buf, ip, l4, proto, newAddr, newPort, partial, 12, 0);
}

export const IPIP_OVERHEAD = 20;
export const IPPROTO_IPIP = 4;
/** The longest inner IPv4 packet an outer header can carry: its total length field is 16 bits. */
export const IPIP_MAX_INNER = 0xffff - IPIP_OVERHEAD;

/**
 * Wrap the IPv4 packet of an untagged Ethernet frame at `off` in an outer IPv4 header (protocol 4,
 * RFC 2003): the 14-byte Ethernet header moves 20 bytes towards the front (into the slot's headroom)
 * and the outer header goes between it and the inner packet. TOS and DF are copied from the inner
 * header; TTL 64. Returns the new frame offset (`off - 20`); the caller grows the length by 20 and moves
 * the virtio-net checksum start. The caller has checked there are 20 bytes of headroom.
 * An inner packet longer than IPIP_MAX_INNER (65515) bytes cannot be wrapped (the outer total length
 * would wrap around): returns -1 and changes nothing.
 */
export function encapsulateIpip(buf: Uint8Array, off: number, outerSrc: number, outerDst: number): number {
  const inner = off + 14;
  const innerTotal = read16(buf, inner + 2);
  if (innerTotal > IPIP_MAX_INNER) return -1;
  const n = off - IPIP_OVERHEAD;
  buf.copyWithin(n, off, off + 14);
  const o = n + 14;
  buf[o] = 0x45;
  buf[o + 1] = buf[inner + 1];
  write16(buf, o + 2, innerTotal + IPIP_OVERHEAD);
  write16(buf, o + 4, 0);
  write16(buf, o + 6, read16(buf, inner + 6) & 0x4000);
  buf[o + 8] = 64;
  buf[o + 9] = IPPROTO_IPIP;
  write16(buf, o + 10, 0);
  write32(buf, o + 12, outerSrc);
  write32(buf, o + 16, outerDst);
  write16(buf, o + 10, foldChecksum(onesSum(buf, o, 20)));
  return n;
}
