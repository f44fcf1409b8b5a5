/* pool.h - the JS-owned frame pools the burst I/O reads into and writes from. */
#ifndef TSN_POOL_H
#define TSN_POOL_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Indices into a pool's status vector (Int32Array shared with JS; written by txBurst/rxBurst). */
enum {
  TSN_ST_SENT = 0,        /* frames written by the last txBurst */
  TSN_ST_DROP_FULL,       /* frames not written: EAGAIN / ENOBUFS (queue full) */
  TSN_ST_DROP_ERR,        /* frames not written: other errno (device down: EIO) */
  TSN_ST_LAST_ERRNO,      /* errno of the last failed write */
  TSN_ST_SEGMENTS,        /* segments written for GSO frames segmented in C */
  TSN_ST_DROP_BAD_GSO,    /* GSO frames that could not be segmented (malformed) */
  TSN_ST_CSUM_DONE,       /* partial checksums completed in C */
  TSN_ST_GSO_PARTIAL,     /* GSO frames cut short: some segments written, then a write failed */
  TSN_ST_SEGS_LOST,       /* segments of those frames that were not written */
  TSN_ST_COUNT = 9
};

typedef struct {
  uint8_t *base;     /* pool bytes */
  size_t len;
  uint32_t slots;
  int32_t *desc;     /* slots * TSN_DESC_STRIDE */
  int32_t *tx_idx;   /* descriptor indices for txBurst, JS-filled */
  uint32_t tx_idx_len;
  int32_t *status;   /* TSN_ST_COUNT */
  uint8_t *scratch;  /* segmentation output: one header + one MSS */
  napi_ref refs[4];
  int used;
} tsn_pool;

/* The pool behind a handle from attachPool, or NULL (and a pending JS error). */
tsn_pool *tsn_pool_get(napi_env env, napi_value handle);
napi_value tsn_pool_init(napi_env env, napi_value exports);
#endif
