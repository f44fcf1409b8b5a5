/**
 * IPv6 under IP port security (`-o port_security=ip`): which IPv6 packets a container port may send.
 * Called by the ingress stage for every IPv6 frame from a port that has an own IPv4 address.
 *
 * A container legitimately owns the link-local address its kernel derives from the port's MAC
 * (fe80::/64 + modified EUI-64, RFC 4291 appendix A: the kernel's default addr_gen_mode), and on a
 * dual-stack network the global address the daemon assigned it (`own6`). The rule:
 * - spoofed-src-ipv6: the source must be one of those addresses, or :: (unspecified) for the
 *   messages sent before an address is usable: a Neighbor Solicitation for duplicate address
 *   detection (RFC 4862), an MLDv2 report (RFC 3810) and a Router Solicitation (RFC 4861). Any other source (another container's
 *   link-local, a global or ULA address we never assigned) is dropped.
 * - spoofed-nd: Neighbor Discovery (RFC 4861) must not claim another node's address: a Neighbor
 *   Advertisement's target must be one of the port's own addresses; a DAD probe (NS from ::) must
 *   be for it too, to its solicited-node group, without a source link-layer option; a source or
 *   target link-layer address option must carry the port's own MAC. A truncated ND message or
 *   option is dropped here as well.
 * - ipv6-router-msg: Router Advertisements and Redirects from a container port (RA guard, RFC 6105):
 *   a container is not the network's router.
 * - bad-ipv6: a header chain that cannot be followed (truncated, too many extension headers), so the
 *   rules above cannot be applied.
 * Extension headers (hop-by-hop, routing, destination options) are walked, so ND cannot hide behind
 * them; after a fragment header only the source is checked (ND must not be fragmented, RFC 6980, and
 * receivers drop fragmented ND). No allocation; reads bytes in place.
 */
import type { DropReason } from '../drop-reasons.js';

const ICMPV6 = 58;
const NH_HOPOPTS = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_DSTOPTS = 60;
const MAX_EXT_HEADERS = 8;
const ND_RS = 133;
const ND_RA = 134;
const ND_NS = 135;
const ND_NA = 136;
const ND_REDIRECT = 137;
const MLDV2_REPORT = 143;
const OPT_SLLA = 1;
const OPT_TLLA = 2;

export interface Ipv6Problem {
  reason: DropReason;
  why: string;
}

/** Does the 16-byte address at `at` equal fe80::/64 + the modified EUI-64 of `mac`? */
function isOwnLinkLocal(b: Uint8Array, at: number, mac: number): boolean {
  if (b[at] !== 0xfe || b[at + 1] !== 0x80) return false;
  for (let i = 2; i < 8; i++) if (b[at + i] !== 0) return false;
  const m = [5, 4, 3, 2, 1, 0].map((k) => Math.floor(mac / 2 ** (8 * k)) & 0xff);
  const iid = [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
  for (let i = 0; i < 8; i++) if (b[at + 8 + i] !== iid[i]) return false;
  return true;
}

/** Does the 16-byte address at `at` equal `own` (the port's global address; null: it has none)? */
function isOwnGlobal(b: Uint8Array, at: number, own: Uint8Array | null): boolean {
  if (own === null) return false;
  for (let i = 0; i < 16; i++) if (b[at + i] !== own[i]) return false;
  return true;
}

function isUnspecified(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0) return false;
  return true;
}

/** Is the address at `dst` the solicited-node group (ff02::1:ffXX:XXXX) of the one at `target`? */
function isSolicitedNodeOf(b: Uint8Array, dst: number, target: number): boolean {
  const prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff];
  for (let i = 0; i < 13; i++) if (b[dst + i] !== prefix[i]) return false;
  return b[dst + 13] === b[target + 13] && b[dst + 14] === b[target + 14] && b[dst + 15] === b[target + 15];
}

function readMacAt(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + b[at + i];
  return v;
}

/**
 * Why the IPv6 packet at `l3` (frame ends at `end`) may not leave a port whose MAC is `mac` (and whose
 * global address is `own6`, if it has one), or null. `end` is the frame's end; the IPv6 payload length
 * bounds the walk when it is shorter.
 */
