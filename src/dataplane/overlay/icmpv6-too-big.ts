/**
 * ICMPv6 Packet Too Big (RFC 4443 section 3.2: type 2, code 0, the MTU in 32 bits) for an IPv6 frame the
 * overlay cannot carry, sent back to its sender so that IPv6 path MTU discovery (RFC 8201) works across
 * the overlay: IPv6 routers never fragment, so without it the frame simply vanishes. As the IPv4
 * frag-needed (icmp-frag-needed.ts) and the kernel's VXLAN (iptunnel_pmtud_build_icmpv6), the message
 * appears to come from the destination the frame was for: MACs and addresses swapped, an 802.1Q tag
 * kept. It quotes as much of the packet as keeps the message within the IPv6 minimum MTU, 1280 bytes.
 *
 * Owed (RFC 4443 2.4): for any IPv6 packet except one whose source is unspecified or multicast, or
 * that is itself an ICMPv6 error message. The RFC owes it to multicast destinations too, but the
 * message must come from a unicast address (2.2) and ours comes from the destination: for those none
 * is sent (the frame is still dropped and counted).
 *
 * In place (`rewriteAsTooBig`): the original IPv6 header stays where it is and becomes the quote; the new
 * Ethernet, IPv6 and ICMPv6 headers go into 48 bytes of headroom in front of it and over the old
 * Ethernet header. Into another slot (`writeTooBig`): for a flood, the quote is copied.
 */
import { read16, write16 } from '../../packet/bytes.js';
import { foldChecksum, onesSum, pseudoHeaderSumV6 } from '../../packet/checksum.js';
import { readMac, writeMac } from '../../packet/mac.js';
import type { FramePool } from '../frame-pool.js';
import { DESC_STRIDE, D_LEN, D_OFF, D_PORT, D_SLOT, HEADROOM, SLOT_SIZE } from '../layout.js';
import { setReplyRow, vlanTag } from './icmp-frag-needed.js';

const ICMPV6 = 58;
const PACKET_TOO_BIG = 2;
/** New IPv6 + ICMPv6 headers in front of the quote. */
const ADDED = 48;
/** Largest quote: 1280 - IPv6 header - ICMPv6 header. */
const QUOTE_MAX = 1280 - ADDED;

/**
 * The L3 offset (14 or 18) of an IPv6 frame that is owed a Packet Too Big, or -1 (not IPv6, truncated,
 * from :: or a multicast source, or an ICMPv6 error message itself).
 */
export function ipv6TooBigOffset(bytes: Uint8Array, off: number, len: number): number {
  let l3 = 14;
  let et = read16(bytes, off + 12);
  if ((et === 0x8100 || et === 0x88a8) && len >= 18) {
    et = read16(bytes, off + 16);
    l3 = 18;
  }
  if (et !== 0x86dd || len < l3 + 40) return -1;
  const ip = off + l3;
  if (bytes[ip] >> 4 !== 6) return -1;
  if (bytes[ip + 8] === 0xff) return -1; // multicast source
  if (bytes[ip + 24] === 0xff) return -1; // multicast destination: it cannot be the reply's (unicast) source
  let zero = true;
  for (let i = 0; i < 16 && zero; i++) zero = bytes[ip + 8 + i] === 0;
  if (zero) return -1; // unspecified source
  if (bytes[ip + 6] === ICMPV6 && len >= l3 + 41 && bytes[ip + 40] < 128) return -1; // an ICMPv6 error: none about it
  return l3;
}

function quoteLength(len: number, l3: number): number {
  return Math.min(len - l3, QUOTE_MAX);
}

/** Write L2 + IPv6 + ICMPv6 headers at `o`; the quote (the original packet from its IPv6 header) is at o + l3 + 48. */
function writeHeaders(bytes: Uint8Array, o: number, l3: number, origSrcMac: number, origDstMac: number, tag: number, quoteAt: number, quote: number, mtu: number): void {
  // Addresses first, from the quote (which the new header may not overlap: it lies after it).
  const ip = o + l3;
  bytes.copyWithin(ip + 8, quoteAt + 24, quoteAt + 40); // source: the original destination
  bytes.copyWithin(ip + 24, quoteAt + 8, quoteAt + 24); // destination: the original source
  writeMac(bytes, o, origSrcMac);
  writeMac(bytes, o + 6, origDstMac);
  if (l3 === 18) {
    write16(bytes, o + 12, tag >>> 16);
    write16(bytes, o + 14, tag & 0xffff);
  }
  write16(bytes, o + l3 - 2, 0x86dd);
  bytes[ip] = 0x60;
  bytes[ip + 1] = bytes[ip + 2] = bytes[ip + 3] = 0;
  write16(bytes, ip + 4, 8 + quote);
  bytes[ip + 6] = ICMPV6;
  bytes[ip + 7] = 64;
  const icmp = ip + 40;
  bytes[icmp] = PACKET_TOO_BIG;
  bytes[icmp + 1] = 0;
  write16(bytes, icmp + 2, 0);
  write16(bytes, icmp + 4, (mtu >>> 16) & 0xffff);
  write16(bytes, icmp + 6, mtu & 0xffff);
  write16(bytes, icmp + 2, foldChecksum(onesSum(bytes, icmp, 8 + quote, pseudoHeaderSumV6(bytes, ip + 8, ip + 24, ICMPV6, 8 + quote))));
}


/**
 * Turn row `row` (IPv6, L3 at `l3`) into the Packet Too Big for it, in place, going back out of its
 * ingress port. Returns false, changing nothing, if the slot lacks the 48 bytes of headroom.
 */
export function rewriteAsTooBig(pool: FramePool, row: number, l3: number, mtu: number): boolean {
  const d = row * DESC_STRIDE;
  const desc = pool.desc;
  const bytes = pool.bytes;
  const off = desc[d + D_OFF];
  const len = desc[d + D_LEN];
  if (off - ADDED < desc[d + D_SLOT] * SLOT_SIZE) return false;
  const srcMac = readMac(bytes, off + 6);
  const dstMac = readMac(bytes, off);
  const tag = vlanTag(bytes, off, l3);
  const quote = quoteLength(len, l3);
  const o = off - ADDED;
  writeHeaders(bytes, o, l3, srcMac, dstMac, tag, off + l3, quote, mtu);
  setReplyRow(pool, row, o, l3 + ADDED + quote, desc[d + D_PORT]);
  return true;
}

/** Build the Packet Too Big for row `row` into free slot `slot` (descriptor row `outRow`), the original left alone. */
export function writeTooBig(pool: FramePool, row: number, l3: number, mtu: number, slot: number, outRow: number): void {
  const d = row * DESC_STRIDE;
  const desc = pool.desc;
  const bytes = pool.bytes;
  const off = desc[d + D_OFF];
  const len = desc[d + D_LEN];
  const quote = quoteLength(len, l3);
  const o = slot * SLOT_SIZE + HEADROOM;
  bytes.copyWithin(o + l3 + ADDED, off + l3, off + l3 + quote);
  const tag = vlanTag(bytes, off, l3);
  writeHeaders(bytes, o, l3, readMac(bytes, off + 6), readMac(bytes, off), tag, o + l3 + ADDED, quote, mtu);
  setReplyRow(pool, outRow, o, l3 + ADDED + quote, desc[d + D_PORT]);
  desc[outRow * DESC_STRIDE + D_SLOT] = slot;
}
