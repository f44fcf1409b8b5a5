/* netlink.h - a small rtnetlink client: links, addresses and routes of one network namespace. */
#ifndef TSN_NETLINK_H
#define TSN_NETLINK_H
#include <node_api.h>
napi_value tsn_netlink_init(napi_env env, napi_value exports);
#endif
