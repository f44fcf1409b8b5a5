/*
 * burst.c - moving bursts of frames between descriptors and the frame pool.
 *
 * rxBurst reads frames into consecutive slots until the burst is full or the descriptor says EAGAIN,
 * parsing each virtio-net header into the frame's descriptor row. txBurst writes the frames named by a
 * run of the pool's transmit index vector to one descriptor, rebuilding each virtio-net header from the
 * descriptor just in front of the frame (the headroom holds it) so a frame leaves with one write().
 *
 * A GSO super-frame leaving by a descriptor that cannot take GSO is segmented here (gso.c) and each
 * segment written; if a write fails half-way the frame is counted as cut short (TSN_TXS_GSO_PARTIAL),
 * the segments that left in TSN_TXS_SEGMENTS and those that did not in TSN_TXS_SEGS_LOST; a partial checksum (NEEDS_CSUM) leaving by one that cannot finish it is completed
 * here. JavaScript is never called per frame.
 *
 * Syscalls: read(2), write(2), writev(2).
 */
#define _GNU_SOURCE
#include "burst.h"
#include "errors.h"
#include "gso.h"
#include "layout.h"
#include "napi_args.h"
#include "pool.h"
#include "tx_offload.h"
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>


/*
 * rxBurst(pool, fd, vnet: 0|1, firstSlot, max) -> count
 * Reads up to max frames from fd into slots firstSlot.. and fills their descriptor rows (rows are indexed
 * by slot). Stops at EAGAIN. A read error after at least one frame ends the burst (it recurs, and is
 * thrown, on the next call); with no frame read it is thrown with its errno name.
 * A frame shorter than its virtio-net header gets length -1: the ingress stage counts it as bad.
 */
static napi_value rx_burst(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd, vnet, first, max;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  if (argc < 5 || tsn_arg_i32(env, argv[1], &fd) || tsn_arg_i32(env, argv[2], &vnet) || tsn_arg_i32(env, argv[3], &first) ||
      tsn_arg_i32(env, argv[4], &max) || first < 0 || max < 0 || (uint32_t)first + (uint32_t)max > p->slots) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "rxBurst(pool, fd, vnet, firstSlot, max): slots out of range");
    return NULL;
  }
  const size_t hdr = vnet ? TSN_VNET_HDR_LEN : 0;
  int n = 0;
  while (n < max) {
    uint32_t slot = (uint32_t)first + (uint32_t)n;
    uint8_t *frame = p->base + (size_t)slot * TSN_SLOT_SIZE + TSN_HEADROOM;
    ssize_t r = read(fd, frame - hdr, TSN_SLOT_SIZE - TSN_HEADROOM + hdr);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break;
      tsn_throw_errno(env, "read", NULL, errno);
      return NULL;
    }
    int32_t *d = p->desc + (size_t)slot * TSN_DESC_STRIDE;
    d[TSN_D_OFF] = (int32_t)(frame - p->base);
    d[TSN_D_SLOT] = (int32_t)slot;
    d[TSN_D_OUT] = -1;
    if ((size_t)r < hdr) {
      d[TSN_D_LEN] = -1;
      d[TSN_D_VFLAGS] = d[TSN_D_GSO_TYPE] = d[TSN_D_HDR_LEN] = d[TSN_D_GSO_SIZE] = d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
    } else {
      d[TSN_D_LEN] = (int32_t)((size_t)r - hdr);
      if (vnet) {
        struct tsn_vnet vh;
        tsn_vnet_parse(frame - hdr, &vh);
        TSN_DESC_SET_VNET(d, &vh);
      } else {
        d[TSN_D_VFLAGS] = d[TSN_D_GSO_TYPE] = d[TSN_D_HDR_LEN] = d[TSN_D_GSO_SIZE] = d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
      }
    }
    n++;
  }
  napi_value res;
  napi_create_int32(env, n, &res);
  return res;
}

struct seg_ctx {
  int fd;
  int vnet;
  tsn_pool *p;
  int written; /* segments of this frame written so far */
};

