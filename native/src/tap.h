#ifndef TSN_TAP_H
#define TSN_TAP_H
#include <node_api.h>
napi_value tsn_tap_init(napi_env env, napi_value exports);
#endif
