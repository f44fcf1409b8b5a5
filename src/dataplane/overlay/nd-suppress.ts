/**
 * Neighbor Discovery suppression on overlays, the IPv6 side of arp-suppress (stages/arp-suppress.ts):
 * a Neighbor Solicitation (RFC 4861 4.3) from a local port for an address the overlay's IPv6 neighbor
 * table knows is answered in place with the Neighbor Advertisement the owner would send, so the
 * solicitation never crosses the underlay (head-end replication copies every multicast to every peer).
 * What the kernel's vxlan does with `proxy` for IPv6 (neigh_reduce / vxlan_na_create).
 *
 * Only a plain solicitation is answered: untagged IPv6 with ICMPv6 right after the header (no
 * extension headers), hop limit 255, code 0, from a unicast source. A DAD probe (source ::) is never
 * answered: the owner must defend its own address. The reply: from the target's MAC and address to
 * the soliciting node's, hop limit 255, Solicited set, Override clear (it is a proxy's answer), with a
 * Target Link-Layer Address option.
 *
 * Learning, from frames decapsulated from remote VTEPs: the source address of a solicitation or an
 * advertisement -> its Ethernet source, and an advertisement's target -> its Ethernet source when its
 * TLLA option (if any) says the same. The caller restricts it to the network's IPv6 subnet and
 * link-local addresses, and to senders whose MAC lives behind the overlay (never a local port's); local
 * endpoints' addresses, link-local included, are static entries a remote frame cannot change.
 */
import { read16, write16 } from '../../packet/bytes.js';
import { foldChecksum, onesSum, pseudoHeaderSumV6 } from '../../packet/checksum.js';
import { formatIpv6 } from '../../packet/ipv6.js';
import { readMac, writeMac } from '../../packet/mac.js';

const ND_NS = 135;
const ND_NA = 136;
const OPT_TLLA = 2;
/** Ethernet + IPv6 + NA (24) + TLLA option (8). */
export const NA_FRAME_LEN = 14 + 40 + 32;

/** The ND message type (135 NS, 136 NA) of an untagged, extension-header-free ND frame, or 0. */
export function ndType(bytes: Uint8Array, off: number, len: number): number {
  if (len < 14 + 40 + 24 || read16(bytes, off + 12) !== 0x86dd) return 0;
  const ip = off + 14;
  if (bytes[ip] >> 4 !== 6 || bytes[ip + 6] !== 58 || bytes[ip + 7] !== 255) return 0;
  const t = bytes[ip + 40];
  if ((t !== ND_NS && t !== ND_NA) || bytes[ip + 41] !== 0) return 0;
  return t;
}

function isUnspecified(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (bytes[at + i] !== 0) return false;
  return true;
}

/** The solicited address of an NS, as canonical text, or null for a DAD probe or a multicast target. */
export function solicitedTarget(bytes: Uint8Array, off: number): string | null {
  const ip = off + 14;
  if (isUnspecified(bytes, ip + 8)) return null; // DAD: the owner answers for itself
  const target = ip + 48;
  if (bytes[target] === 0xff) return null;
  return formatIpv6(bytes, target);
}

/** The TLLA option's MAC of an NA, or -1. */
function targetLinkLayer(bytes: Uint8Array, off: number, len: number): number {
  for (let o = off + 14 + 40 + 24; o + 8 <= off + len; ) {
    const optLen = bytes[o + 1] * 8;
    if (optLen === 0) return -1;
    if (bytes[o] === OPT_TLLA && optLen === 8) return readMac(bytes, o + 2);
    o += optLen;
  }
  return -1;
}

/**
 * What a remote ND frame teaches: [address text, MAC] pairs (at most two), of addresses `allowed`
 * accepts (the caller's subnet rule, given the address's offset in `bytes`).
 */
export function ndLearnable(bytes: Uint8Array, off: number, len: number, type: number, allowed: (bytes: Uint8Array, at: number) => boolean): [string, number][] {
  const ip = off + 14;
  const out: [string, number][] = [];
  const srcMac = readMac(bytes, off + 6);
  if ((srcMac / 2 ** 40) & 1) return out; // a group source MAC teaches nothing
  if (!isUnspecified(bytes, ip + 8) && allowed(bytes, ip + 8)) out.push([formatIpv6(bytes, ip + 8), srcMac]);
  if (type === ND_NA && allowed(bytes, ip + 48)) {
    // Only an advertisement for its sender's own MAC teaches its target: a peer may not point an
    // address at some other node (a local container, say) by naming it in the option.
    const tlla = targetLinkLayer(bytes, off, len);
    if (tlla < 0 || tlla === srcMac) out.push([formatIpv6(bytes, ip + 48), srcMac]);
  }
  return out;
}

/**
 * Rewrite the NS at `off` into the NA "target is at `mac`", in place, back to the soliciting node;
 * returns the new frame length (NA_FRAME_LEN). The slot must have room for NA_FRAME_LEN bytes at `off`.
 */
export function writeNeighborAdvert(bytes: Uint8Array, off: number, mac: number): number {
  const ip = off + 14;
  const requesterMac = readMac(bytes, off + 6);
  // Addresses: the NA comes from the target to the solicitation's source.
  const target = bytes.slice(ip + 48, ip + 64);
  bytes.copyWithin(ip + 24, ip + 8, ip + 24); // destination: the soliciting node
  bytes.set(target, ip + 8); // source: the target address
  writeMac(bytes, off, requesterMac);
  writeMac(bytes, off + 6, mac);
  bytes[ip] = 0x60;
  bytes[ip + 1] = bytes[ip + 2] = bytes[ip + 3] = 0;
  write16(bytes, ip + 4, 32);
  bytes[ip + 6] = 58;
  bytes[ip + 7] = 255;
  const icmp = ip + 40;
  bytes[icmp] = ND_NA;
  bytes[icmp + 1] = 0;
  write16(bytes, icmp + 2, 0);
  bytes[icmp + 4] = 0x40; // Solicited; not Router, not Override (a proxy's answer)
  bytes[icmp + 5] = bytes[icmp + 6] = bytes[icmp + 7] = 0;
  bytes.set(target, icmp + 8);
  bytes[icmp + 24] = OPT_TLLA;
  bytes[icmp + 25] = 1;
  writeMac(bytes, icmp + 26, mac);
  write16(bytes, icmp + 2, foldChecksum(onesSum(bytes, icmp, 32, pseudoHeaderSumV6(bytes, ip + 8, ip + 24, 58, 32))));
  return NA_FRAME_LEN;
}
