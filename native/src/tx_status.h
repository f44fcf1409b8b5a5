/*
 * tx_status.h - the transmit counters every port kind writes at the head of its status vector (an
 * Int32Array shared with JavaScript): TAP ports (the frame pool's status, burst.c), AF_PACKET uplinks
 * (af_packet.c) and VTEP sockets (vtep_tx.c, wg_transport.c). Reset by every send; one reader in
 * JavaScript (src/dataplane/ports/transmit-status.ts) turns them into port counters and drops.
 * A kind's own receive counters follow at TSN_TXS_COUNT. No Node-API here.
 */
#ifndef TSN_TX_STATUS_H
#define TSN_TX_STATUS_H
#include <errno.h>
#include <stdint.h>

enum {
  TSN_TXS_SENT = 0,      /* what the kernel took: frames (TAP, AF_PACKET), datagrams (VTEP: each UDP_SEGMENT segment) */
  TSN_TXS_SYSCALLS,      /* write / sendmmsg calls made */
  TSN_TXS_DROP_FULL,     /* not sent: EAGAIN / ENOBUFS (queue or socket buffer full) */
  TSN_TXS_DROP_DOWN,     /* not sent: ENETDOWN / ENXIO / ENODEV (the device is down or gone) */
  TSN_TXS_DROP_TOO_BIG,  /* not sent: EMSGSIZE (larger than the path MTU, DF set) */
  TSN_TXS_DROP_ERR,      /* not sent: any other errno (EIO, EINVAL ...) */
  TSN_TXS_LAST_ERRNO,    /* errno of the last failure */
  TSN_TXS_SEGMENTS,      /* segments cut from GSO super-frames in C */
  TSN_TXS_DROP_BAD_GSO,  /* frames that could not be segmented or checksummed (malformed) */
  TSN_TXS_CSUM_DONE,     /* partial checksums completed in C */
  TSN_TXS_GSO_PARTIAL,   /* GSO frames cut short: some segments sent, then a send failed */
  TSN_TXS_SEGS_LOST,     /* segments of those frames that were not sent */
  TSN_TXS_COUNT = 12
};

/* The drop counter of a failed send's errno, the same for every port kind (the table above). */
static inline int tsn_txs_drop_for(int e) {
  if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) return TSN_TXS_DROP_FULL;
  if (e == ENETDOWN || e == ENXIO || e == ENODEV) return TSN_TXS_DROP_DOWN;
  if (e == EMSGSIZE) return TSN_TXS_DROP_TOO_BIG;
  return TSN_TXS_DROP_ERR;
}

/* Count @n frames (or datagrams) not sent because of errno @e. */
static inline void tsn_txs_count_errno(int32_t *st, int e, int32_t n) {
  st[tsn_txs_drop_for(e)] += n;
  st[TSN_TXS_LAST_ERRNO] = e;
}

/*
 * A GSO super-frame whose sending stopped with errno @e after @left of its segments had gone, @lost not:
 * with none gone it is one frame dropped by @e; else it is cut short (TSN_TXS_GSO_PARTIAL), what left
 * being in TSN_TXS_SEGMENTS and what did not in TSN_TXS_SEGS_LOST. The same for every port kind.
 */
static inline void tsn_txs_count_cut(int32_t *st, int e, int32_t left, int32_t lost) {
  if (left == 0) {
    tsn_txs_count_errno(st, e, 1);
    return;
  }
  st[TSN_TXS_GSO_PARTIAL]++;
  st[TSN_TXS_SEGS_LOST] += lost;
  st[TSN_TXS_LAST_ERRNO] = e;
}

#endif
