/* pool.h - the JS-owned frame pools the burst I/O reads into and writes from. */
#ifndef TSN_POOL_H
#define TSN_POOL_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include "tx_status.h"

/* A pool's status vector is the transmit counters of tx_status.h (TAP ports): written by txBurst. */

typedef struct {
  uint8_t *base;     /* pool bytes */
  size_t len;
  uint32_t slots;
  int32_t *desc;     /* slots * TSN_DESC_STRIDE */
  int32_t *tx_idx;   /* descriptor indices for txBurst, JS-filled */
  uint32_t tx_idx_len;
  int32_t *status;   /* TSN_TXS_COUNT */
  uint8_t *scratch;  /* segmentation output: one header + one MSS */
  napi_ref refs[4];
  int used;
} tsn_pool;

/* The pool behind a handle from attachPool, or NULL (and a pending JS error). */
tsn_pool *tsn_pool_get(napi_env env, napi_value handle);
napi_value tsn_pool_init(napi_env env, napi_value exports);
#endif
