/*
 * wg_transport.h - WireGuard transport data messages between VTEPs: the session table, batched
 * encryption of VXLAN datagrams on send and batched decryption on receive (ChaCha20-Poly1305 in C over
 * whole bursts). The handshake runs in TypeScript and installs the keys here.
 */
#ifndef TSN_WG_TRANSPORT_H
#define TSN_WG_TRANSPORT_H
#include "wg_layout.h"
#include <node_api.h>

napi_value tsn_wg_transport_init(napi_env env, napi_value exports);
/* The handshake's primitives for JavaScript (wg_crypto.c); declared here so wg_crypto.h stays free of Node-API. */
napi_value tsn_wg_crypto_init(napi_env env, napi_value exports);
#endif
