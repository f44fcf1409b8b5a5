/* af_packet.h - an uplink on a parent interface: AF_PACKET socket, batched receive into and send out of the frame pool. */
#ifndef TSN_AF_PACKET_H
#define TSN_AF_PACKET_H
#include <node_api.h>
#include "tx_status.h"

/*
 * An uplink's status vector (Int32Array given to packetOpen): the transmit counters of tx_status.h,
 * reset by every packetSendBurst, then these, reset by every packetRecvBurst; JavaScript adds them to
 * its counters.
 */
enum {
  TSN_PST_RX_ERRNO = TSN_TXS_COUNT, /* errno that ended the last receive early (ENETDOWN: the parent went down), else 0 */
  TSN_PST_RX_TRUNCATED,   /* frames dropped: larger than a pool slot */
  TSN_PST_RX_OUTGOING,    /* our own transmissions read back (only on kernels without PACKET_IGNORE_OUTGOING) */
  TSN_PST_RX_VLAN,        /* frames whose 802.1Q tag the kernel had stripped and we put back */
  TSN_PST_COUNT           /* = 16 */
};

napi_value tsn_af_packet_init(napi_env env, napi_value exports);
#endif
