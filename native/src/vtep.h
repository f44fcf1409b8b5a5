/*
 * vtep.h - one VXLAN tunnel endpoint's state, shared by the three files that make it up:
 *   udp_vtep.c  sockets and the Node-API glue (vtepOpen/Close/RecvBurst/SendBurst/RxInject);
 *   vtep_rx.c   what a received message is: one datagram, a UDP GRO run, a kernel VTEP's tunnel GSO packet;
 *   vtep_tx.c   encapsulation, segmentation (UDP_SEGMENT runs) and batched sendmmsg.
 * Not part of the addon's JavaScript interface (that is udp_vtep.h).
 */
#ifndef TSN_VTEP_H
#define TSN_VTEP_H
#include "pool.h"
#include "udp_vtep.h"
#include "vtep_addr6.h"
#include "wire.h"
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define TSN_MAX_VTEPS 64
#define TSN_VTEP_MAX_TX 64
#define TSN_VTEP_MAX_MSGS 256          /* messages per sendmmsg (UIO_MAXIOV is 1024) */
#define TSN_VTEP_MAX_RX 256            /* datagrams per recvmmsg */
#define TSN_VTEP_ARENA (2u << 20)      /* staging for segment headers (and segments gso.c cuts) */
#define TSN_VTEP_IOVS 16384            /* iovecs of the pending messages (a run of 64 segments takes 128) */
#define TSN_VTEP_GSO_MAX_BYTES 65507u  /* UDP payload limit of one UDP_SEGMENT message: 65535 - IPv4 - UDP (IPv6 allows 20 more) */
#define TSN_VTEP_GSO_MAX_SEGS 64       /* UDP_MAX_SEGMENTS of older kernels (128 since 5.19) */
#define TSN_VTEP_SOCKBUF (4 << 20)
#define VXLAN_FLAG_I 0x08

typedef struct {
  struct mmsghdr msgs[TSN_VTEP_MAX_MSGS];
  struct sockaddr_in names[TSN_VTEP_MAX_MSGS];
  struct sockaddr_in6 names6[TSN_VTEP_MAX_MSGS]; /* an IPv6 VTEP's */
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl[TSN_VTEP_MAX_MSGS];
  uint16_t dgrams[TSN_VTEP_MAX_MSGS]; /* datagrams each message stands for */
  int n;
} msg_batch;

typedef struct {
  int used;
  int rx_fd;
  int n_tx;
  int tx_fd[TSN_VTEP_MAX_TX];
  uint16_t tx_port[TSN_VTEP_MAX_TX];
  uint16_t port;  /* our receive port and every peer's destination port, host order */
  int v6;         /* an IPv6 VTEP: remote VTEPs are numbers into addr6 (vtep_addr6.h), not IPv4 addresses */
  tsn_vtep6_table *addr6; /* IPv6 only */
  int32_t *status;
  napi_ref status_ref;
  msg_batch tx;
  uint8_t *arena;      /* staged bytes: segment headers (and whole segments gso.c cut) */
  size_t arena_pos;
  struct iovec *iov;   /* the pending messages' iovecs: arena pieces and frame bytes in the pool */
  size_t iov_n;
  uint8_t *sock_of; /* per row of a send burst: transmit socket index */
  size_t sock_of_len;
  struct mmsghdr rmsgs[TSN_VTEP_MAX_RX];
  struct iovec riovs[TSN_VTEP_MAX_RX];
  struct sockaddr_in rnames[TSN_VTEP_MAX_RX];
  struct sockaddr_in6 rnames6[TSN_VTEP_MAX_RX];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } rctrl[TSN_VTEP_MAX_RX];
  int gro; /* UDP_GRO is on: a message may hold many datagrams */
} tsn_vtep;

/* The VXLAN header (RFC 7348 section 5): flags with I set, 24 reserved bits, VNI, 8 reserved bits. */
static inline void vxlan_write(uint8_t *p, uint32_t vni) {
  tsn_wr32(p, (uint32_t)VXLAN_FLAG_I << 24);
  tsn_wr32(p + 4, (vni & 0xffffffu) << 8);
}

/*
 * tsn_vtep_tx_burst() - Encapsulate and send the frames in @p's txIdx[0 .. @count) (vtep_tx.c)
 * @dst:	Per frame: destination IPv4 address (host order; an IPv6 VTEP: its number, vtep_addr6.h), or 0 for every one of @peers
 * Counts outcomes in @v->status (send counters reset first). Syscall: sendmmsg.
 * Return: datagrams the kernel took, or -ENOMEM (nothing sent)
 */
int tsn_vtep_tx_burst(tsn_vtep *v, tsn_pool *p, uint32_t vni, int32_t count, const uint32_t *dst, const uint32_t *peers, int32_t npeers);

#endif
