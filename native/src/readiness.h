#ifndef TSN_READINESS_H
#define TSN_READINESS_H
#include <node_api.h>
napi_value tsn_readiness_init(napi_env env, napi_value exports);
#endif
