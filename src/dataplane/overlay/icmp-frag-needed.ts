/**
 * ICMP "fragmentation needed and DF set" (RFC 792 type 3 code 4, with the next-hop MTU of RFC 1191)
 * for an IPv4 frame the overlay cannot carry, sent back to its sender so that path MTU discovery
 * works across the overlay instead of the frame vanishing. Like the kernel's VXLAN on a bridge
 * (iptunnel_pmtud_build_icmp), the message appears to come from the destination the frame was for:
 * MACs and IP addresses swapped, an 802.1Q tag kept. It quotes the original IP header and as much of
 * the packet as keeps the message within 576 bytes (RFC 1812 4.3.2.3).
 *
 * In place (`rewriteAsFragNeeded`): the original IP header stays where it is and becomes the quote; the
 * new Ethernet, IPv4 and ICMP headers go into the 28 bytes of headroom in front of it and over the old
 * Ethernet header. No copy. Into another slot (`writeFragNeeded`): for a frame that must also go on
 * elsewhere (a flood), the quote is copied.
 */
import { read16, read32, write16 } from '../../packet/bytes.js';
import { foldChecksum, onesSum } from '../../packet/checksum.js';
import { IPPROTO_ICMP } from '../../packet/constants.js';
import { emitIcmp, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACHABLE } from '../../packet/icmp.js';
import { emitIpv4, IPV4_FLAG_DF } from '../../packet/ipv4.js';
import { readMac, writeMac } from '../../packet/mac.js';
import type { FramePool } from '../frame-pool.js';
import {
  DESC_STRIDE,
  D_CSUM_OFF,
  D_CSUM_START,
  D_GSO_SIZE,
  D_GSO_TYPE,
  D_HDR_LEN,
  D_LEN,
  D_OFF,
  D_OUT,
  D_PORT,
  D_SLOT,
  D_VFLAGS,
  HEADROOM,
  SLOT_SIZE,
} from '../layout.js';

/** Largest quote: 576 - IPv4 header - ICMP header. */
const QUOTE_MAX = 576 - 20 - 8;
/** New IPv4 + ICMP headers in front of the quote. */
const ADDED = 28;

/**
 * The L3 offset (14 or 18) of an IPv4 frame with DF set that is not a fragment, or -1 for anything
 * else (no ICMP is owed: IPv6, ARP, IPv4 without DF, malformed).
 */
export function ipv4DfOffset(bytes: Uint8Array, off: number, len: number): number {
  let l3 = 14;
  let et = read16(bytes, off + 12);
  if ((et === 0x8100 || et === 0x88a8) && len >= 18) {
    et = read16(bytes, off + 16);
    l3 = 18;
  }
  if (et !== 0x0800 || len < l3 + 20) return -1;
  const ip = off + l3;
  if (bytes[ip] >> 4 !== 4 || (bytes[ip] & 0x0f) < 5) return -1;
  const frag = read16(bytes, ip + 6);
  if ((frag & IPV4_FLAG_DF) === 0 || (frag & 0x1fff) !== 0) return -1;
  return l3;
}

/** The frame's 802.1Q/802.1ad tag (TPID and TCI as one uint32) when its L3 is at 18, else 0: kept in the reply. */
export function vlanTag(bytes: Uint8Array, off: number, l3: number): number {
  return l3 === 18 ? ((read16(bytes, off + 12) << 16) | read16(bytes, off + 14)) >>> 0 : 0;
}

/** Bytes of the original packet to quote. */
function quoteLength(bytes: Uint8Array, off: number, len: number, l3: number): number {
  const total = read16(bytes, off + l3 + 2);
  return Math.min(len - l3, total > 0 ? total : len - l3, QUOTE_MAX);
}

