/* udp_vtep.h - VXLAN tunnel endpoints over UDP sockets: batched receive into, and send out of, the frame pool. */
#ifndef TSN_UDP_VTEP_H
#define TSN_UDP_VTEP_H
#include "vtep_layout.h"
#include <node_api.h>

napi_value tsn_udp_vtep_init(napi_env env, napi_value exports);
#endif
