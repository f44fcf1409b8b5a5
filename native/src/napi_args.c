/* napi_args.c - reading JavaScript arguments (see napi_args.h). No syscalls. */
#include "napi_args.h"
#include "errors.h"
#include <stdbool.h>
#include <stdio.h>

int tsn_arg_i32(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1; }

int tsn_arg_u32(napi_env env, napi_value v, uint32_t *out) {
  double x;
  if (napi_get_value_double(env, v, &x) != napi_ok || x < -2147483648.0 || x > 4294967295.0) return -1;
  *out = (uint32_t)(int64_t)x;
  return 0;
}

int tsn_arg_opt_int(napi_env env, napi_value obj, const char *fn, const char *key, int dflt, int lo, int hi, int *out) {
  bool has = false;
  napi_value val;
  napi_valuetype t;
  *out = dflt;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &val) != napi_ok || napi_typeof(env, val, &t) != napi_ok) t = napi_null; /* thrown below */
  if (t == napi_undefined) return 0;
  int32_t v;
  if (t != napi_number || napi_get_value_int32(env, val, &v) != napi_ok || v < lo || v > hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: opts.%s must be an integer from %d to %d", fn, key, lo, hi);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return -1;
  }
  *out = v;
  return 0;
}

int tsn_arg_typed(napi_env env, napi_value v, napi_typedarray_type type, size_t min_len, void **data, size_t *len) {
  napi_typedarray_type t;
  size_t n;
  void *p;
  if (napi_get_typedarray_info(env, v, &t, &n, &p, NULL, NULL) != napi_ok || t != type || n < min_len) return -1;
  *data = p;
  if (len) *len = n;
  return 0;
}

int tsn_arg_u8(napi_env env, napi_value v, const char *what, size_t want, uint8_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t = napi_int8_array;
  void *p = NULL;
  size_t n = 0;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is && napi_get_typedarray_info(env, v, &t, &n, &p, NULL, NULL) == napi_ok && t == napi_uint8_array &&
      (want == 0 || n == want)) {
    *data = p;
    *len = n;
    return 0;
  }
  char msg[160];
  if (want) snprintf(msg, sizeof msg, "%s must be a Uint8Array of %zu bytes", what, want);
  else snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
  tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

void tsn_set_i32(napi_env env, napi_value obj, const char *key, int32_t v) {
  napi_value n;
  if (napi_create_int32(env, v, &n) == napi_ok) napi_set_named_property(env, obj, key, n);
}