/** Write L2 + IPv4 + ICMP headers at `o`, the quote being already in place at o + l3 + 28. */
function writeHeaders(
  bytes: Uint8Array,
  o: number,
  l3: number,
  origSrcMac: number,
  origDstMac: number,
  tag: number,
  origSrcIp: number,
  origDstIp: number,
  quote: number,
  mtu: number,
): void {
  writeMac(bytes, o, origSrcMac);
  writeMac(bytes, o + 6, origDstMac);
  if (l3 === 18) {
    write16(bytes, o + 12, tag >>> 16);
    write16(bytes, o + 14, tag & 0xffff);
  }
  write16(bytes, o + l3 - 2, 0x0800);
  emitIpv4(bytes, o + l3, origDstIp, origSrcIp, IPPROTO_ICMP, 8 + quote, 64, 0, 0, 0xc0);
  const icmp = o + l3 + 20;
  emitIcmp(bytes, icmp, ICMP_DEST_UNREACHABLE, ICMP_CODE_FRAG_NEEDED, mtu & 0xffff);
  write16(bytes, icmp + 2, foldChecksum(onesSum(bytes, icmp, 8 + quote)));
}

/** Describe an ICMP reply the switch made: at `off`, `len` bytes, back out of `port` (its sender's), no offload fields. Shared with icmpv6-too-big.ts. */
export function setReplyRow(pool: FramePool, row: number, off: number, len: number, port: number): void {
  const d = row * DESC_STRIDE;
  const desc = pool.desc;
  desc[d + D_OFF] = off;
  desc[d + D_LEN] = len;
  desc[d + D_PORT] = port;
  desc[d + D_OUT] = port;
  desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
}

/**
 * Turn row `row` (an IPv4 frame with DF, L3 at `l3`) into the ICMP frag-needed for it, in place, and
 * send it back out of its ingress port (D_OUT = D_PORT). Returns false, changing nothing, if the slot
 * lacks the 28 bytes of headroom.
 */
export function rewriteAsFragNeeded(pool: FramePool, row: number, l3: number, mtu: number): boolean {
  const d = row * DESC_STRIDE;
  const desc = pool.desc;
  const bytes = pool.bytes;
  const off = desc[d + D_OFF];
  const len = desc[d + D_LEN];
  if (off - ADDED < desc[d + D_SLOT] * SLOT_SIZE) return false;
  const srcMac = readMac(bytes, off + 6);
  const dstMac = readMac(bytes, off);
  const tag = vlanTag(bytes, off, l3);
  const srcIp = read32(bytes, off + l3 + 12);
  const dstIp = read32(bytes, off + l3 + 16);
  const quote = quoteLength(bytes, off, len, l3);
  const o = off - ADDED;
  writeHeaders(bytes, o, l3, srcMac, dstMac, tag, srcIp, dstIp, quote, mtu);
  setReplyRow(pool, row, o, l3 + ADDED + quote, desc[d + D_PORT]);
  return true;
}

/**
 * Build the ICMP frag-needed for row `row` (IPv4 with DF, L3 at `l3`) into free slot `slot`, described
 * by free descriptor row `outRow`, leaving the original frame alone; it goes back out of the original's
 * ingress port.
 */
export function writeFragNeeded(pool: FramePool, row: number, l3: number, mtu: number, slot: number, outRow: number): void {
  const d = row * DESC_STRIDE;
  const desc = pool.desc;
  const bytes = pool.bytes;
  const off = desc[d + D_OFF];
  const len = desc[d + D_LEN];
  const quote = quoteLength(bytes, off, len, l3);
  const o = slot * SLOT_SIZE + HEADROOM;
  bytes.copyWithin(o + l3 + ADDED, off + l3, off + l3 + quote);
  const tag = vlanTag(bytes, off, l3);
  writeHeaders(bytes, o, l3, readMac(bytes, off + 6), readMac(bytes, off), tag, read32(bytes, off + l3 + 12), read32(bytes, off + l3 + 16), quote, mtu);
  setReplyRow(pool, outRow, o, l3 + ADDED + quote, desc[d + D_PORT]);
  desc[outRow * DESC_STRIDE + D_SLOT] = slot;
}
