/*
 * pcap_live.c - live capture of a host interface through libpcap, both directions (what tcpdump sees):
 * the underlay capture of `capture --underlay`, whose frames are the kernel's (the WireGuard or VXLAN
 * datagrams the VTEP sockets send and receive), not frames that cross the switch.
 *
 *   pcapLiveOpen(ifname, snaplen, filter) -> handle (an external; closed by pcapLiveClose or the GC)
 *     Not promiscuous (the host's own traffic is what is wanted), a 32 MB ring (TPACKET_V3), non-blocking,
 *     microsecond timestamps. A device libpcap cannot open, or a filter it refuses, throws with
 *     .code 'ERR_PCAP' (or 'ERR_BAD_FILTER') and libpcap's message.
 *   pcapLiveRead(handle, buf: Uint8Array) -> records written into buf (0 when nothing is waiting):
 *     each [u32 sec][u32 usec][u32 caplen][u32 wire length][caplen bytes, padded to 4], little-endian;
 *     asks libpcap for no more records than fit (the rest wait in the kernel's ring for the next read).
 *   pcapLiveStats(handle) -> { received, dropped, ifDropped } (pcap_stats)
 *   pcapLiveClose(handle)
 *
 * The caller polls (a capture tool: a few ms of latency do not matter); nothing here blocks.
 * Syscalls (inside libpcap): socket(AF_PACKET), bind, setsockopt, mmap of the ring, poll, getsockopt.
 */
#include "pcap_live.h"

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "napi_args.h"

#define TSN_FILTER_MAX 4096

typedef struct {
  pcap_t *p;
  int snaplen;
} tsn_live;

static void live_finalize(napi_env env, void *data, void *hint) {
  tsn_live *l = data;
  if (l->p) pcap_close(l->p);
  free(l);
}

static tsn_live *get_live(napi_env env, napi_value v) {
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "handle must be one returned by pcapLiveOpen");
    return NULL;
  }
  tsn_live *l = data;
  if (!l->p) {
    tsn_throw_code(env, "ERR_PCAP", "the live capture is closed");
    return NULL;
  }
  return l;
}

/* pcapLiveOpen(ifname, snaplen, filter) */
static napi_value live_open(napi_env env, napi_callback_info info) {
  size_t argc = 3, len = 0;
  napi_value argv[3], out;
  char ifname[64], filter[TSN_FILTER_MAX + 1], err[PCAP_ERRBUF_SIZE] = "";
  int32_t snaplen = 0;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 ||
      napi_get_value_string_utf8(env, argv[2], filter, sizeof filter, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pcapLiveOpen(ifname: string, snaplen: number, filter: string)");
    return NULL;
  }
  if (len >= TSN_FILTER_MAX) {
    tsn_throw_code(env, "ERR_BAD_FILTER", "filter longer than 4095 bytes");
    return NULL;
  }
  if (tsn_arg_i32(env, argv[1], &snaplen) != 0 || snaplen < 1 || snaplen > 262144) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "snaplen must be an integer from 1 to 262144");
    return NULL;
  }
  pcap_t *p = pcap_create(ifname, err);
  if (!p) {
    tsn_throw_code(env, "ERR_PCAP", err);
    return NULL;
  }
  char msg[PCAP_ERRBUF_SIZE + 128];
  int rc;
  /* Not immediate mode: libpcap then uses TPACKET_V3, whose ring holds frames by their length, not by
   * the snap length (in immediate mode a 2 MB ring of 256 KB snaplen frames holds eight). A 5 ms block
   * timeout bounds the latency; 32 MB of ring absorbs a burst between two polls. */
  if (pcap_set_snaplen(p, snaplen) != 0 || pcap_set_promisc(p, 0) != 0 || pcap_set_timeout(p, 5) != 0 || pcap_set_buffer_size(p, 32 << 20) != 0 ||
      (rc = pcap_activate(p)) < 0) {
    snprintf(msg, sizeof msg, "%s: %s", ifname, pcap_geterr(p));
    pcap_close(p);
    tsn_throw_code(env, "ERR_PCAP", msg);
    return NULL;
  }
  if (pcap_datalink(p) != DLT_EN10MB) {
    snprintf(msg, sizeof msg, "%s is not an Ethernet interface (link type %d)", ifname, pcap_datalink(p));
    pcap_close(p);
    tsn_throw_code(env, "ERR_PCAP", msg);
    return NULL;
  }
  if (filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
      pcap_close(p);
      tsn_throw_code(env, "ERR_BAD_FILTER", msg);
      return NULL;
    }
    int set = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (set != 0) {
      snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
      pcap_close(p);
      tsn_throw_code(env, "ERR_BAD_FILTER", msg);
      return NULL;
    }
  }
  if (pcap_setnonblock(p, 1, err) != 0) {
    pcap_close(p);
    tsn_throw_code(env, "ERR_PCAP", err);
    return NULL;
  }
  tsn_live *l = calloc(1, sizeof *l);
  if (!l) {
    pcap_close(p);
    tsn_throw_code(env, "ENOMEM", "out of memory opening a live capture");
    return NULL;
  }
  l->p = p;
  l->snaplen = snaplen;
  if (napi_create_external(env, l, live_finalize, NULL, &out) != napi_ok) {
    live_finalize(env, l, NULL);
    tsn_throw_code(env, "ERR_NAPI", "napi_create_external");
    return NULL;
  }
  return out;
}

