/* af_packet.h - an uplink on a parent interface: AF_PACKET socket, batched receive into and send out of the frame pool. */
#ifndef TSN_AF_PACKET_H
#define TSN_AF_PACKET_H
#include <node_api.h>

/*
 * Indices into an uplink's status vector (Int32Array given to packetOpen). The RX entries are reset by
 * every packetRecvBurst, the TX entries by every packetSendBurst; JavaScript adds them to its counters.
 */
enum {
  TSN_PST_RX_ERRNO = 0,   /* errno that ended the last receive early (ENETDOWN: the parent went down), else 0 */
  TSN_PST_RX_TRUNCATED,   /* frames dropped: larger than a pool slot */
  TSN_PST_RX_OUTGOING,    /* our own transmissions read back (only on kernels without PACKET_IGNORE_OUTGOING) */
  TSN_PST_RX_VLAN,        /* frames whose 802.1Q tag the kernel had stripped and we put back */
  TSN_PST_TX_SENT,        /* frames the kernel took in the last send */
  TSN_PST_TX_DROP_FULL,   /* frames not sent: EAGAIN / ENOBUFS (socket buffer or device queue full) */
  TSN_PST_TX_DROP_DOWN,   /* frames not sent: ENETDOWN / ENXIO / ENODEV (the parent is down or gone) */
  TSN_PST_TX_DROP_ERR,    /* frames not sent: any other errno (EMSGSIZE, EINVAL ...) */
  TSN_PST_TX_LAST_ERRNO,  /* errno of the last failed frame */
  TSN_PST_TX_SYSCALLS,    /* sendmmsg calls made by the last send */
  TSN_PST_COUNT = 12
};

napi_value tsn_af_packet_init(napi_env env, napi_value exports);
#endif
