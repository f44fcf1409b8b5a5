/*
 * pool.c - registering JS-owned frame pools with the addon.
 *
 * JavaScript allocates the pool (an ArrayBuffer of slots), the descriptor vector, a vector of descriptor
 * indices for transmit and a small status vector, then registers them once. Every burst call afterwards
 * names the pool by a small integer handle: no objects cross the boundary per burst, and the buffers
 * cannot move or be collected while registered (we hold references).
 */
#include "napi_args.h"
#include "pool.h"
#include "errors.h"
#include "layout.h"
#include <stdlib.h>
#include <string.h>

#define TSN_MAX_POOLS 64
static tsn_pool pools[TSN_MAX_POOLS];

tsn_pool *tsn_pool_get(napi_env env, napi_value handle) {
  int32_t h;
  if (napi_get_value_int32(env, handle, &h) != napi_ok || h < 0 || h >= TSN_MAX_POOLS || !pools[h].used) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not a registered frame pool handle");
    return NULL;
  }
  return &pools[h];
}

/*
 * attachPool(pool: ArrayBuffer, desc: Int32Array, txIdx: Int32Array, status: Int32Array) -> handle
 * The pool must hold a whole number of TSN_SLOT_SIZE slots and desc one row per slot.
 */
static napi_value attach_pool(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    tsn_throw_code(env, "ERR_MISSING_ARGS", "attachPool(pool, desc, txIdx, status)");
    return NULL;
  }
  void *base;
  size_t len;
  if (napi_get_arraybuffer_info(env, argv[0], &base, &len) != napi_ok) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "attachPool: pool must be an ArrayBuffer");
    return NULL;
  }
  int32_t *desc, *txi, *st;
  size_t dn, tn, sn;
  if (tsn_arg_typed(env, argv[1], napi_int32_array, 0, (void **)&desc, &dn) || tsn_arg_typed(env, argv[2], napi_int32_array, 0, (void **)&txi, &tn) ||
      tsn_arg_typed(env, argv[3], napi_int32_array, 0, (void **)&st, &sn)) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "attachPool: desc, txIdx and status must be Int32Arrays");
    return NULL;
  }
  size_t slots = len / TSN_SLOT_SIZE;
  if (slots == 0 || len % TSN_SLOT_SIZE || dn < slots * TSN_DESC_STRIDE || sn < TSN_TXS_COUNT) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "attachPool: sizes do not match the slot layout");
    return NULL;
  }
  int h = -1;
  for (int i = 0; i < TSN_MAX_POOLS; i++)
    if (!pools[i].used) { h = i; break; }
  if (h < 0) {
    tsn_throw_code(env, "ERR_OUT_OF_RANGE", "attachPool: too many pools");
    return NULL;
  }
  tsn_pool *p = &pools[h];
  memset(p, 0, sizeof *p);
  p->scratch = malloc(TSN_SLOT_SIZE);
  if (!p->scratch) {
    tsn_throw_code(env, "ENOMEM", "attachPool: out of memory");
    return NULL;
  }
  p->base = base;
  p->len = len;
  p->slots = (uint32_t)slots;
  p->desc = desc;
  p->tx_idx = txi;
  p->tx_idx_len = (uint32_t)tn;
  p->status = st;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[i], 1, &p->refs[i]);
  p->used = 1;
  napi_value res;
  napi_create_int32(env, h, &res);
  return res;
}

/* detachPool(handle): drop the references; the handle may be reused. */
static napi_value detach_pool(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  for (int i = 0; i < 4; i++) napi_delete_reference(env, p->refs[i]);
  free(p->scratch);
  memset(p, 0, sizeof *p);
  return NULL;
}

napi_value tsn_pool_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"attachPool", NULL, attach_pool, NULL, NULL, NULL, napi_default, NULL},
      {"detachPool", NULL, detach_pool, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
