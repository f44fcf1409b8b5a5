/* vtep_layout.h - a VTEP's headroom layout and status vector, shared with TypeScript (no Node-API here). */
#ifndef TSN_VTEP_LAYOUT_H
#define TSN_VTEP_LAYOUT_H

/* Bytes of headroom in front of a received inner frame, from the frame's first byte backwards. */
#define TSN_VXLAN_HLEN 8         /* the VXLAN header: frame - 8 .. frame */
#define TSN_VTEP_META_SRC_IP 16  /* sender's IPv4 address, big-endian: frame - 16 .. frame - 12 */
#define TSN_VTEP_META_SRC_PORT 12 /* sender's UDP port, big-endian: frame - 12 .. frame - 10 */

/*
 * Indices into a VTEP's status vector (Int32Array given to vtepOpen). The send counters (before
 * TSN_VST_SEND_COUNT) are reset by every vtepSendBurst; the receive counters after them accumulate.
 */
enum {
  TSN_VST_DGRAMS = 0,   /* datagrams the kernel took (each segment of a UDP_SEGMENT message counts) */
  TSN_VST_SYSCALLS,     /* sendmmsg calls made */
  TSN_VST_DROP_FULL,    /* datagrams not sent: EAGAIN / ENOBUFS (socket buffer full) */
  TSN_VST_DROP_TOO_BIG, /* datagrams not sent: EMSGSIZE (larger than the path MTU, DF set) */
  TSN_VST_DROP_ERR,     /* datagrams not sent: any other errno (ENETUNREACH, EINVAL ...) */
  TSN_VST_LAST_ERRNO,   /* errno of the last failure */
  TSN_VST_SEGMENTS,     /* segments cut from GSO super-frames */
  TSN_VST_DROP_BAD_GSO, /* frames that could not be segmented or checksummed (malformed) */
  TSN_VST_SEND_COUNT,   /* = 8: the send counters end here */
  TSN_VST_RX_GRO_DGRAMS = TSN_VST_SEND_COUNT, /* datagrams that arrived coalesced by UDP GRO (several per message) */
  TSN_VST_RX_SUPERFRAMES, /* inner TCP super-frames made from them (GSO frames handed on whole) */
  TSN_VST_RX_TUNNEL_GSO,  /* whole inner super-frames from a kernel VTEP (UDP tunnel GSO), marked GSO */
  TSN_VST_RX_NO_SLOT,     /* frames of a coalesced message dropped: the burst had no free slot left */
  TSN_VST_RX_AMBIGUOUS_GRO, /* GRO messages dropped whole: first frame claims them all, a boundary holds a VXLAN header */
  TSN_VST_COUNT = 13
};

#endif
