/*
 * gso_binding.c - GSO segmentation and checksum completion for JavaScript.
 *
 * The burst code calls gso.c directly on the frame pool; these two functions
 * are for the in-memory ports of the emulator, for pcap export and for tests:
 *
 *   segment(frame: Uint8Array, vnet: { flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset })
 *     -> Uint8Array[]   one copy per segment, each with its own ArrayBuffer
 *   completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number) -> undefined
 *     (in place)
 *
 * Malformed input throws an Error with .code 'EINVAL' and .errno 22 (RangeError
 * for numbers outside their field's range); a wrong argument type throws a
 * TypeError with .code 'ERR_INVALID_ARG_TYPE'. No system calls.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include "napi_args.h"
#include "gso_binding.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "gso.h"
#include "layout.h"

/**
 * throw_einval() - Throw an Error (or RangeError) with .code 'EINVAL', .errno 22
 * @env:	Node-API environment
 * @range:	Throw a RangeError rather than an Error
 * @msg:	Message: the bad value and what would be accepted
 */
static void throw_einval(napi_env env, bool range, const char *msg) {
  napi_value code, text, err, no;

  if (napi_create_string_utf8(env, "EINVAL", NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      (range ? napi_create_range_error(env, code, text, &err) : napi_create_error(env, code, text, &err)) != napi_ok) {
    napi_throw_error(env, "EINVAL", msg);
    return;
  }
  if (napi_create_int32(env, EINVAL, &no) == napi_ok)
    napi_set_named_property(env, err, "errno", no);
  napi_throw(env, err);
}

/**
 * get_field() - Read an integer argument or property within [0, max]
 * @env:	Node-API environment
 * @v:		The value (undefined counts as @dflt)
 * @what:	Name for the error message
 * @max:	Largest accepted value (255 or 65535: the virtio-net field's size)
 * @dflt:	Value when @v is undefined, or -1 if it is required
 * @out:	The value
 *
 * Return: true, or false with a TypeError or RangeError thrown
 */
static bool get_field(napi_env env, napi_value v, const char *what, uint32_t max, int dflt, uint32_t *out) {
  napi_valuetype t;
  double d;
  char msg[160];

  if (napi_typeof(env, v, &t) != napi_ok)
    return false;
  if (t == napi_undefined && dflt >= 0) {
    *out = (uint32_t)dflt;
    return true;
  }
  if (t != napi_number) {
    snprintf(msg, sizeof(msg), "%s must be a number (an integer from 0 to %u)", what, max);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= max && d == floor(d))) {
    snprintf(msg, sizeof(msg), "%s is %g; it must be an integer from 0 to %u", what, d, max);
    throw_einval(env, true, msg);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

/**
 * get_prop() - get_field() on a named property of an object
 */
static bool get_prop(napi_env env, napi_value obj, const char *key, uint32_t max, int dflt, uint32_t *out) {
  napi_value v;
  char what[48];

  if (napi_get_named_property(env, obj, key, &v) != napi_ok)
    return false;
  snprintf(what, sizeof(what), "vnet.%s", key);
  return get_field(env, v, what, max, dflt, out);
}

struct js_emit {
  napi_env env;
  napi_value array;
  uint32_t n;
};

/**
 * js_emit_copy() - tsn_emit_fn: append a copy of the segment to a JS array
 * @ctx:	struct js_emit
 * @seg:	Segment, valid during the call only
 * @len:	Its length
 *
 * Return: 0, or -ENOMEM if a Node-API call failed (an exception may be pending)
 */
static int js_emit_copy(void *ctx, const uint8_t *seg, size_t len) {
  struct js_emit *e = ctx;
  napi_value ab, u8;
  void *data = NULL;

  if (napi_create_arraybuffer(e->env, len, &data, &ab) != napi_ok ||
      napi_create_typedarray(e->env, napi_uint8_array, len, ab, 0, &u8) != napi_ok)
    return -ENOMEM;
  memcpy(data, seg, len);
  if (napi_set_element(e->env, e->array, e->n++, u8) != napi_ok)
    return -ENOMEM;
  return 0;
}

/*
 * segment(frame: Uint8Array, vnet: {flags?, gsoType, hdrLen?, gsoSize, csumStart?, csumOffset?}) -> Uint8Array[]
 * Cuts a TCP GSO super-frame into gsoSize frames with lengths, ids, sequence numbers, flags and full
 * checksums fixed (see tsn_gso_segment()). A frame that already fits is returned as one segment with its
 * checksum completed. The input is not modified. Throws EINVAL for anything it cannot cut.
 */
static napi_value js_segment(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  napi_valuetype t;
  uint32_t flags, gso_type, hdr_len, gso_size, csum_start, csum_offset;
  struct tsn_vnet vh;
  struct js_emit e;
  uint8_t *frame, *scratch;
  size_t len;
  int rc;

  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "segment(frame, vnet): two arguments are required");
    return NULL;
  }
  if (tsn_arg_u8(env, argv[0], "frame", 0, &frame, &len))
    return NULL;
  TSN_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_object) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "vnet must be an object {flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset}");
    return NULL;
  }
  if (!get_prop(env, argv[1], "flags", 0xff, 0, &flags) || !get_prop(env, argv[1], "gsoType", 0xff, -1, &gso_type) ||
      !get_prop(env, argv[1], "hdrLen", 0xffff, 0, &hdr_len) ||
      !get_prop(env, argv[1], "gsoSize", 0xffff, -1, &gso_size) ||
      !get_prop(env, argv[1], "csumStart", 0xffff, 0, &csum_start) ||
      !get_prop(env, argv[1], "csumOffset", 0xffff, 0, &csum_offset))
    return NULL;

  vh.flags = (uint8_t)flags;
  vh.gso_type = (uint8_t)gso_type;
  vh.hdr_len = (uint16_t)hdr_len;
  vh.gso_size = (uint16_t)gso_size;
  vh.csum_start = (uint16_t)csum_start;
  vh.csum_offset = (uint16_t)csum_offset;

  scratch = malloc(TSN_GSO_MAX_HDR + (size_t)gso_size);
  if (!scratch) {
    napi_throw_error(env, "ENOMEM", "segment: out of memory for the scratch buffer");
    return NULL;
  }
  if (napi_create_array(env, &result) != napi_ok) {
    free(scratch);
    return NULL;
  }
  e.env = env;
  e.array = result;
  e.n = 0;
  rc = tsn_gso_segment(frame, len, &vh, scratch, TSN_GSO_MAX_HDR + (size_t)gso_size, js_emit_copy, &e);
  free(scratch);

  if (rc >= 0)
    return result;
  if (rc == -EINVAL) {
    char msg[400];

    snprintf(msg, sizeof(msg),
             "segment: a frame of %zu bytes with gsoType %u, gsoSize %u, flags %u, csumStart %u, csumOffset %u "
             "cannot be segmented; it needs gsoType 1 (TCPV4) or 4 (TCPV6), optionally | 0x80 (ECN), gsoSize > 0, "
             "Ethernet with at most one VLAN tag, an unfragmented IP packet carrying TCP that fits in the frame, "
             "and with flags & 1 (NEEDS_CSUM) csumStart at the TCP header and csumOffset 16",
             len, gso_type, gso_size, flags, csum_start, csum_offset);
    throw_einval(env, false, msg);
    return NULL;
  }
  {
    bool pending = false;

    napi_is_exception_pending(env, &pending);
    if (!pending)
      tsn_throw_code(env, "ERR_NAPI", "segment: could not build the result array");
  }
  return NULL;
}