export function ipv6PortSecurityProblem(b: Uint8Array, l3: number, end: number, mac: number, own6: Uint8Array | null = null): Ipv6Problem | null {
  if (end < l3 + 40 || b[l3] >> 4 !== 6) return { reason: 'bad-ipv6', why: 'truncated IPv6 header' };
  const plen = (b[l3 + 4] << 8) | b[l3 + 5];
  if (plen !== 0 && l3 + 40 + plen < end) end = l3 + 40 + plen; // Ethernet padding is not part of it
  const src = l3 + 8;
  const dst = l3 + 24;
  const unspecified = isUnspecified(b, src);
  if (!unspecified && !isOwnLinkLocal(b, src, mac) && !isOwnGlobal(b, src, own6)) {
    return { reason: 'spoofed-src-ipv6', why: own6 ? "source is not one of the port's addresses (its link-local fe80:: + EUI-64 of its MAC, its assigned IPv6) nor ::" : "source is not the port's link-local address (fe80:: + EUI-64 of its MAC) nor ::" };
  }

  let nh = b[l3 + 6];
  let off = l3 + 40;
  for (let n = 0; nh === NH_HOPOPTS || nh === NH_ROUTING || nh === NH_DSTOPTS; n++) {
    if (n === MAX_EXT_HEADERS || off + 8 > end) return { reason: 'bad-ipv6', why: 'extension header chain truncated or too long' };
    nh = b[off];
    off += (b[off + 1] + 1) * 8;
  }
  if (off > end) return { reason: 'bad-ipv6', why: 'extension header past the end' };
  if (nh === NH_FRAGMENT) return unspecified ? { reason: 'spoofed-src-ipv6', why: 'a fragment from ::' } : null;
  if (nh !== ICMPV6) return unspecified ? { reason: 'spoofed-src-ipv6', why: 'only DAD probes, MLD reports and router solicitations may come from ::' } : null;
  if (off + 4 > end) return { reason: 'bad-ipv6', why: 'truncated ICMPv6 header' };
  const type = b[off];
  if (type === ND_RA || type === ND_REDIRECT) return { reason: 'ipv6-router-msg', why: `ICMPv6 type ${type} (${type === ND_RA ? 'router advertisement' : 'redirect'}) from a container port` };
  if (type === MLDV2_REPORT || type === ND_RS) return null; // both may come from :: (RFC 3810, RFC 4861 6.3.7)
  if (type !== ND_NS && type !== ND_NA) return unspecified ? { reason: 'spoofed-src-ipv6', why: 'only DAD probes, MLD reports and router solicitations may come from ::' } : null;

  // NS and NA: 4 bytes of ICMPv6 header, 4 reserved/flags, the 16-byte target, then options.
  if (off + 24 > end) return { reason: 'spoofed-nd', why: 'truncated neighbor discovery message' };
  const target = off + 8;
  const own = isOwnLinkLocal(b, target, mac) || isOwnGlobal(b, target, own6);
  if (type === ND_NA && !own) return { reason: 'spoofed-nd', why: "neighbor advertisement for an address that is not the port's" };
  if (type === ND_NS && unspecified && (!own || !isSolicitedNodeOf(b, dst, target))) return { reason: 'spoofed-nd', why: "duplicate address detection for an address that is not the port's" };
  for (let o = off + 24; o < end; ) {
    if (o + 2 > end || b[o + 1] === 0 || o + b[o + 1] * 8 > end) return { reason: 'spoofed-nd', why: 'truncated neighbor discovery option' };
    const kind = b[o];
    if (kind === OPT_SLLA || kind === OPT_TLLA) {
      if (kind === OPT_SLLA && unspecified) return { reason: 'spoofed-nd', why: 'a source link-layer option in a DAD probe' };
      if (b[o + 1] !== 1 || readMacAt(b, o + 2) !== mac) return { reason: 'spoofed-nd', why: "a link-layer address option that is not the port's MAC" };
    }
    o += b[o + 1] * 8;
  }
  return null;
}
