/*
 * addon.c - the tsnet_native module: TAP devices, frame pools, burst I/O, readiness, GSO, rtnetlink,
 * capture filters and live underlay capture, AF_PACKET, VXLAN and WireGuard VTEPs.
 * Each concern registers its own functions; this file only joins them and exports the layout
 * constants so JavaScript can check that both sides agree on the frame layout.
 */
#include "af_packet.h"
#include "bpf.h"
#include "burst.h"
#include "gso_binding.h"
#include "layout.h"
#include "netlink.h"
#include "pcap_live.h"
#include "pool.h"
#include "readiness.h"
#include "tap.h"
#include "udp_vtep.h"
#include "wg_crypto.h"
#include "wg_transport.h"
#include <node_api.h>
#include "napi_args.h"

static napi_value init(napi_env env, napi_value exports) {
  tsn_tap_init(env, exports);
  tsn_pool_init(env, exports);
  tsn_burst_init(env, exports);
  tsn_readiness_init(env, exports);
  tsn_gso_init(env, exports);
  tsn_netlink_init(env, exports);
  tsn_udp_vtep_init(env, exports);
  tsn_bpf_init(env, exports);
  tsn_pcap_live_init(env, exports);
  tsn_af_packet_init(env, exports);
  tsn_wg_crypto_init(env, exports);
  tsn_wg_transport_init(env, exports);
  napi_value layout;
  napi_create_object(env, &layout);
  tsn_set_i32(env, layout, "HEADROOM", TSN_HEADROOM);
  tsn_set_i32(env, layout, "VNET_HDR_LEN", TSN_VNET_HDR_LEN);
  tsn_set_i32(env, layout, "SLOT_SIZE", TSN_SLOT_SIZE);
  tsn_set_i32(env, layout, "DESC_STRIDE", TSN_DESC_STRIDE);
  tsn_set_i32(env, layout, "TX_VNET", TSN_TX_VNET);
  tsn_set_i32(env, layout, "TX_GSO", TSN_TX_GSO);
  /* Status vectors (tx_status.h, af_packet.h): checked against src/native/addon.ts at load. */
  tsn_set_i32(env, layout, "TX_STATUS_COUNT", TSN_TXS_COUNT);
  tsn_set_i32(env, layout, "PACKET_STATUS_COUNT", TSN_PST_COUNT);
  napi_set_named_property(env, exports, "layout", layout);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
