/*
 * vtep_tx.c - a VTEP's send path: encapsulation, segmentation into UDP_SEGMENT runs, batched sendmmsg.
 *
 * The outer UDP source port of a frame is the port of the transmit socket picked by a hash of the
 * inner flow (IP addresses, protocol and ports; MACs for non-IP), as RFC 7348 section 5 recommends,
 * so that ECMP in the underlay spreads flows while one flow's frames stay on one path and in order.
 * The kernel builds the outer Ethernet/IPv4/UDP headers (IPv6 for an IPv6 VTEP, whose destinations
 * are numbers of vtep_addr6.h's table); we write the 8-byte VXLAN header and choose socket and
 * destination.
 *
 * The VXLAN header is written into the headroom before the frame (no copy) and one iovec covers
 * header and frame; head-end replication to N peers is N messages sharing that iovec, differing only
 * in msg_name. Partial checksums (NEEDS_CSUM) are completed in place. A GSO super-frame (64 KB of TCP
 * from a TAP) is segmented here (segment_direct, else gso.c) into a staging arena, each segment behind
 * its own VXLAN header, all but the last of equal size, and leaves as one message per <= 64 KB run
 * with a UDP_SEGMENT control message: one syscall carries ~45 datagrams and the kernel cuts them (or
 * hands the whole run to the device, which may pass it on uncut: veth does). Rows are grouped by
 * transmit socket, one sendmmsg per socket per burst (more only when the arena or the message array
 * fills).
 *
 * Syscall: sendmmsg.
 */
#define _GNU_SOURCE
#include "vtep.h"
#include "flow_hash.h"
#include "gso.h"
#include "layout.h"
#include "tx_offload.h"
#include "tx_status.h"
#include "udp_batch.h"
#include <errno.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Send everything pending on @fd (udp_batch.c counts it in the status vector). Syscall: sendmmsg. */
static void batch_flush(tsn_vtep *v, int fd) {
  tsn_udp_batch_send(fd, v->tx.msgs, v->tx.dgrams, v->tx.n, v->status, NULL, NULL);
  v->tx.n = 0;
}

/*
 * Queue one message to @dst:port gathering @iovcnt iovecs at @iov (pending iovecs, arena and pool bytes
 * stay valid until the batch is flushed); @seg > 0 asks the kernel to cut it into @seg-byte datagrams.
 */
static void batch_add(tsn_vtep *v, int fd, struct iovec *iov, size_t iovcnt, uint32_t dst, uint16_t seg, uint16_t dgrams) {
  msg_batch *b = &v->tx;
  const uint8_t *a6 = NULL;
  if (__builtin_expect(v->v6, 0) && !(a6 = tsn_vtep6_addr(v->addr6, dst))) {
    /* A number no address has (a caller's bug): nothing to send it to. */
    v->status[TSN_TXS_DROP_ERR] += dgrams;
    v->status[TSN_TXS_LAST_ERRNO] = EDESTADDRREQ;
    return;
  }
  if (b->n == TSN_VTEP_MAX_MSGS) batch_flush(v, fd);
  int i = b->n++;
  struct msghdr *m = &b->msgs[i].msg_hdr;
  if (a6) {
    memset(&b->names6[i], 0, sizeof b->names6[i]);
    b->names6[i].sin6_family = AF_INET6;
    b->names6[i].sin6_port = htons(v->port);
    memcpy(b->names6[i].sin6_addr.s6_addr, a6, 16);
    m->msg_name = &b->names6[i];
    m->msg_namelen = sizeof b->names6[i];
  } else {
    b->names[i].sin_family = AF_INET;
    b->names[i].sin_port = htons(v->port);
    b->names[i].sin_addr.s_addr = htonl(dst);
    m->msg_name = &b->names[i];
    m->msg_namelen = sizeof b->names[i];
  }
  m->msg_iov = iov;
  m->msg_iovlen = iovcnt;
  m->msg_flags = 0;
  if (seg) {
    m->msg_control = b->ctrl[i].buf;
    m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &seg, sizeof seg);
  } else {
    m->msg_control = NULL;
    m->msg_controllen = 0;
  }
  b->dgrams[i] = dgrams;
}