/*
 * completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number) -> undefined
 * Completes a partial (NEEDS_CSUM) checksum in place: sums from csumStart to the end of the frame and stores
 * the result at csumStart + csumOffset; a result of 0 is stored as 0xffff (see tsn_csum_complete()).
 */
static napi_value js_complete_checksum(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t start, off;
  uint8_t *frame;
  size_t len;
  char msg[200];

  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "completeChecksum(frame, csumStart, csumOffset): three arguments are required");
    return NULL;
  }
  if (tsn_arg_u8(env, argv[0], "frame", 0, &frame, &len) || !get_field(env, argv[1], "csumStart", 0xffff, -1, &start) ||
      !get_field(env, argv[2], "csumOffset", 0xffff, -1, &off))
    return NULL;
  if (tsn_csum_complete(frame, len, (uint16_t)start, (uint16_t)off) < 0) {
    snprintf(msg, sizeof(msg),
             "completeChecksum: csumStart %u + csumOffset %u + 2 must fit in the frame of %zu bytes "
             "(and csumStart must be inside it)",
             start, off, len);
    throw_einval(env, false, msg);
    return NULL;
  }
  return NULL;
}

napi_value tsn_gso_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"segment", NULL, js_segment, NULL, NULL, NULL, napi_default, NULL},
      {"completeChecksum", NULL, js_complete_checksum, NULL, NULL, NULL, napi_default, NULL},
  };

  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
