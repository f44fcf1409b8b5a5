/* vtep_layout.h - a VTEP's headroom layout and status vector, shared with TypeScript (no Node-API here). */
#ifndef TSN_VTEP_LAYOUT_H
#define TSN_VTEP_LAYOUT_H
#include "tx_status.h"

/* Bytes of headroom in front of a received inner frame, from the frame's first byte backwards. */
#define TSN_VXLAN_HLEN 8         /* the VXLAN header: frame - 8 .. frame */
#define TSN_VTEP_META_SRC_IP 16  /* sender's IPv4 address, big-endian: frame - 16 .. frame - 12 */
#define TSN_VTEP_META_SRC_PORT 12 /* sender's UDP port, big-endian: frame - 12 .. frame - 10 */

/*
 * A VTEP's status vector (Int32Array given to vtepOpen): the transmit counters of tx_status.h (in
 * datagrams), reset by every vtepSendBurst, then these receive counters, which accumulate.
 */
enum {
  TSN_VST_RX_GRO_DGRAMS = TSN_TXS_COUNT, /* datagrams that arrived coalesced by UDP GRO (several per message) */
  TSN_VST_RX_SUPERFRAMES, /* inner TCP super-frames made from them (GSO frames handed on whole) */
  TSN_VST_RX_TUNNEL_GSO,  /* whole inner super-frames from a kernel VTEP (UDP tunnel GSO), marked GSO */
  TSN_VST_RX_NO_SLOT,     /* frames of a coalesced message dropped: the burst had no free slot left */
  TSN_VST_RX_AMBIGUOUS_GRO, /* GRO messages dropped whole: first frame claims them all, a boundary holds a VXLAN header */
  /*
   * Not a counter: the slots the last receive burst used, from its first. More than its rows when
   * datagrams were coalesced (a super-frame keeps its message's slot, others go to spare slots after
   * the messages): the engine gives the next port of the burst the slots after these, not after the rows.
   */
  TSN_VST_RX_SLOTS_USED,
  TSN_VST_COUNT           /* = 18 */
};

#endif
