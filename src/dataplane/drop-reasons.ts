/**
 * Every reason the data plane drops a frame, in one table (VPP's error counters, one per node reason).
 * A port counts drops in a Float64Array indexed by these numbers; `stats` and `trace` print the names.
 * A stage declares which of these it may use.
 */
export const DROP_REASONS = [
  'runt', // shorter than an Ethernet header
  'bad-vnet-hdr', // virtio-net header inconsistent with the frame (unknown GSO type, offsets past the end)
  'bad-src-mac', // multicast or zero source MAC
  'spoofed-src-mac', // a container port sent with a source MAC that is not its own
  'spoofed-src-ip', // with port_security=ip: a container port sent from an IPv4 address not its own
  'spoofed-src-ipv6', // with port_security=ip: an IPv6 source other than the port's link-local address (or :: outside DAD/MLD/RS)
  'spoofed-nd', // with port_security=ip: Neighbor Discovery claiming an address or MAC not the port's own (or malformed ND)
  'ipv6-router-msg', // with port_security=ip: a router advertisement or redirect from a container port (RA guard)
  'bad-ipv6', // with port_security=ip: an IPv6 header chain that cannot be followed (truncated, too many extension headers)
  'same-port', // the destination MAC lives on the ingress port
  'icc-disabled', // container-to-container traffic on a network with icc=false
  'no-domain', // the ingress port belongs to no L2 domain
  'flood-no-ports', // broadcast/unknown unicast with nobody else in the domain
  'tx-queue-full', // the egress descriptor said EAGAIN/ENOBUFS
  'tx-error', // the egress write failed otherwise (device down)
  'tx-gso-partial', // a GSO super-frame cut short: some of its segments were written, then a write failed (the rest: txSegmentsLost)
  'bad-gso', // a GSO super-frame that could not be segmented for a port that needs it
  'rx-error', // the ingress read failed (device gone)
  'internal-error', // a stage threw: a bug, counted instead of crashing the switch
  'lb-no-service', // to a VIP, but no virtual service on that protocol/port (or not TCP/UDP)
  'lb-no-conn', // a TCP segment other than SYN to a VIP that matches no tracked connection
  'lb-no-server', // a new connection to a service with no available real server
  'lb-table-full', // a new connection refused: the connection table is at its cap
  'lb-malformed', // a truncated or inconsistent IPv4/TCP/UDP header to a VIP
  'lb-fragment', // an IPv4 fragment to a VIP (not reassembled)
  'lb-no-headroom', // no room in front of the frame for the IP-in-IP header (TUN)
  'vxlan-truncated', // a datagram on a VTEP socket too short for a VXLAN header (8 bytes) and an Ethernet header
  'vxlan-bad-flags', // a VXLAN header without the I flag (VNI valid), RFC 7348 section 5
  'vxlan-unknown-vni', // a VXLAN frame whose VNI no overlay network on this VTEP uses
  'vxlan-not-a-peer', // an encrypted overlay's frame from a WireGuard peer that is another network's, not this one's (one session carries every network between two hosts)
  'vxlan-no-remote', // a frame for the overlay with no peer and no known VTEP to send it to
  'vxlan-ambiguous-gro', // a UDP GRO message whose first inner frame claims the whole message while a datagram boundary holds a VXLAN header: forged, dropped whole (vtep_rx.c)
  'vxlan-no-slot', // a datagram of a UDP GRO message that could not join a super-frame, with no free slot left in the burst
  'overlay-mtu-exceeded', // larger than the overlay MTU (underlay MTU - 50); IPv4 with DF gets an ICMP frag-needed back
  'uplink-no-member', // macvlan/ipvlan: a frame from the parent for no member of the network (another host's, or the host's own)
  'uplink-down', // macvlan/ipvlan: the parent is down or gone (ENETDOWN/ENXIO on send)
  'uplink-loop', // a bridge uplink brought back a frame of the network's own (a loop outside the switch), the same broadcast again and again (a storm), or a flood while it is blocked for looping (loop-guard.ts)
  'rx-truncated', // a frame larger than a pool slot (the kernel said so); dropped whole
  'rx-queue-full', // the kernel dropped frames for an uplink socket whose receive queue was full (PACKET_STATISTICS)
  'macvlan-private', // mode private: container to container, directly or hairpinned back through the parent
  'macvlan-reflected', // a broadcast of our own that the LAN sent back (already delivered locally)
  'ipvlan-to-host', // ipvlan: a member's frame to the parent's own addresses; only host_shim reaches the host
  'wg-bad-mac', // encrypted overlay: a WireGuard message whose tag or mac1 did not verify (tampered, or not for our key)
  'wg-replay', // a transport counter already seen or older than the replay window; a handshake timestamp not newer
  'wg-no-session', // a transport message for no live session, or a datagram to a peer with no session yet (handshake started)
  'wg-unknown-peer', // a handshake from a static key no peer has, or a datagram to a VTEP address no peer has
  'wg-handshake-rate', // under load: a handshake without a valid mac2 (answered with a cookie) or past its source's rate
  'wg-malformed', // a message too short for its type, or of no WireGuard type
  'wg-bad-inner', // decrypted, but not IPv4/UDP/VXLAN from the peer's VTEP address to ours
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export const DROP: { readonly [K in DropReason]: number } = Object.fromEntries(
  DROP_REASONS.map((name, i) => [name, i]),
) as { [K in DropReason]: number };

export const DROP_REASON_COUNT = DROP_REASONS.length;
