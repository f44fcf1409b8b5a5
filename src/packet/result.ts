/**
 * What a view's `bind` says about the bytes it was given: `'ok'`, or the one reason the header cannot
 * be read safely. Every view checks lengths and consistency once, in `bind`, and reports instead of
 * throwing or reading past the end; the data plane counts drops by these names.
 *
 * | result                 | meaning                                                                  | views          |
 * |------------------------|--------------------------------------------------------------------------|----------------|
 * | ok                     | every getter and setter of the view stays inside the bound bytes         | all            |
 * | truncated              | fewer bytes than the fixed header, or than a length field in it claims   | all            |
 * | too-many-tags          | a third VLAN tag follows two (only two tags are parsed)                  | Ethernet       |
 * | bad-version            | IPv4 version field is not 4, IPv6 version field is not 6                 | IPv4, IPv6     |
 * | bad-header-length      | IPv4 IHL < 5 or TCP data offset < 5 (header shorter than its fixed part) | IPv4, TCP      |
 * | bad-total-length       | IPv4 total length < IHL*4, or UDP length < 8                             | IPv4, UDP      |
 * | bad-extension-header   | IPv6 hop-by-hop options not first, or more extension headers than walked | IPv6           |
 * | unsupported-type       | ARP hardware type is not Ethernet (1) or protocol type is not IPv4       | ARP            |
 * | bad-address-length     | ARP hardware length is not 6 or protocol length is not 4                 | ARP            |
 * | bad-flags              | VXLAN I flag (0x08, "VNI valid") is clear                                | VXLAN          |
 *
 * "Claims more than available" is always `truncated` (the frame was cut short, as Linux counts it in
 * InTruncatedPkts); a length field smaller than the header it belongs to is `bad-total-length`.
 * After any result other than `'ok'` the view must not be read: its state is unspecified.
 */
export const PARSE_RESULTS = [
  'ok',
  'truncated',
  'too-many-tags',
  'bad-version',
  'bad-header-length',
  'bad-total-length',
  'bad-extension-header',
  'unsupported-type',
  'bad-address-length',
  'bad-flags',
] as const;

export type ParseResult = (typeof PARSE_RESULTS)[number];

/** One line per result, for `stats` and `trace` output. */
export const PARSE_RESULT_DESCRIPTIONS: { readonly [K in ParseResult]: string } = {
  ok: 'parsed',
  truncated: 'fewer bytes than the header or its length field says',
  'too-many-tags': 'more than two VLAN tags',
  'bad-version': 'IP version field does not match the ethertype',
  'bad-header-length': 'header length field below the fixed header size',
  'bad-total-length': 'total length field below the header size',
  'bad-extension-header': 'IPv6 extension header chain out of order or too long',
  'unsupported-type': 'ARP for other than Ethernet/IPv4',
  'bad-address-length': 'ARP address lengths other than 6 and 4',
  'bad-flags': 'VXLAN I flag (VNI valid) clear',
};

/**
 * What TCP, UDP and ICMPv6 checksums need from the IP header in front of them: both `Ipv4View` and
 * `Ipv6View` implement it. `version` picks the rules that differ (a zero UDP checksum means
 * "none" over IPv4 and is invalid over IPv6).
 */
export interface PseudoHeaderSource {
  readonly version: number;
  /** The unfolded one's complement sum of the pseudo header for an upper-layer message of `len` bytes. */
  pseudoHeaderSum(proto: number, len: number): number;
}
