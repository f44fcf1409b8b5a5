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
  'same-port', // the destination MAC lives on the ingress port
  'icc-disabled', // container-to-container traffic on a network with icc=false
  'no-domain', // the ingress port belongs to no L2 domain
  'flood-no-ports', // broadcast/unknown unicast with nobody else in the domain
  'tx-queue-full', // the egress descriptor said EAGAIN/ENOBUFS
  'tx-error', // the egress write failed otherwise (device down)
  'bad-gso', // a GSO super-frame that could not be segmented for a port that needs it
  'rx-error', // the ingress read failed (device gone)
  'internal-error', // a stage threw: a bug, counted instead of crashing the switch
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export const DROP: { readonly [K in DropReason]: number } = Object.fromEntries(
  DROP_REASONS.map((name, i) => [name, i]),
) as { [K in DropReason]: number };

export const DROP_REASON_COUNT = DROP_REASONS.length;
