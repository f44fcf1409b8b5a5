/**
 * Protocol numbers and fixed sizes shared by the packet views.
 *
 * - Ethertypes (IEEE 802.3 / IANA): the 16-bit field after the MAC addresses, or after a VLAN tag.
 * - IP protocol numbers (IANA "Protocol Numbers"): IPv4's protocol field and IPv6's next header;
 *   the IPv6 extension headers share this number space.
 * - Header sizes: the fixed part of each header, in bytes. Variable headers (IPv4 options, TCP
 *   options, IPv6 extension headers) are measured by the views.
 *
 * Field values that belong to one protocol (TCP flags, ARP operations, ICMP types, the VXLAN I
 * flag) live in that protocol's file.
 */

// Ethertypes.
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
/** IEEE 802.1Q customer VLAN tag (C-tag). */
export const ETHERTYPE_VLAN = 0x8100;
/** IEEE 802.1ad service VLAN tag (S-tag, "QinQ" outer tag). */
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

// IP protocol numbers (IPv4 protocol / IPv6 next header).
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

// Well-known ports.
/** IANA-assigned VXLAN UDP destination port (RFC 7348 section 5). */
export const VXLAN_PORT = 4789;

// Fixed header sizes in bytes.
export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;
/** ARP for Ethernet hardware and IPv4 protocol addresses. */
export const ARP_LEN = 28;
/** IPv4 header without options (IHL = 5). */
export const IPV4_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV6_HEADER_LEN = 40;
export const ICMP_HEADER_LEN = 8;
export const UDP_HEADER_LEN = 8;
/** TCP header without options (data offset = 5). */
export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const VXLAN_HEADER_LEN = 8;
/** Bytes VXLAN adds in front of an inner Ethernet frame over an IPv4 underlay: Ethernet + IPv4 + UDP + VXLAN. */
export const VXLAN_OVERHEAD_IPV4 = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;
/** The same over an IPv6 underlay. */
export const VXLAN_OVERHEAD_IPV6 = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;
