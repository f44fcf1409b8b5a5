/* pcap_live.h - live capture of a host interface through libpcap (pcap_live.c). */
#ifndef TSN_PCAP_LIVE_H
#define TSN_PCAP_LIVE_H
#include <node_api.h>
napi_value tsn_pcap_live_init(napi_env env, napi_value exports);
#endif
