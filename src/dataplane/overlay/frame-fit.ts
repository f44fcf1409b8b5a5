/**
 * How large a frame becomes on the underlay: VXLAN over IPv4 adds 36 bytes to every inner Ethernet
 * frame (outer IPv4 20 + UDP 8 + VXLAN 8; the outer Ethernet header does not count against the
 * underlay's MTU), so an inner frame fits when its length + 36 <= underlay MTU. An untagged frame
 * carries an IP packet of at most underlay MTU - 50: the overlay MTU (1450 on a 1500 underlay). Over an
 * IPv6 underlay the outer header is 40 bytes, not 20: 56 and 70 (1430 on a 1500 underlay).
 *
 * A GSO super-frame is cut into segments before encapsulation; it fits when one full segment does:
 * L2 + L3 + TCP headers + gso_size. No allocation; one look at the headers.
 */
import { read16 } from '../../packet/bytes.js';
import { GSO_ECN, GSO_NONE } from '../layout.js';

/** Bytes VXLAN over IPv4 adds on the underlay's IP MTU: outer IPv4 + UDP + VXLAN header. */
export const VXLAN_IPV4_MTU_OVERHEAD = 36;
/** Underlay MTU minus the overlay MTU: the above plus the inner Ethernet header. */
export const VXLAN_OVERLAY_MTU_OVERHEAD = 50;
/** The same over an IPv6 underlay: outer IPv6 (40) + UDP + VXLAN, and that plus the inner Ethernet header. */
export const VXLAN_IPV6_MTU_OVERHEAD = 56;
export const VXLAN_IPV6_OVERLAY_MTU_OVERHEAD = 70;

/** Bytes VXLAN adds on the underlay's IP MTU, for an underlay of `family`. */
export function vxlanMtuOverhead(family: 4 | 6): number {
  return family === 6 ? VXLAN_IPV6_MTU_OVERHEAD : VXLAN_IPV4_MTU_OVERHEAD;
}

/** Underlay MTU minus overlay MTU for an underlay of `family`: 50, or 70 over IPv6. */
export function vxlanOverlayMtuOverhead(family: 4 | 6): number {
  return family === 6 ? VXLAN_IPV6_OVERLAY_MTU_OVERHEAD : VXLAN_OVERLAY_MTU_OVERHEAD;
}

/**
 * Length of the largest inner Ethernet frame this row puts on the wire: `len`, or for a GSO
 * super-frame the length of one full segment (headers + gso_size), never more than `len`.
 */
export function wireFrameLength(bytes: Uint8Array, off: number, len: number, gsoType: number, gsoSize: number): number {
  if ((gsoType & ~GSO_ECN) === GSO_NONE || gsoSize <= 0) return len;
  let l3 = 14;
  let et = read16(bytes, off + 12);
  if ((et === 0x8100 || et === 0x88a8) && len >= 18) {
    et = read16(bytes, off + 16);
    l3 = 18;
  }
  let l4: number;
  if (et === 0x0800 && len >= l3 + 20) {
    l4 = l3 + (bytes[off + l3] & 0x0f) * 4;
  } else if (et === 0x86dd && len >= l3 + 40) {
    l4 = l3 + 40;
    let nh = bytes[off + l3 + 6];
    // Hop-by-hop and destination options, as gso.c walks them.
    for (let i = 0; i < 8 && (nh === 0 || nh === 60) && len >= l4 + 8; i++) {
      nh = bytes[off + l4];
      l4 += (bytes[off + l4 + 1] + 1) * 8;
    }
  } else {
    return len;
  }
  if (len < l4 + 20) return len;
  const thl = (bytes[off + l4 + 12] >> 4) * 4;
  return Math.min(len, l4 + thl + gsoSize);
}
