/* bpf.h - capture filters compiled by libpcap (bpf.c). */
#ifndef TSN_BPF_H
#define TSN_BPF_H
#include <node_api.h>
napi_value tsn_bpf_init(napi_env env, napi_value exports);
#endif
