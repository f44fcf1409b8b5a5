/*
 * bpf.c - capture filters: tcpdump/BPF syntax compiled by libpcap's own compiler and run per frame.
 *
 * A filter is compiled once, against a dead pcap handle for Ethernet (DLT_EN10MB) and the capture's
 * snap length, into a classic BPF program; the program is then run by libpcap's interpreter
 * (bpf_filter) over frames in place: over a run of descriptor rows of a frame pool in one call (the
 * capture path asks once per burst, never once per frame), or over one byte array (tests, emulator).
 *
 *   bpfCompile(filter: string, snaplen: number) -> program (an external; freed by the GC)
 *     A filter libpcap refuses throws an Error with .code 'ERR_BAD_FILTER' and pcap_geterr()'s text.
 *   bpfMatch(program, frame: Uint8Array) -> boolean
 *   bpfFilterRows(program, pool: number, rows: Int32Array, count: number, mask: Uint8Array) -> matches
 *     mask[i] = 1 if the frame of descriptor row rows[i] matches, else 0; returns how many matched.
 *
 * The frame is offered whole (wire length = captured length = the frame's length, GSO super-frames
 * included), so filters that look deep into a 64 KB TCP segment see it all.
 *
 * Syscalls: none (pcap_open_dead opens no device; pcap_compile and bpf_filter are pure computation).
 */
#include "bpf.h"

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "layout.h"
#include "pool.h"

#define TSN_FILTER_MAX 4096

typedef struct {
  struct bpf_program prog;
} tsn_bpf;

/**
 * bpf_finalize() - Free a compiled program when its JS handle is collected
 * @env:	Node-API environment
 * @data:	The tsn_bpf
 * @hint:	Unused
 */
static void bpf_finalize(napi_env env, void *data, void *hint) {
  tsn_bpf *b = data;
  pcap_freecode(&b->prog);
  free(b);
}

/**
 * get_program() - The compiled program behind a handle from bpfCompile
 * @env:	Node-API environment
 * @v:		The handle
 *
 * Return: the program, or NULL with a TypeError thrown
 */
static tsn_bpf *get_program(napi_env env, napi_value v) {
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "program must be a handle returned by bpfCompile");
    return NULL;
  }
  return data;
}

/**
 * bpf_compile() - bpfCompile(filter, snaplen): compile tcpdump syntax for Ethernet frames
 *
 * Return: an external holding the program; throws ERR_BAD_FILTER with libpcap's message
 */
static napi_value bpf_compile(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2], out;
  char filter[TSN_FILTER_MAX + 1];
  int32_t snaplen = 0;

  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], filter, sizeof filter, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bpfCompile(filter: string, snaplen: number)");
    return NULL;
  }
  if (len >= TSN_FILTER_MAX) {
    tsn_throw_code(env, "ERR_BAD_FILTER", "filter longer than 4095 bytes");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[1], &snaplen) != napi_ok || snaplen < 1 || snaplen > 262144) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "snaplen must be an integer from 1 to 262144");
    return NULL;
  }
  pcap_t *p = pcap_open_dead(DLT_EN10MB, snaplen);
  if (!p) {
    tsn_throw_code(env, "ENOMEM", "pcap_open_dead failed");
    return NULL;
  }
  tsn_bpf *b = calloc(1, sizeof *b);
  if (!b) {
    pcap_close(p);
    tsn_throw_code(env, "ENOMEM", "out of memory compiling a filter");
    return NULL;
  }
  if (pcap_compile(p, &b->prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    char msg[PCAP_ERRBUF_SIZE + 64];
    snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
    free(b);
    pcap_close(p);
    tsn_throw_code(env, "ERR_BAD_FILTER", msg);
    return NULL;
  }
  pcap_close(p);
  if (napi_create_external(env, b, bpf_finalize, NULL, &out) != napi_ok) {
    pcap_freecode(&b->prog);
    free(b);
    tsn_throw_code(env, "ERR_NAPI", "napi_create_external");
    return NULL;
  }
  return out;
}

/**
 * bpf_match() - bpfMatch(program, frame): run the program over one frame
 *
 * Return: true if the frame matches
 */
static napi_value bpf_match(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2], out;
  napi_typedarray_type type;
  void *data = NULL;
  bool is_ta = false;

  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_bpf *b = argc >= 1 ? get_program(env, argv[0]) : NULL;
  if (!b) return NULL;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "frame must be a Uint8Array");
    return NULL;
  }
  u_int r = len ? bpf_filter(b->prog.bf_insns, data, (u_int)len, (u_int)len) : 0;
  TSN_CALL(env, napi_get_boolean(env, r != 0, &out));
  return out;
}

/**
 * bpf_filter_rows() - bpfFilterRows(program, pool, rows, count, mask): filter a run of pool rows
 *
 * Return: the number of rows that matched; mask[i] says which
 */
static napi_value bpf_filter_rows(napi_env env, napi_callback_info info) {
  size_t argc = 5, nrows = 0, nmask = 0;
  napi_value argv[5], out;
  napi_typedarray_type type;
  void *rows_p = NULL, *mask_p = NULL;
  int32_t count = 0;

  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bpfFilterRows(program, pool, rows, count, mask)");
    return NULL;
  }
  tsn_bpf *b = get_program(env, argv[0]);
  if (!b) return NULL;
  tsn_pool *p = tsn_pool_get(env, argv[1]);
  if (!p) return NULL;
  if (napi_get_typedarray_info(env, argv[2], &type, &nrows, &rows_p, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_typedarray_info(env, argv[4], &type, &nmask, &mask_p, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0 || (size_t)count > nrows || (size_t)count > nmask) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "bpfFilterRows: rows must be an Int32Array, mask a Uint8Array, both at least count long");
    return NULL;
  }
  const int32_t *rows = rows_p;
  uint8_t *mask = mask_p;
  int32_t matches = 0;
  for (int32_t i = 0; i < count; i++) {
    int32_t row = rows[i];
    mask[i] = 0;
    if (row < 0 || (uint32_t)row >= p->slots) continue;
    const int32_t *d = p->desc + (size_t)row * TSN_DESC_STRIDE;
    int32_t off = d[TSN_D_OFF], len = d[TSN_D_LEN];
    if (len <= 0 || off < 0 || (size_t)off + (size_t)len > p->len) continue;
    if (bpf_filter(b->prog.bf_insns, p->base + off, (u_int)len, (u_int)len)) {
      mask[i] = 1;
      matches++;
    }
  }
  TSN_CALL(env, napi_create_int32(env, matches, &out));
  return out;
}

napi_value tsn_bpf_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpfCompile", NULL, bpf_compile, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMatch", NULL, bpf_match, NULL, NULL, NULL, napi_default, NULL},
      {"bpfFilterRows", NULL, bpf_filter_rows, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