/*
 * A run of segments of one GSO frame, sent as one UDP_SEGMENT message per destination: consecutive
 * pending iovecs, per segment its VXLAN + L2-L4 headers (arena) and its payload (in the pool, never
 * copied), or one arena piece holding a whole segment gso.c cut.
 */
struct seg_run {
  tsn_vtep *v;
  int fd;
  uint32_t vni;
  const uint32_t *dsts;
  int ndst;
  size_t iov_start;
  size_t iov_count;
  size_t len;
  size_t stride; /* VXLAN header + segment: the UDP_SEGMENT size */
  int segs;
  bool short_tail; /* the last segment was shorter: nothing may follow it in this run */
};

static void run_close(struct seg_run *r) {
  if (r->segs == 0) return;
  for (int i = 0; i < r->ndst; i++)
    batch_add(r->v, r->fd, r->v->iov + r->iov_start, r->iov_count, r->dsts[i], r->segs > 1 ? (uint16_t)r->stride : 0, (uint16_t)r->segs);
  r->segs = 0;
  r->len = 0;
  r->iov_count = 0;
  r->short_tail = false;
}

/* Make room for @nbytes of arena and @niov iovecs: when either is short, close @r, send everything pending, start over. */
static void pending_room(tsn_vtep *v, struct seg_run *r, int fd, size_t nbytes, size_t niov) {
  if (v->arena_pos + nbytes <= TSN_VTEP_ARENA && v->iov_n + niov <= TSN_VTEP_IOVS) return;
  if (r) run_close(r);
  batch_flush(v, fd); /* every pending message pointing into the arena and the iovecs leaves before they are reused */
  v->arena_pos = 0;
  v->iov_n = 0;
}

/*
 * run_next() - Prepare @r to take one more datagram of @dglen bytes (VXLAN header included) made of
 * @niov iovecs with @nbytes of arena: the run goes on when the datagram can extend it (same size, or
 * one shorter last one; within 64 KB and 64 segments), else it is closed and a new one starts. Returns
 * the arena bytes to fill, or NULL if a datagram cannot be that large.
 */
static uint8_t *run_next(struct seg_run *r, size_t dglen, size_t nbytes, size_t niov) {
  tsn_vtep *v = r->v;
  if (dglen > TSN_VTEP_GSO_MAX_BYTES) return NULL;
  if (r->segs > 0 && (r->short_tail || dglen > r->stride || r->len + dglen > TSN_VTEP_GSO_MAX_BYTES || r->segs >= TSN_VTEP_GSO_MAX_SEGS)) run_close(r);
  pending_room(v, r, r->fd, nbytes, niov);
  if (r->segs == 0) {
    r->iov_start = v->iov_n;
    r->stride = dglen;
  } else if (dglen < r->stride) {
    r->short_tail = true;
  }
  r->len += dglen;
  r->segs++;
  r->iov_count += niov;
  v->status[TSN_TXS_SEGMENTS]++;
  uint8_t *a = v->arena + v->arena_pos;
  v->arena_pos += nbytes;
  return a;
}

static inline void iov_push(tsn_vtep *v, void *base, size_t len) {
  v->iov[v->iov_n].iov_base = base;
  v->iov[v->iov_n].iov_len = len;
  v->iov_n++;
}

/* tsn_emit_fn for tsn_gso_segment(): copy the segment behind a VXLAN header into the arena, extend the run. */
static int emit_segment(void *ctx, const uint8_t *seg, size_t len) {
  struct seg_run *r = ctx;
  uint8_t *dst = run_next(r, TSN_VXLAN_HLEN + len, TSN_VXLAN_HLEN + len, 1);
  if (!dst) return -EMSGSIZE;
  vxlan_write(dst, r->vni);
  memcpy(dst + TSN_VXLAN_HLEN, seg, len);
  iov_push(r->v, dst, TSN_VXLAN_HLEN + len);
  return 0;
}

