/* udp_batch.c - one sendmmsg loop for the VTEPs' batches, counted in tx_status.h's counters. Syscall: sendmmsg. */
#define _GNU_SOURCE
#include "udp_batch.h"
#include "tx_status.h"
#include <errno.h>

void tsn_udp_batch_send(int fd, struct mmsghdr *msgs, const uint16_t *dgrams, int n, int32_t *st, tsn_udp_sent_fn sent, void *ctx) {
  int i = 0;
  while (i < n) {
    int r = sendmmsg(fd, msgs + i, (unsigned)(n - i), 0);
    st[TSN_TXS_SYSCALLS]++;
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (tsn_txs_drop_for(e) == TSN_TXS_DROP_FULL) { /* the socket buffer is full: nothing after it goes either */
        for (; i < n; i++) tsn_txs_count_errno(st, e, dgrams[i]);
        break;
      }
      tsn_txs_count_errno(st, e, dgrams[i]);
      i++;
      continue;
    }
    for (int k = 0; k < r; k++) {
      st[TSN_TXS_SENT] += dgrams[i + k];
      if (sent) sent(ctx, i + k);
    }
    i += r;
  }
}
