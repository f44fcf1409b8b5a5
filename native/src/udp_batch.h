/*
 * udp_batch.h - sending a batch of prepared UDP messages with sendmmsg and counting the outcome in the
 * transmit counters of tx_status.h: one copy for the VXLAN VTEPs (vtep_tx.c) and the WireGuard ones
 * (wg_tx.c). No Node-API here. Callers define _GNU_SOURCE (struct mmsghdr).
 */
#ifndef TSN_UDP_BATCH_H
#define TSN_UDP_BATCH_H
#include <stdint.h>
#include <sys/socket.h>

/* Called with the index of each message the kernel took, for what the caller counts per message. */
typedef void (*tsn_udp_sent_fn)(void *ctx, int i);

/*
 * tsn_udp_batch_send() - Send @msgs[0 .. @n) on @fd; message i stands for @dgrams[i] datagrams (a
 * UDP_SEGMENT run is many). Sent datagrams go to @st[TSN_TXS_SENT], calls to TSN_TXS_SYSCALLS; a
 * message that fails is dropped and counted by errno and the rest still goes, but EAGAIN/ENOBUFS drop
 * the remainder at once (the socket buffer is full: retrying message by message would only spin).
 * @sent (may be NULL) is called per message taken.
 * Syscall: sendmmsg.
 */
void tsn_udp_batch_send(int fd, struct mmsghdr *msgs, const uint16_t *dgrams, int n, int32_t *st, tsn_udp_sent_fn sent, void *ctx);

#endif