/*
 * segment_direct() - Cut a TCP super-frame into datagrams without copying its payload
 * @r:		The run the segments extend
 * @frame:	Super-frame in the pool (Ethernet [+ one tag] + IPv4 or IPv6 without extension headers + TCP)
 * @len:	Its length: the IP length must match it exactly, as a TAP's TSO frames do
 * @mss:	gso_size
 *
 * Each segment is two iovecs: its VXLAN header and fixed-up Ethernet/IP/TCP headers in the arena, and
 * its payload where it lies in the pool; the kernel gathers them while copying the message in, so the
 * payload is read twice (our checksum, the kernel's copy) and written once. Fix-ups are gso.c's (IPv4
 * total length, id + i and header checksum; IPv6 payload length; sequence number; CWR on the first
 * segment only, FIN and PSH on the last only; a full TCP checksum: header sum + payload sum + pseudo
 * header). Anything else returns -ENOTSUP before queueing anything, and gso.c handles it. No syscalls.
 *
 * Return: segments made, -ENOTSUP, -EINVAL (no MSS) or -EMSGSIZE (a segment larger than a datagram)
 */
static int segment_direct(struct seg_run *r, uint8_t *frame, size_t len, size_t mss) {
  struct tsn_tcp_hdrs h;
  if (tsn_tcp_parse(frame, len, TSN_TCP_EXACT, &h) != 0) return -ENOTSUP;
  if (mss == 0) return -EINVAL;
  size_t hdrs = h.hdrs, thl = hdrs - h.l4, paylen = len - hdrs, ipfix = h.v6 ? h.l4 - h.l3 - 40 : h.l4 - h.l3;
  if (TSN_VXLAN_HLEN + hdrs + mss > TSN_VTEP_GSO_MAX_BYTES && paylen > 0) return -EMSGSIZE;
  int nsegs = paylen ? (int)((paylen + mss - 1) / mss) : 1;
  uint64_t pseudo = h.v6 ? tsn_csum_partial(frame + h.l3 + 8, 32, 0) : tsn_csum_partial(frame + h.l3 + 12, 8, 0);
  uint16_t id = h.v6 ? 0 : tsn_rd16(frame + h.l3 + 4);
  uint32_t seq = tsn_rd32(frame + h.l4 + 4);
  uint8_t flags = frame[h.l4 + 13];
  for (int i = 0; i < nsegs; i++) {
    size_t off = hdrs + (size_t)i * mss, n = len - off < mss ? len - off : mss, l4len = thl + n;
    uint8_t *a = run_next(r, TSN_VXLAN_HLEN + hdrs + n, TSN_VXLAN_HLEN + hdrs, n ? 2 : 1);
    if (!a) return -EMSGSIZE;
    vxlan_write(a, r->vni);
    uint8_t *f = a + TSN_VXLAN_HLEN, *ip = f + h.l3, *th = f + h.l4;
    memcpy(f, frame, hdrs);
    if (h.v6) {
      tsn_wr16(ip + 4, (uint16_t)(ipfix + l4len));
    } else {
      tsn_wr16(ip + 2, (uint16_t)(ipfix + l4len));
      tsn_wr16(ip + 4, (uint16_t)(id + i));
      ip[10] = ip[11] = 0;
      uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(ip, ipfix, 0));
      memcpy(ip + 10, &c, 2);
    }
    uint8_t fl = flags;
    if (i > 0) fl &= (uint8_t)~TSN_TCP_CWR;
    if (i < nsegs - 1) fl &= (uint8_t)~(TSN_TCP_FIN | TSN_TCP_PSH);
    tsn_wr32(th + 4, seq + (uint32_t)((size_t)i * mss));
    th[13] = fl;
    th[16] = th[17] = 0;
    uint8_t tail[4] = {0, 6, (uint8_t)(l4len >> 8), (uint8_t)l4len};
    /* The TCP header is a multiple of 4 bytes: the payload's sum chains on at an even offset. */
    uint64_t sum = tsn_csum_partial(frame + off, n, tsn_csum_partial(th, thl, tsn_csum_partial(tail, 4, pseudo)));
    uint16_t c = (uint16_t)~tsn_csum_fold(sum);
    memcpy(th + 16, &c, 2);
    iov_push(r->v, a, TSN_VXLAN_HLEN + hdrs);
    if (n) iov_push(r->v, frame + off, n);
  }
  return nsegs;
}