/* Write one segment (a complete frame with full checksums) behind an all-zero virtio-net header if needed. */
static int write_segment(void *vctx, const uint8_t *seg, size_t len) {
  struct seg_ctx *c = vctx;
  static const uint8_t zero_hdr[TSN_VNET_HDR_LEN];
  struct iovec iov[2] = {{(void *)zero_hdr, TSN_VNET_HDR_LEN}, {(void *)seg, len}};
  ssize_t r;
  do {
    r = c->vnet ? writev(c->fd, iov, 2) : write(c->fd, seg, len);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  c->p->status[TSN_TXS_SEGMENTS]++;
  c->written++;
  return 0;
}

/*
 * txBurst(pool, fd, mode, start, count) -> sent
 * Writes the frames whose descriptor indices stand in txIdx[start .. start+count) to fd. mode is
 * TSN_TX_VNET | TSN_TX_GSO as the descriptor allows. A frame that cannot be written (queue full, device
 * down) is dropped and counted in the status vector with its errno; the burst goes on. The status vector
 * is reset at the start of every call. A partial checksum completed for one egress is completed for all:
 * the descriptor then says DATA_VALID, so flooding the same frame to mixed ports stays correct.
 */
static napi_value tx_burst(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd, mode, start, count;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  if (argc < 5 || tsn_arg_i32(env, argv[1], &fd) || tsn_arg_i32(env, argv[2], &mode) || tsn_arg_i32(env, argv[3], &start) ||
      tsn_arg_i32(env, argv[4], &count) || start < 0 || count < 0 || (uint32_t)start + (uint32_t)count > p->tx_idx_len) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "txBurst(pool, fd, mode, start, count): indices out of range");
    return NULL;
  }
  memset(p->status, 0, sizeof(int32_t) * TSN_TXS_COUNT);
  const int vnet = mode & TSN_TX_VNET, gso_ok = (mode & TSN_TX_GSO) && vnet;
  int sent = 0;
  for (int32_t k = 0; k < count; k++) {
    int32_t di = p->tx_idx[start + k];
    if (di < 0 || (uint32_t)di >= p->slots) continue;
    int32_t *d = p->desc + (size_t)di * TSN_DESC_STRIDE;
    int32_t off = d[TSN_D_OFF], len = d[TSN_D_LEN];
    if (off < TSN_VNET_HDR_LEN || len < 0 || (size_t)off + (size_t)len > p->len) {
      p->status[TSN_TXS_DROP_ERR]++;
      p->status[TSN_TXS_LAST_ERRNO] = EINVAL;
      continue;
    }
    uint8_t *frame = p->base + off;
    struct tsn_vnet vh;
    tsn_desc_vnet(d, &vh);
    int todo = gso_ok ? TSN_TXO_SEND : tsn_tx_offload(d, frame, (size_t)len, &vh, p->status);
    if (todo == TSN_TXO_DROPPED) continue;
    if (todo == TSN_TXO_SEGMENT) {
      struct seg_ctx c = {fd, vnet, p, 0};
      int r = tsn_gso_segment(frame, (size_t)len, &vh, p->scratch, TSN_SLOT_SIZE, write_segment, &c);
      if (r >= 0) sent++;
      else if (r == -EINVAL || r == -ENOBUFS) p->status[TSN_TXS_DROP_BAD_GSO]++;
      else tsn_txs_count_cut(p->status, -r, c.written, tsn_gso_count_segments(frame, (size_t)len, &vh) - c.written);
      continue;
    }
    ssize_t r;
    if (vnet) {
      if (!gso_ok) vh.gso_type = TSN_GSO_NONE, vh.gso_size = 0, vh.hdr_len = 0;
      tsn_vnet_write(frame - TSN_VNET_HDR_LEN, &vh);
      do r = write(fd, frame - TSN_VNET_HDR_LEN, (size_t)len + TSN_VNET_HDR_LEN);
      while (r < 0 && errno == EINTR);
    } else {
      do r = write(fd, frame, (size_t)len);
      while (r < 0 && errno == EINTR);
    }
    if (r < 0) tsn_txs_count_errno(p->status, errno, 1);
    else sent++;
  }
  p->status[TSN_TXS_SENT] = sent;
  napi_value res;
  napi_create_int32(env, sent, &res);
  return res;
}

napi_value tsn_burst_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"rxBurst", NULL, rx_burst, NULL, NULL, NULL, napi_default, NULL},
      {"txBurst", NULL, tx_burst, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
