#ifndef TSN_BURST_H
#define TSN_BURST_H
#include <node_api.h>
/* Transmit modes: what the egress descriptor can take. */
#define TSN_TX_VNET 1   /* the descriptor expects a 12-byte virtio-net header in front of every frame */
#define TSN_TX_GSO 2    /* ... and accepts GSO super-frames and partial checksums (TUNSETOFFLOAD on the peer side) */
napi_value tsn_burst_init(napi_env env, napi_value exports);
#endif