typedef struct {
  uint8_t *buf;
  size_t cap, used;
} read_ctx;

static void put_u32(uint8_t *b, uint32_t v) {
  b[0] = v & 0xff;
  b[1] = (v >> 8) & 0xff;
  b[2] = (v >> 16) & 0xff;
  b[3] = v >> 24;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  read_ctx *c = (read_ctx *)user;
  size_t need = 16 + ((h->caplen + 3u) & ~3u);
  if (c->used + need > c->cap) return; /* cannot happen: live_read asks for no more records than fit */
  uint8_t *r = c->buf + c->used;
  put_u32(r, (uint32_t)h->ts.tv_sec);
  put_u32(r + 4, (uint32_t)h->ts.tv_usec);
  put_u32(r + 8, h->caplen);
  put_u32(r + 12, h->len);
  memcpy(r + 16, bytes, h->caplen);
  memset(r + 16 + h->caplen, 0, need - 16 - h->caplen);
  c->used += need;
}

/* pcapLiveRead(handle, buf) -> bytes of records written */
static napi_value live_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_live *l = argc >= 1 ? get_live(env, argv[0]) : NULL;
  if (!l) return NULL;
  uint8_t *buf;
  size_t cap;
  if (argc < 2 || tsn_arg_u8(env, argv[1], "buf", 0, &buf, &cap) != 0) return NULL;
  read_ctx c = {buf, cap, 0};
  const size_t most = 16 + (((size_t)l->snaplen + 3u) & ~(size_t)3u); /* the largest record */
  for (int rounds = 0; rounds < 64; rounds++) {
    size_t room = (c.cap - c.used) / most;
    if (room == 0) break;
    int n = pcap_dispatch(l->p, room < 64 ? (int)room : 64, on_packet, (u_char *)&c);
    if (n < 0) {
      char msg[PCAP_ERRBUF_SIZE + 32];
      snprintf(msg, sizeof msg, "%s", pcap_geterr(l->p));
      tsn_throw_code(env, "ERR_PCAP", msg);
      return NULL;
    }
    if (n == 0) break;
  }
  TSN_CALL(env, napi_create_uint32(env, (uint32_t)c.used, &out));
  return out;
}

/* pcapLiveStats(handle) -> { received, dropped, ifDropped } */
static napi_value live_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_live *l = argc >= 1 ? get_live(env, argv[0]) : NULL;
  if (!l) return NULL;
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  if (pcap_stats(l->p, &st) != 0) memset(&st, 0, sizeof st);
  TSN_CALL(env, napi_create_object(env, &out));
  tsn_set_i32(env, out, "received", (int32_t)st.ps_recv);
  tsn_set_i32(env, out, "dropped", (int32_t)st.ps_drop);
  tsn_set_i32(env, out, "ifDropped", (int32_t)st.ps_ifdrop);
  return out;
}

/* pcapLiveClose(handle): closing twice is harmless. */
static napi_value live_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1 && napi_get_value_external(env, argv[0], &data) == napi_ok && data) {
    tsn_live *l = data;
    if (l->p) pcap_close(l->p);
    l->p = NULL;
  }
  return NULL;
}

napi_value tsn_pcap_live_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pcapLiveOpen", NULL, live_open, NULL, NULL, NULL, napi_default, NULL},
      {"pcapLiveRead", NULL, live_read, NULL, NULL, NULL, napi_default, NULL},
      {"pcapLiveStats", NULL, live_stats, NULL, NULL, NULL, napi_default, NULL},
      {"pcapLiveClose", NULL, live_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
