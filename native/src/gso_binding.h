/* gso_binding.h - segment() and completeChecksum() for JavaScript (gso.c behind them). */
#ifndef TSN_GSO_BINDING_H
#define TSN_GSO_BINDING_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

/* Adds segment(frame, vnet) and completeChecksum(frame, csumStart, csumOffset) to exports. */
napi_value tsn_gso_init(napi_env env, napi_value exports);

#endif