/*
 * tsn_vtep_tx_burst() - Encapsulate the frames whose descriptor rows stand in @p's txIdx[0 .. @count)
 * with VNI @vni and send each to @dst[k], or, for @dst[k] == 0, to every one of @peers[0 .. @npeers)
 * (head-end replication). GSO frames are segmented, partial checksums completed (the descriptor then
 * says DATA_VALID, as txBurst does). Outcomes go to the VTEP's status vector, reset first.
 * Syscall: sendmmsg (one per transmit socket used, more if a batch fills).
 *
 * Return: datagrams the kernel took, or -ENOMEM before anything was sent
 */
int tsn_vtep_tx_burst(tsn_vtep *v, tsn_pool *p, uint32_t vni, int32_t count, const uint32_t *dst, const uint32_t *peers, int32_t npeers) {
  int32_t *st = v->status;
  memset(st, 0, sizeof(int32_t) * TSN_TXS_COUNT);
  if ((size_t)count > v->sock_of_len) {
    free(v->sock_of);
    v->sock_of = malloc((size_t)count);
    v->sock_of_len = v->sock_of ? (size_t)count : 0;
    if (!v->sock_of) return -ENOMEM;
  }

  /* Pass 1: validate rows, pick each row's transmit socket by flow hash. */
  uint64_t used = 0;
  for (int32_t k = 0; k < count; k++) {
    int32_t di = p->tx_idx[k];
    v->sock_of[k] = 0xff;
    if (di < 0 || (uint32_t)di >= p->slots) continue;
    int32_t *d = p->desc + (size_t)di * TSN_DESC_STRIDE;
    int32_t off = d[TSN_D_OFF], len = d[TSN_D_LEN];
    if (off < TSN_VXLAN_HLEN || len < 14 || (size_t)off + (size_t)len > p->len) {
      st[TSN_TXS_DROP_ERR]++;
      st[TSN_TXS_LAST_ERRNO] = EINVAL;
      continue;
    }
    int s = (int)(tsn_flow_hash(p->base + off, (size_t)len) % (uint32_t)v->n_tx);
    v->sock_of[k] = (uint8_t)s;
    used |= (uint64_t)1 << s;
  }

  /* Pass 2: per transmit socket, build its messages and send them. */
  v->arena_pos = 0;
  v->iov_n = 0;
  v->tx.n = 0;
  for (int s = 0; s < v->n_tx; s++) {
    if (!(used & ((uint64_t)1 << s))) continue;
    int fd = v->tx_fd[s];
    for (int32_t k = 0; k < count; k++) {
      if (v->sock_of[k] != s) continue;
      int32_t *d = p->desc + (size_t)p->tx_idx[k] * TSN_DESC_STRIDE;
      uint8_t *frame = p->base + d[TSN_D_OFF];
      size_t len = (size_t)d[TSN_D_LEN];
      uint32_t one = dst[k];
      const uint32_t *dsts = one ? &one : peers;
      int ndst = one ? 1 : npeers;
      if (ndst == 0) continue;
      struct tsn_vnet vh;
      tsn_desc_vnet(d, &vh);
      int todo = tsn_tx_offload(d, frame, len, &vh, st);
      if (todo == TSN_TXO_DROPPED) continue;
      if (todo == TSN_TXO_SEGMENT) {
        struct seg_run r = {.v = v, .fd = fd, .vni = vni, .dsts = dsts, .ndst = ndst};
        int rc = segment_direct(&r, frame, len, vh.gso_size);
        if (rc == -ENOTSUP) rc = tsn_gso_segment(frame, len, &vh, p->scratch, TSN_SLOT_SIZE, emit_segment, &r);
        run_close(&r);
        if (rc < 0) {
          st[TSN_TXS_DROP_BAD_GSO]++;
          st[TSN_TXS_LAST_ERRNO] = -rc;
        }
        continue;
      }
      vxlan_write(frame - TSN_VXLAN_HLEN, vni);
      pending_room(v, NULL, fd, 0, 1);
      struct iovec *iov = v->iov + v->iov_n;
      iov_push(v, frame - TSN_VXLAN_HLEN, len + TSN_VXLAN_HLEN);
      for (int i = 0; i < ndst; i++) batch_add(v, fd, iov, 1, dsts[i], 0, 1);
    }
    batch_flush(v, fd);
  }
  return st[TSN_TXS_SENT];
}
