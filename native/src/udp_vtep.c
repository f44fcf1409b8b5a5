/*
 * udp_vtep.c - VXLAN tunnel endpoints (RFC 7348) over UDP sockets: batched receive into the frame pool
 * and batched, zero-copy encapsulated send out of it.
 *
 * A VTEP is one receive socket bound to LOCAL_IP:PORT (4789 by default) and a few transmit sockets
 * bound to LOCAL_IP:ephemeral. The outer UDP source port of a frame is the port of the transmit socket
 * picked by a hash of the inner flow (IP addresses, protocol and ports; MACs for non-IP), as RFC 7348
 * section 5 recommends, so that ECMP in the underlay spreads flows while one flow's frames stay on one
 * path and in order. The kernel builds the outer Ethernet/IPv4/UDP headers; we write the 8-byte VXLAN
 * header and choose socket and destination.
 *
 * Receive, vtepRecvBurst (recvmmsg): each datagram is read so that its VXLAN header fills the 8
 * headroom bytes just before the slot's usual frame offset and the inner frame starts exactly there:
 * decapsulation costs a length check. The sender's address and port are then written into the headroom
 * in front of the VXLAN header (TSN_VTEP_META_*), for remote-MAC learning. With UDP_GRO on, the kernel
 * hands over a peer's UDP_SEGMENT run (or a NIC's GRO batch) as one message, and a kernel VTEP's UDP
 * tunnel GSO packet whole: the datagrams of one TCP flow in sequence are coalesced here into one GSO
 * super-frame (the kernel's TCP GRO rules), so a TAP takes 64 KB in one write instead of 45 — receive
 * is where a userspace VTEP spends its time. Inner checksums a kernel sender left partial are handed
 * on as partial (mark_partial_csum).
 *
 * Send, vtepSendBurst (sendmmsg): the VXLAN header is written into the headroom before the frame (no
 * copy) and one iovec covers header and frame; head-end replication to N peers is N messages sharing
 * that iovec, differing only in msg_name. Partial checksums (NEEDS_CSUM) are completed in place. A GSO
 * super-frame (64 KB of TCP from a TAP) is segmented here (gso.c) into a staging arena, each segment
 * behind its own VXLAN header, all but the last of equal size, and leaves as one message per <= 64 KB
 * run with a UDP_SEGMENT control message: one syscall carries ~45 datagrams and the kernel cuts them
 * (or hands the whole run to the device, which may pass it on uncut: veth does). Rows are grouped by
 * transmit socket, one sendmmsg per socket per burst (more only when the arena or the message array
 * fills).
 *
 * Socket options: IP_MTU_DISCOVER = IP_PMTUDISC_DO on transmit sockets (DF set on every datagram and
 * never fragmented locally: RFC 7348 section 4.3, VTEPs MUST NOT fragment; a datagram over the path
 * MTU fails with EMSGSIZE and is counted), IP_TTL (64 by default), SO_SNDBUF/SO_RCVBUF raised
 * (SO_*BUFFORCE when root). UDP checksums stay on: UDP_SEGMENT requires them, the kernel offloads them,
 * and a receiver must accept them (RFC 7348 allows zero or a valid checksum).
 *
 * Syscalls: socket, setsockopt (incl. UDP_GRO), bind, getsockname, recvmmsg, sendmmsg, close; open/setns via netns.c.
 */
#define _GNU_SOURCE
#include "udp_vtep.h"
#include "errors.h"
#include "gso.h"
#include "layout.h"
#include "netns.h"
#include "pool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TSN_MAX_VTEPS 64
#define TSN_VTEP_MAX_TX 64
#define TSN_VTEP_MAX_MSGS 256          /* messages per sendmmsg (UIO_MAXIOV is 1024) */
#define TSN_VTEP_MAX_RX 256            /* datagrams per recvmmsg */
#define TSN_VTEP_ARENA (2u << 20)      /* staging for segment headers (and segments gso.c cuts) */
#define TSN_VTEP_IOVS 16384            /* iovecs of the pending messages (a run of 64 segments takes 128) */
#define TSN_VTEP_GSO_MAX_BYTES 65507u  /* UDP payload limit of one UDP_SEGMENT message: 65535 - IPv4 - UDP */
#define TSN_VTEP_GSO_MAX_SEGS 64       /* UDP_MAX_SEGMENTS of older kernels (128 since 5.19) */
#define TSN_VTEP_SOCKBUF (4 << 20)
#define VXLAN_FLAG_I 0x08

typedef struct {
  struct mmsghdr msgs[TSN_VTEP_MAX_MSGS];
  struct sockaddr_in names[TSN_VTEP_MAX_MSGS];
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
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } rctrl[TSN_VTEP_MAX_RX];
  int gro; /* UDP_GRO is on: a message may hold many datagrams */
} tsn_vtep;

static tsn_vtep *vteps[TSN_MAX_VTEPS];

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* The VXLAN header (RFC 7348 section 5): flags with I set, 24 reserved bits, VNI, 8 reserved bits. */
static inline void vxlan_write(uint8_t *p, uint32_t vni) {
  wr32(p, (uint32_t)VXLAN_FLAG_I << 24);
  wr32(p + 4, (vni & 0xffffffu) << 8);
}

static inline uint32_t mix32(uint32_t h) { /* murmur3's finalizer */
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/*
 * flow_hash() - Hash of the inner flow: IPv4/IPv6 addresses, protocol and TCP/UDP/SCTP ports (not for
 * IPv4 fragments), else the MAC addresses. One 802.1Q tag is skipped. No syscalls.
 */
static uint32_t flow_hash(const uint8_t *f, size_t len) {
  uint32_t h = 0x9e3779b9u;
  size_t l3 = 14;
  if (len < 14) return h;
  uint16_t et = rd16(f + 12);
  if ((et == 0x8100 || et == 0x88a8) && len >= 18) {
    et = rd16(f + 16);
    l3 = 18;
  }
  if (et == 0x0800 && len >= l3 + 20) {
    const uint8_t *ip = f + l3;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    uint8_t proto = ip[9];
    h = mix32(h ^ rd32(ip + 12)) ^ rd32(ip + 16);
    h = mix32(h ^ proto);
    int frag = (rd16(ip + 6) & 0x3fff) != 0;
    if (!frag && (proto == 6 || proto == 17 || proto == 132) && ihl >= 20 && len >= l3 + ihl + 4) h ^= rd32(ip + ihl);
    return mix32(h);
  }
  if (et == 0x86dd && len >= l3 + 40) {
    const uint8_t *ip = f + l3;
    for (int i = 8; i < 40; i += 4) h = mix32(h ^ rd32(ip + i));
    uint8_t nh = ip[6];
    h = mix32(h ^ nh);
    if ((nh == 6 || nh == 17 || nh == 132) && len >= l3 + 44) h ^= rd32(ip + 40);
    return mix32(h);
  }
  h = mix32(h ^ rd32(f)) ^ rd32(f + 4);
  h = mix32(h ^ rd32(f + 8));
  return mix32(h ^ et);
}

/*
 * mark_partial_csum() - Hand on an inner TCP/UDP checksum the sender left partial, as partial
 * @f:		Inner frame
 * @len:	Its length
 * @d:		Its descriptor row: virtio-net fields set to NEEDS_CSUM when the checksum is partial
 *
 * A kernel VTEP sending through a veth (or any device with checksum offload and no NIC behind it)
 * leaves the inner checksum CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum and nobody
 * ever completes it, because the kernel's own receiver keeps trusting the skb's metadata. A userspace
 * receiver gets only the bytes. So a TCP or UDP checksum field equal to that signature is marked
 * NEEDS_CSUM (csum_start/offset of the L4 checksum), exactly the trust the kernel's vxlan gives it: a
 * TAP with offloads takes it as is, any other egress completes it (burst.c, this file's send path).
 * Completing a checksum that was in fact complete yields the same value, so a coincidence is harmless.
 * IPv4 (not fragments) and IPv6 without extension headers, behind at most one VLAN tag. No syscalls.
 */
static void mark_partial_csum(const uint8_t *f, size_t len, int32_t *d) {
  size_t l3 = 14;
  if (len < 14 + 20) return;
  uint16_t et = rd16(f + 12);
  if ((et == 0x8100 || et == 0x88a8) && len >= 18 + 20) {
    et = rd16(f + 16);
    l3 = 18;
  }
  uint8_t proto;
  size_t l4, l4len;
  uint64_t sum;
  if (et == 0x0800) {
    const uint8_t *ip = f + l3;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || l3 + tot > len || (rd16(ip + 6) & 0x3fff)) return;
    proto = ip[9];
    l4 = l3 + ihl;
    l4len = tot - ihl;
    sum = tsn_csum_partial(ip + 12, 8, 0);
  } else if (et == 0x86dd && len >= l3 + 40) {
    const uint8_t *ip = f + l3;
    proto = ip[6];
    l4 = l3 + 40;
    l4len = rd16(ip + 4);
    if (l4 + l4len > len) return;
    sum = tsn_csum_partial(ip + 8, 32, 0);
  } else {
    return;
  }
  size_t off;
  if (proto == 6 && l4len >= 20) off = 16;
  else if (proto == 17 && l4len >= 8) off = 6;
  else return;
  uint8_t field[2];
  memcpy(field, f + l4 + off, 2);
  if (proto == 17 && field[0] == 0 && field[1] == 0) return; /* UDP without a checksum */
  uint8_t tail[4] = {0, proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};
  uint16_t folded = tsn_csum_fold(tsn_csum_partial(tail, 4, sum));
  uint16_t stored;
  memcpy(&stored, field, 2);
  if (stored != folded) return;
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_CSUM_START] = (int32_t)l4;
  d[TSN_D_CSUM_OFF] = (int32_t)off;
}

static tsn_vtep *vtep_get(napi_env env, napi_value v) {
  int32_t h;
  if (napi_get_value_int32(env, v, &h) != napi_ok || h < 0 || h >= TSN_MAX_VTEPS || !vteps[h]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not an open VTEP handle");
    return NULL;
  }
  return vteps[h];
}

static int get_i32(napi_env env, napi_value v, int32_t *out) { return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1; }

/*
 * sock_setup() - Make one UDP socket bound to @local:@port with the VTEP's options
 * @local:	Address to bind (network order)
 * @port:	Port to bind (host order), 0 for an ephemeral one
 * @tx:		A transmit socket: DF (IP_PMTUDISC_DO), @ttl, large send buffer, tiny receive buffer
 * @ttl:	Outer TTL for transmit sockets
 * @bound:	Set to the bound port (host order)
 * @sys:	Set to the failing syscall's name on error
 *
 * Return: the descriptor (non-blocking, close-on-exec), or -errno with nothing left open
 * Syscalls: socket, setsockopt(SO_SNDBUFFORCE/SO_SNDBUF, SO_RCVBUFFORCE/SO_RCVBUF,
 *           IP_MTU_DISCOVER, IP_TTL), bind, getsockname, close
 */
static int sock_setup(uint32_t local, uint16_t port, bool tx, int ttl, uint16_t *bound, const char **sys) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *sys = "socket";
    return -errno;
  }
  int buf = TSN_VTEP_SOCKBUF;
  if (tx) {
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    int small = 1; /* nothing should arrive on a transmit socket's port; keep nothing if it does */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    int pmtu = IP_PMTUDISC_DO;
    *sys = "setsockopt";
    if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0) goto fail;
    if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0) goto fail;
  } else {
    /* No SO_REUSEADDR: for UDP it would let a second VTEP bind the same port and split the traffic. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {.s_addr = local}};
  *sys = "bind";
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
  socklen_t sl = sizeof sa;
  *sys = "getsockname";
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) goto fail;
  *bound = ntohs(sa.sin_port);
  return fd;
fail:;
  int e = errno;
  close(fd);
  return -e;
}

static void vtep_free(tsn_vtep *v) {
  if (!v) return;
  if (v->rx_fd >= 0) close(v->rx_fd);
  for (int i = 0; i < v->n_tx; i++)
    if (v->tx_fd[i] >= 0) close(v->tx_fd[i]);
  free(v->arena);
  free(v->iov);
  free(v->sock_of);
  free(v);
}

static int get_opt_int(napi_env env, napi_value obj, const char *key, int dflt, int lo, int hi, int *out) {
  bool has = false;
  napi_value val;
  napi_valuetype t;
  *out = dflt;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, &val);
  napi_typeof(env, val, &t);
  if (t == napi_undefined) return 0;
  int32_t v;
  if (t != napi_number || napi_get_value_int32(env, val, &v) != napi_ok || v < lo || v > hi) {
    char msg[128];
    snprintf(msg, sizeof msg, "vtepOpen: opts.%s must be an integer from %d to %d", key, lo, hi);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return -1;
  }
  *out = v;
  return 0;
}

/*
 * vtepOpen(localIp: string, port: number, status: Int32Array(TSN_VST_COUNT),
 *          opts?: { txSockets?: 1..64 = 8, ttl?: 1..255 = 64, netns?: string })
 *   -> { handle, fd, port, txPorts: number[] }
 * Binds the receive socket to localIp:port (port 0: an ephemeral one, for tests) and opts.txSockets
 * transmit sockets to localIp:ephemeral, inside opts.netns if given. fd is the receive socket, for the
 * readiness poll. A busy port throws EADDRINUSE, an address we do not have EADDRNOTAVAIL, naming them.
 * Syscalls: socket, setsockopt, bind, getsockname, close (on failure); open/setns/close with netns.
 */
static napi_value vtep_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ip[64] = {0};
  size_t iplen = 0;
  int32_t port;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &iplen) != napi_ok || get_i32(env, argv[1], &port) || port < 0 || port > 65535) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepOpen(localIp: string, port: 0..65535, status: Int32Array, opts?)");
    return NULL;
  }
  struct in_addr local;
  if (inet_pton(AF_INET, ip, &local) != 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "vtepOpen: local address \"%s\" is not an IPv4 address", ip);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  napi_typedarray_type st;
  size_t stlen;
  void *stdata;
  if (napi_get_typedarray_info(env, argv[2], &st, &stlen, &stdata, NULL, NULL) != napi_ok || st != napi_int32_array || stlen < TSN_VST_COUNT) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "vtepOpen: status must be an Int32Array of at least 12 entries (TSN_VST_COUNT)");
    return NULL;
  }
  int ntx = 8, ttl = 64;
  char netns[PATH_MAX] = "";
  if (argc >= 4) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t == napi_object) {
      if (get_opt_int(env, argv[3], "txSockets", 8, 1, TSN_VTEP_MAX_TX, &ntx) || get_opt_int(env, argv[3], "ttl", 64, 1, 255, &ttl)) return NULL;
      napi_value jns;
      TSN_CALL(env, napi_get_named_property(env, argv[3], "netns", &jns));
      if (!tsn_netns_path_arg(env, jns, "vtepOpen: opts.netns", netns, sizeof netns)) return NULL;
    }
  }
  int h = -1;
  for (int i = 0; i < TSN_MAX_VTEPS; i++)
    if (!vteps[i]) {
      h = i;
      break;
    }
  if (h < 0) {
    tsn_throw_code(env, "ERR_OUT_OF_RANGE", "vtepOpen: too many VTEPs open");
    return NULL;
  }
  tsn_vtep *v = calloc(1, sizeof *v);
  if (!v || !(v->arena = malloc(TSN_VTEP_ARENA)) || !(v->iov = malloc(sizeof(struct iovec) * TSN_VTEP_IOVS))) {
    if (v) free(v->arena);
    free(v);
    tsn_throw_code(env, "ENOMEM", "vtepOpen: out of memory");
    return NULL;
  }
  v->rx_fd = -1;
  for (int i = 0; i < TSN_VTEP_MAX_TX; i++) v->tx_fd[i] = -1;

  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) {
    vtep_free(v);
    return NULL;
  }
  const char *sys = NULL;
  int err = 0;
  uint16_t bound = 0;
  int fd = sock_setup(local.s_addr, (uint16_t)port, false, ttl, &bound, &sys);
  if (fd < 0) err = -fd;
  else {
    v->rx_fd = fd;
    v->port = bound;
    int on = 1; /* best effort: without it (old kernels) every datagram arrives on its own */
    v->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    for (int i = 0; i < ntx; i++) {
      fd = sock_setup(local.s_addr, 0, true, ttl, &v->tx_port[i], &sys);
      if (fd < 0) {
        err = -fd;
        break;
      }
      v->tx_fd[i] = fd;
      v->n_tx = i + 1;
    }
  }
  tsn_netns_leave_js(saved);
  if (err) {
    char what[PATH_MAX + 96];
    snprintf(what, sizeof what, "%s:%d%s%s", ip, port, netns[0] ? " in netns " : "", netns);
    vtep_free(v);
    tsn_throw_errno(env, sys, what, err);
    return NULL;
  }
  v->status = stdata;
  napi_create_reference(env, argv[2], 1, &v->status_ref);
  v->used = 1;
  vteps[h] = v;

  napi_value res, jh, jfd, jport, jtx;
  TSN_CALL(env, napi_create_object(env, &res));
  TSN_CALL(env, napi_create_int32(env, h, &jh));
  TSN_CALL(env, napi_create_int32(env, v->rx_fd, &jfd));
  TSN_CALL(env, napi_create_int32(env, v->port, &jport));
  TSN_CALL(env, napi_create_array_with_length(env, (size_t)v->n_tx, &jtx));
  for (int i = 0; i < v->n_tx; i++) {
    napi_value p;
    napi_create_int32(env, v->tx_port[i], &p);
    napi_set_element(env, jtx, (uint32_t)i, p);
  }
  napi_set_named_property(env, res, "handle", jh);
  napi_set_named_property(env, res, "fd", jfd);
  napi_set_named_property(env, res, "port", jport);
  napi_set_named_property(env, res, "txPorts", jtx);
  return res;
}

/* vtepClose(handle): close every socket of the VTEP; the handle may be reused. Syscall: close. */
static napi_value vtep_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t h;
  if (argc < 1 || get_i32(env, argv[0], &h) || h < 0 || h >= TSN_MAX_VTEPS || !vteps[h]) return NULL;
  tsn_vtep *v = vteps[h];
  vteps[h] = NULL;
  napi_delete_reference(env, v->status_ref);
  vtep_free(v);
  return NULL;
}

/* Receive-side state of one vtepRecvBurst call. */
struct rx_state {
  tsn_pool *p;
  int32_t *status;   /* the VTEP's status vector (receive counters) */
  int32_t first;     /* first slot (and descriptor row) of the burst */
  int32_t nrow;      /* frames (descriptor rows) written so far, in arrival order */
  int32_t spare;     /* next free slot for extra frames of a coalesced message */
  int32_t end;       /* one past the last slot the burst may use */
  uint32_t src_ip;   /* sender of the current message, host order */
  uint16_t src_port;
};

static inline uint8_t *slot_frame(tsn_pool *p, int32_t slot) { return p->base + (size_t)slot * TSN_SLOT_SIZE + TSN_HEADROOM; }

/* Describe the next frame (in arrival order): @frame in @slot, @len bytes, no virtio-net fields; write the sender in front. */
static int32_t *rx_row(struct rx_state *s, int32_t slot, uint8_t *frame, int32_t len) {
  int32_t *d = s->p->desc + (size_t)(s->first + s->nrow++) * TSN_DESC_STRIDE;
  d[TSN_D_OFF] = (int32_t)(frame - s->p->base);
  d[TSN_D_LEN] = len;
  d[TSN_D_SLOT] = slot;
  d[TSN_D_OUT] = -1;
  d[TSN_D_VFLAGS] = d[TSN_D_GSO_TYPE] = d[TSN_D_HDR_LEN] = d[TSN_D_GSO_SIZE] = d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
  wr32(frame - TSN_VTEP_META_SRC_IP, s->src_ip);
  wr16(frame - TSN_VTEP_META_SRC_PORT, s->src_port);
  return d;
}

/* A plain inner frame: describe it, hand on a partial checksum as partial. */
static void rx_single(struct rx_state *s, int32_t slot, uint8_t *frame, int32_t len) {
  int32_t *d = rx_row(s, slot, frame, len);
  if (len > 0) mark_partial_csum(frame, (size_t)len, d);
}

/* Where an inner TCP frame's headers are (parsed once per run). */
struct tcp_hdrs {
  size_t l3, l4, hdrs; /* IP header, TCP header, payload offsets */
  int v6;
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_URG 0x20
#define TCP_CWR 0x80

/* Parse an inner frame as IPv4/IPv6 + TCP whose IP length matches @len exactly; 0 if it is one. */
static int tcp_parse(const uint8_t *f, size_t len, struct tcp_hdrs *h) {
  size_t l3 = 14;
  if (len < 14 + 40) return -1;
  uint16_t et = rd16(f + 12);
  if ((et == 0x8100 || et == 0x88a8) && len >= 18 + 40) {
    et = rd16(f + 16);
    l3 = 18;
  }
  if (et == 0x0800) {
    const uint8_t *ip = f + l3;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || (rd16(ip + 6) & 0x3fff) || l3 + rd16(ip + 2) != len) return -1;
    h->l4 = l3 + ihl;
    h->v6 = 0;
  } else if (et == 0x86dd) {
    const uint8_t *ip = f + l3;
    if ((ip[0] >> 4) != 6 || ip[6] != 6 || l3 + 40 + rd16(ip + 4) != len) return -1;
    h->l4 = l3 + 40;
    h->v6 = 1;
  } else {
    return -1;
  }
  if (len < h->l4 + 20) return -1;
  size_t thl = (size_t)(f[h->l4 + 12] >> 4) * 4;
  if (thl < 20 || len < h->l4 + thl) return -1;
  h->l3 = l3;
  h->hdrs = h->l4 + thl;
  return 0;
}

/* Store the TCP checksum field as partial (folded pseudo-header sum for @l4len bytes), as a TSO stack leaves it. */
static void tcp_partial_csum(uint8_t *f, const struct tcp_hdrs *h, size_t l4len) {
  const uint8_t *ip = f + h->l3;
  uint64_t sum = h->v6 ? tsn_csum_partial(ip + 8, 32, 0) : tsn_csum_partial(ip + 12, 8, 0);
  uint8_t tail[4] = {0, 6, (uint8_t)(l4len >> 8), (uint8_t)l4len};
  uint16_t folded = tsn_csum_fold(tsn_csum_partial(tail, 4, sum));
  memcpy(f + h->l4 + 16, &folded, 2);
}

/* A run of chunks of one GRO message being coalesced into one TCP super-frame at @dst. */
struct gro_run {
  int active;
  int32_t slot;
  uint8_t *dst;   /* the frame being built; its VXLAN header is at dst - 8 */
  size_t len;     /* bytes of it so far */
  struct tcp_hdrs h;
  size_t mss;     /* payload of the first chunk: every chunk but the last carries exactly this */
  uint32_t next_seq;
  int chunks;
};

/* Close a run: fix lengths and checksums and describe it (a GSO super-frame if more than one chunk). */
static void run_finish(struct rx_state *s, struct gro_run *r) {
  if (!r->active) return;
  r->active = 0;
  if (r->chunks == 1) {
    rx_single(s, r->slot, r->dst, (int32_t)r->len);
    return;
  }
  uint8_t *f = r->dst, *ip = f + r->h.l3;
  if (r->h.v6) {
    wr16(ip + 4, (uint16_t)(r->len - r->h.l3 - 40));
  } else {
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    wr16(ip + 2, (uint16_t)(r->len - r->h.l3));
    ip[10] = ip[11] = 0;
    uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(ip, ihl, 0));
    memcpy(ip + 10, &c, 2);
  }
  tcp_partial_csum(f, &r->h, r->len - r->h.l4);
  int32_t *d = rx_row(s, r->slot, f, (int32_t)r->len);
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_GSO_TYPE] = r->h.v6 ? TSN_GSO_TCPV6 : TSN_GSO_TCPV4;
  d[TSN_D_GSO_SIZE] = (int32_t)r->mss;
  d[TSN_D_HDR_LEN] = (int32_t)r->h.hdrs;
  d[TSN_D_CSUM_START] = (int32_t)r->h.l4;
  d[TSN_D_CSUM_OFF] = 16;
  s->status[TSN_VST_RX_SUPERFRAMES]++;
}

/*
 * Can chunk @f (inner frame of @len bytes, VXLAN header at f - 8) continue run @r? The rules of the
 * kernel's TCP GRO (tcp_gro_receive): same VXLAN header, same Ethernet and IP headers but for the
 * length/id/checksum, same ports, ack, window and options, the next sequence number, no SYN, RST, URG
 * or CWR, payload no larger than the first chunk's.
 */
static int run_accepts(const struct gro_run *r, const uint8_t *f, size_t len) {
  const struct tcp_hdrs *h = &r->h;
  const uint8_t *g = r->dst;
  if (len <= h->hdrs || len - h->hdrs > r->mss || r->len + (len - h->hdrs) > 65535 + h->l3) return 0;
  if (memcmp(f - TSN_VXLAN_HLEN, g - TSN_VXLAN_HLEN, TSN_VXLAN_HLEN) || memcmp(f, g, h->l3)) return 0;
  const uint8_t *ip = f + h->l3, *gip = g + h->l3;
  if (h->v6) {
    if (memcmp(ip, gip, 4) || ip[6] != gip[6] || ip[7] != gip[7] || memcmp(ip + 8, gip + 8, 32) || h->l3 + 40 + rd16(ip + 4) != len) return 0;
  } else {
    size_t ihl = (size_t)(gip[0] & 0x0f) * 4;
    if (ip[0] != gip[0] || ip[1] != gip[1] || rd16(ip + 6) != rd16(gip + 6) || ip[8] != gip[8] || ip[9] != gip[9] || memcmp(ip + 12, gip + 12, ihl - 12) ||
        h->l3 + rd16(ip + 2) != len)
      return 0;
  }
  const uint8_t *th = f + h->l4, *gth = g + h->l4;
  size_t thl = h->hdrs - h->l4;
  uint8_t flags = th[13];
  if (memcmp(th, gth, 4) || rd32(th + 4) != r->next_seq || memcmp(th + 8, gth + 8, 4) || th[12] != gth[12] || (flags & (TCP_SYN | TCP_RST | TCP_URG | TCP_CWR)) ||
      (flags & ~(TCP_FIN | TCP_PSH)) != (gth[13] & ~(TCP_FIN | TCP_PSH | TCP_CWR)) || memcmp(th + 14, gth + 14, 2) || memcmp(th + 20, gth + 20, thl - 20))
    return 0;
  return 1;
}

/* Take a free slot for an extra frame of a coalesced message, or -1 (then the frame is dropped and counted). */
static int32_t spare_slot(struct rx_state *s) {
  if (s->spare >= s->end) {
    s->status[TSN_VST_RX_NO_SLOT]++;
    return -1;
  }
  return s->spare++;
}

/*
 * rx_chunks() - Split a UDP GRO message into its datagrams and coalesce TCP runs into super-frames
 * @slot:	The slot the message landed in (its first datagram's inner frame at the usual offset)
 * @base:	The message's first byte (a VXLAN header)
 * @total:	Message length
 * @seg:	Datagram size (the UDP_GRO cmsg): every datagram but the last has exactly this many bytes
 *
 * Datagrams of one TCP flow in sequence, as a tsnet-switch peer's UDP_SEGMENT sends them, become one
 * GSO super-frame built in place in the message's slot (payloads moved left over the repeated
 * headers), handed on whole; anything else is one frame per datagram, in spare slots of the burst.
 * A super-frame goes on with a partial checksum (NEEDS_CSUM), so the receiving stack does not verify
 * the datagrams' inner checksums one by one: their integrity rests on the outer UDP checksum, which
 * the kernel verified before queueing them (a tsnet-switch sender always sets it: UDP_SEGMENT
 * requires it). This is the trust the kernel's own GRO places in CHECKSUM_COMPLETE. No syscalls.
 */
static void rx_chunks(struct rx_state *s, int32_t slot, uint8_t *base, size_t total, size_t seg) {
  struct gro_run r = {0};
  for (size_t off = 0; off < total; off += seg) {
    size_t clen = total - off < seg ? total - off : seg;
    uint8_t *p = base + off, *f = p + TSN_VXLAN_HLEN;
    size_t flen = clen >= TSN_VXLAN_HLEN ? clen - TSN_VXLAN_HLEN : 0;
    s->status[TSN_VST_RX_GRO_DGRAMS]++;
    if (r.active && run_accepts(&r, f, flen)) {
      size_t plen = flen - r.h.hdrs;
      uint8_t fl = f[r.h.l4 + 13]; /* before the move: the payload lands over this datagram's own headers */
      memmove(r.dst + r.len, f + r.h.hdrs, plen);
      r.len += plen;
      r.next_seq += (uint32_t)plen;
      r.chunks++;
      if (fl & (TCP_FIN | TCP_PSH)) r.dst[r.h.l4 + 13] |= fl & (TCP_FIN | TCP_PSH);
      if (plen < r.mss || (fl & (TCP_FIN | TCP_PSH))) run_finish(s, &r);
      continue;
    }
    run_finish(s, &r);
    /* This datagram starts a frame: in place if it is the message's first, else in a spare slot. */
    int32_t fslot = slot;
    uint8_t *frame = f;
    if (off > 0) {
      fslot = spare_slot(s);
      if (fslot < 0) continue;
      frame = slot_frame(s->p, fslot);
      memcpy(frame - TSN_VXLAN_HLEN, p, clen);
    }
    if (clen < TSN_VXLAN_HLEN + 14) {
      rx_row(s, fslot, frame, (int32_t)clen - TSN_VXLAN_HLEN); /* the decap stage counts it truncated */
      continue;
    }
    struct tcp_hdrs h;
    uint8_t fl = 0;
    if (tcp_parse(frame, flen, &h) == 0) fl = frame[h.l4 + 13];
    if (tcp_parse(frame, flen, &h) != 0 || flen <= h.hdrs || (fl & (TCP_SYN | TCP_RST | TCP_URG | TCP_CWR | TCP_FIN | TCP_PSH))) {
      rx_single(s, fslot, frame, (int32_t)flen);
      continue;
    }
    r.active = 1;
    r.slot = fslot;
    r.dst = frame;
    r.len = flen;
    r.h = h;
    r.mss = flen - h.hdrs;
    r.next_seq = rd32(frame + h.l4 + 4) + (uint32_t)r.mss;
    r.chunks = 1;
  }
  run_finish(s, &r);
}

/*
 * rx_tunnel_gso() - A kernel VTEP's UDP tunnel GSO packet: one VXLAN header, one inner TCP super-frame
 * @seg:	Its gso_size (the UDP_GRO cmsg): the inner MSS
 *
 * Over a veth (or any path that keeps GSO packets whole) a kernel VXLAN sender's 64 KB packet reaches
 * our socket unsegmented. It is handed on as the GSO super-frame it is. Returns 0 if that is what the
 * message is. No syscalls.
 */
static int rx_tunnel_gso(struct rx_state *s, int32_t slot, uint8_t *frame, size_t len, size_t seg) {
  struct tcp_hdrs h;
  if (tcp_parse(frame, len, &h) != 0 || len - h.hdrs <= seg) return -1;
  int32_t *d = rx_row(s, slot, frame, (int32_t)len);
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_GSO_TYPE] = h.v6 ? TSN_GSO_TCPV6 : TSN_GSO_TCPV4;
  d[TSN_D_GSO_SIZE] = (int32_t)seg;
  d[TSN_D_HDR_LEN] = (int32_t)h.hdrs;
  d[TSN_D_CSUM_START] = (int32_t)h.l4;
  d[TSN_D_CSUM_OFF] = 16;
  s->status[TSN_VST_RX_TUNNEL_GSO]++;
  return 0;
}

/*
 * rx_message() - Describe one received message that landed in @slot (VXLAN header just before the
 * slot's usual frame offset): a single datagram (@seg 0, or not larger than @seg), a kernel VTEP's
 * tunnel GSO packet, or a UDP GRO run of datagrams of @seg bytes each. No syscalls.
 */
static void rx_message(struct rx_state *s, int32_t slot, size_t total, int seg) {
  uint8_t *frame = slot_frame(s->p, slot);
  if (seg <= 0 || total <= (size_t)seg) {
    rx_single(s, slot, frame, (int32_t)total - TSN_VXLAN_HLEN);
    return;
  }
  if (total > TSN_VXLAN_HLEN && rx_tunnel_gso(s, slot, frame, total - TSN_VXLAN_HLEN, (size_t)seg) == 0) return;
  rx_chunks(s, slot, frame - TSN_VXLAN_HLEN, total, (size_t)seg);
}

/*
 * vtepRxInject(pool, status: Int32Array, firstSlot, max, message: Uint8Array, seg, srcIp, srcPort) -> count
 * What vtepRecvBurst does with one received message, for a message that did not come from a socket:
 * the emulator's in-memory underlay and the tests. `message` is the UDP payload (VXLAN header + inner
 * frame, or a UDP GRO run of `seg`-byte datagrams when seg > 0); it is copied into slot firstSlot and
 * described in rows firstSlot.., spare slots up to firstSlot + max. No syscalls.
 */
static napi_value vtep_rx_inject(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  int32_t first, max, seg, src_ip, src_port;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  napi_typedarray_type t1, t2;
  size_t stlen, mlen;
  void *stdata, *mdata;
  if (argc < 8 || napi_get_typedarray_info(env, argv[1], &t1, &stlen, &stdata, NULL, NULL) != napi_ok || t1 != napi_int32_array || stlen < TSN_VST_COUNT ||
      get_i32(env, argv[2], &first) || get_i32(env, argv[3], &max) || napi_get_typedarray_info(env, argv[4], &t2, &mlen, &mdata, NULL, NULL) != napi_ok ||
      t2 != napi_uint8_array || get_i32(env, argv[5], &seg) || get_i32(env, argv[6], &src_ip) || get_i32(env, argv[7], &src_port) || first < 0 || max < 1 ||
      (uint32_t)first + (uint32_t)max > p->slots || mlen > TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepRxInject(pool, status, firstSlot, max >= 1, message: Uint8Array (at most a slot), seg, srcIp, srcPort): out of range");
    return NULL;
  }
  memcpy(slot_frame(p, first) - TSN_VXLAN_HLEN, mdata, mlen);
  struct rx_state s = {.p = p, .status = stdata, .first = first, .nrow = 0, .spare = first + 1, .end = first + max, .src_ip = (uint32_t)src_ip, .src_port = (uint16_t)src_port};
  rx_message(&s, first, mlen, seg);
  napi_value res;
  napi_create_int32(env, s.nrow, &res);
  return res;
}

/*
 * vtepRecvBurst(pool, vtep, firstSlot, max) -> count
 * Receives into slots firstSlot .. firstSlot + max and describes the frames in descriptor rows
 * firstSlot .. firstSlot + count, in arrival order: D_OFF at a slot's usual frame offset, D_SLOT the
 * slot, D_LEN = datagram length - 8 (negative for a datagram too short to hold a VXLAN header). The
 * VXLAN header is in the 8 bytes before each frame, the sender's IPv4 address and port before that
 * (TSN_VTEP_META_*). Virtio-net fields: NEEDS_CSUM for an inner checksum the sender left partial
 * (mark_partial_csum); GSO TCP with NEEDS_CSUM for a super-frame, either one a kernel VTEP sent whole
 * (UDP tunnel GSO) or one coalesced here from the datagrams of a UDP GRO message (rx_chunks).
 * With UDP_GRO on, a message can hold up to 64 datagrams, so at most a quarter of `max` messages are
 * read and the rest of the slots are spares for datagrams that cannot join a super-frame. Stops at
 * EAGAIN; another error with nothing received is thrown with its errno name.
 * Syscall: recvmmsg.
 */
static napi_value vtep_recv_burst(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t first, max;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  tsn_vtep *v = vtep_get(env, argv[1]);
  if (!v) return NULL;
  if (argc < 4 || get_i32(env, argv[2], &first) || get_i32(env, argv[3], &max) || first < 0 || max < 0 || (uint32_t)first + (uint32_t)max > p->slots) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepRecvBurst(pool, vtep, firstSlot, max): slots out of range");
    return NULL;
  }
  int32_t vlen = v->gro ? (max >= 4 ? max / 4 : (max > 0 ? 1 : 0)) : max;
  if (vlen > TSN_VTEP_MAX_RX) vlen = TSN_VTEP_MAX_RX;
  for (int32_t i = 0; i < vlen; i++) {
    uint8_t *frame = slot_frame(p, first + i);
    v->riovs[i].iov_base = frame - TSN_VXLAN_HLEN;
    v->riovs[i].iov_len = TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN;
    struct msghdr *m = &v->rmsgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &v->rnames[i];
    m->msg_namelen = sizeof v->rnames[i];
    m->msg_iov = &v->riovs[i];
    m->msg_iovlen = 1;
    m->msg_control = v->rctrl[i].buf;
    m->msg_controllen = sizeof v->rctrl[i].buf;
  }
  int n;
  do n = vlen > 0 ? recvmmsg(v->rx_fd, v->rmsgs, (unsigned)vlen, MSG_DONTWAIT, NULL) : 0;
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) n = 0;
    else {
      tsn_throw_errno(env, "recvmmsg", NULL, errno);
      return NULL;
    }
  }
  struct rx_state s = {.p = p, .status = v->status, .first = first, .nrow = 0, .spare = first + n, .end = first + max};
  for (int i = 0; i < n; i++) {
    s.src_ip = ntohl(v->rnames[i].sin_addr.s_addr);
    s.src_port = ntohs(v->rnames[i].sin_port);
    int seg = 0;
    struct msghdr *m = &v->rmsgs[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&seg, CMSG_DATA(c), sizeof seg);
    rx_message(&s, first + i, v->rmsgs[i].msg_len, seg);
  }
  napi_value res;
  napi_create_int32(env, s.nrow, &res);
  return res;
}

/*
 * batch_flush() - Send the pending messages of @v with sendmmsg on @fd and count the outcome
 *
 * A message that fails is dropped and counted by errno (all the datagrams it stands for); the rest of
 * the batch still goes. EAGAIN/ENOBUFS drop the remainder at once (the socket buffer is full; retrying
 * message by message would only spin).
 * Syscall: sendmmsg.
 */
static void batch_flush(tsn_vtep *v, int fd) {
  msg_batch *b = &v->tx;
  int32_t *st = v->status;
  int i = 0;
  while (i < b->n) {
    int r = sendmmsg(fd, b->msgs + i, (unsigned)(b->n - i), 0);
    st[TSN_VST_SYSCALLS]++;
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      st[TSN_VST_LAST_ERRNO] = e;
      if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
        for (; i < b->n; i++) st[TSN_VST_DROP_FULL] += b->dgrams[i];
        break;
      }
      st[e == EMSGSIZE ? TSN_VST_DROP_TOO_BIG : TSN_VST_DROP_ERR] += b->dgrams[i];
      i++;
      continue;
    }
    for (int k = 0; k < r; k++) st[TSN_VST_DGRAMS] += b->dgrams[i + k];
    i += r;
  }
  b->n = 0;
}

/*
 * Queue one message to @dst:port gathering @iovcnt iovecs at @iov (pending iovecs, arena and pool bytes
 * stay valid until the batch is flushed); @seg > 0 asks the kernel to cut it into @seg-byte datagrams.
 */
static void batch_add(tsn_vtep *v, int fd, struct iovec *iov, size_t iovcnt, uint32_t dst, uint16_t seg, uint16_t dgrams) {
  msg_batch *b = &v->tx;
  if (b->n == TSN_VTEP_MAX_MSGS) batch_flush(v, fd);
  int i = b->n++;
  b->names[i].sin_family = AF_INET;
  b->names[i].sin_port = htons(v->port);
  b->names[i].sin_addr.s_addr = htonl(dst);
  struct msghdr *m = &b->msgs[i].msg_hdr;
  m->msg_name = &b->names[i];
  m->msg_namelen = sizeof b->names[i];
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
  v->status[TSN_VST_SEGMENTS]++;
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
  struct tcp_hdrs h;
  if (tcp_parse(frame, len, &h) != 0) return -ENOTSUP;
  if (mss == 0) return -EINVAL;
  size_t hdrs = h.hdrs, thl = hdrs - h.l4, paylen = len - hdrs, ipfix = h.v6 ? h.l4 - h.l3 - 40 : h.l4 - h.l3;
  if (TSN_VXLAN_HLEN + hdrs + mss > TSN_VTEP_GSO_MAX_BYTES && paylen > 0) return -EMSGSIZE;
  int nsegs = paylen ? (int)((paylen + mss - 1) / mss) : 1;
  uint64_t pseudo = h.v6 ? tsn_csum_partial(frame + h.l3 + 8, 32, 0) : tsn_csum_partial(frame + h.l3 + 12, 8, 0);
  uint16_t id = h.v6 ? 0 : rd16(frame + h.l3 + 4);
  uint32_t seq = rd32(frame + h.l4 + 4);
  uint8_t flags = frame[h.l4 + 13];
  for (int i = 0; i < nsegs; i++) {
    size_t off = hdrs + (size_t)i * mss, n = len - off < mss ? len - off : mss, l4len = thl + n;
    uint8_t *a = run_next(r, TSN_VXLAN_HLEN + hdrs + n, TSN_VXLAN_HLEN + hdrs, n ? 2 : 1);
    if (!a) return -EMSGSIZE;
    vxlan_write(a, r->vni);
    uint8_t *f = a + TSN_VXLAN_HLEN, *ip = f + h.l3, *th = f + h.l4;
    memcpy(f, frame, hdrs);
    if (h.v6) {
      wr16(ip + 4, (uint16_t)(ipfix + l4len));
    } else {
      wr16(ip + 2, (uint16_t)(ipfix + l4len));
      wr16(ip + 4, (uint16_t)(id + i));
      ip[10] = ip[11] = 0;
      uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(ip, ipfix, 0));
      memcpy(ip + 10, &c, 2);
    }
    uint8_t fl = flags;
    if (i > 0) fl &= (uint8_t)~TCP_CWR;
    if (i < nsegs - 1) fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
    wr32(th + 4, seq + (uint32_t)((size_t)i * mss));
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
 * vtepSendBurst(pool, vtep, vni, count, dst: Int32Array, peers: Int32Array, peerCount) -> datagrams
 * Encapsulates the frames whose descriptor rows stand in the pool's txIdx[0 .. count) with VNI vni and
 * sends each to dst[k] (an IPv4 address as a 32-bit integer), or, for dst[k] == 0, to every one of
 * peers[0 .. peerCount) (head-end replication). The destination port is the VTEP's own port.
 * GSO frames are segmented, partial checksums completed (the descriptor then says DATA_VALID, as
 * txBurst does). Outcomes are in the VTEP's status vector, reset at the start of the call; the return
 * value is the number of datagrams the kernel took.
 * Syscall: sendmmsg (one per transmit socket used, more if a batch fills).
 */
static napi_value vtep_send_burst(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t vni, count, npeers;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  tsn_vtep *v = vtep_get(env, argv[1]);
  if (!v) return NULL;
  napi_typedarray_type t1, t2;
  size_t dlen, plen;
  void *ddata, *pdata;
  if (argc < 7 || get_i32(env, argv[2], &vni) || get_i32(env, argv[3], &count) || get_i32(env, argv[6], &npeers) ||
      napi_get_typedarray_info(env, argv[4], &t1, &dlen, &ddata, NULL, NULL) != napi_ok || t1 != napi_int32_array ||
      napi_get_typedarray_info(env, argv[5], &t2, &plen, &pdata, NULL, NULL) != napi_ok || t2 != napi_int32_array || vni < 0 ||
      vni > 0xffffff || count < 0 || (uint32_t)count > p->tx_idx_len || (size_t)count > dlen || npeers < 0 || (size_t)npeers > plen) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepSendBurst(pool, vtep, vni: 0..16777215, count, dst: Int32Array, peers: Int32Array, peerCount): out of range");
    return NULL;
  }
  const uint32_t *dst = ddata, *peers = pdata;
  int32_t *st = v->status;
  memset(st, 0, sizeof(int32_t) * TSN_VST_SEND_COUNT);
  if ((size_t)count > v->sock_of_len) {
    free(v->sock_of);
    v->sock_of = malloc((size_t)count);
    v->sock_of_len = v->sock_of ? (size_t)count : 0;
    if (!v->sock_of) {
      tsn_throw_code(env, "ENOMEM", "vtepSendBurst: out of memory");
      return NULL;
    }
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
      st[TSN_VST_DROP_ERR]++;
      st[TSN_VST_LAST_ERRNO] = EINVAL;
      continue;
    }
    int s = (int)(flow_hash(p->base + off, (size_t)len) % (uint32_t)v->n_tx);
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
      struct tsn_vnet vh = {(uint8_t)d[TSN_D_VFLAGS], (uint8_t)d[TSN_D_GSO_TYPE], (uint16_t)d[TSN_D_HDR_LEN],
                            (uint16_t)d[TSN_D_GSO_SIZE], (uint16_t)d[TSN_D_CSUM_START], (uint16_t)d[TSN_D_CSUM_OFF]};
      if ((vh.gso_type & ~TSN_GSO_ECN) != TSN_GSO_NONE) {
        struct seg_run r = {.v = v, .fd = fd, .vni = (uint32_t)vni, .dsts = dsts, .ndst = ndst};
        int rc = segment_direct(&r, frame, len, vh.gso_size);
        if (rc == -ENOTSUP) rc = tsn_gso_segment(frame, len, &vh, p->scratch, TSN_SLOT_SIZE, emit_segment, &r);
        run_close(&r);
        if (rc < 0) {
          st[TSN_VST_DROP_BAD_GSO]++;
          st[TSN_VST_LAST_ERRNO] = -rc;
        }
        continue;
      }
      if (vh.flags & TSN_VNET_F_NEEDS_CSUM) {
        if (tsn_csum_complete(frame, len, vh.csum_start, vh.csum_offset) < 0) {
          st[TSN_VST_DROP_BAD_GSO]++;
          continue;
        }
        d[TSN_D_VFLAGS] = (vh.flags & ~TSN_VNET_F_NEEDS_CSUM) | TSN_VNET_F_DATA_VALID;
        d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
      }
      vxlan_write(frame - TSN_VXLAN_HLEN, (uint32_t)vni);
      pending_room(v, NULL, fd, 0, 1);
      struct iovec *iov = v->iov + v->iov_n;
      iov_push(v, frame - TSN_VXLAN_HLEN, len + TSN_VXLAN_HLEN);
      for (int i = 0; i < ndst; i++) batch_add(v, fd, iov, 1, dsts[i], 0, 1);
    }
    batch_flush(v, fd);
  }
  napi_value res;
  napi_create_int32(env, st[TSN_VST_DGRAMS], &res);
  return res;
}

napi_value tsn_udp_vtep_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"vtepOpen", NULL, vtep_open, NULL, NULL, NULL, napi_default, NULL},
      {"vtepClose", NULL, vtep_close, NULL, NULL, NULL, napi_default, NULL},
      {"vtepRecvBurst", NULL, vtep_recv_burst, NULL, NULL, NULL, napi_default, NULL},
      {"vtepSendBurst", NULL, vtep_send_burst, NULL, NULL, NULL, napi_default, NULL},
      {"vtepRxInject", NULL, vtep_rx_inject, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value layout, n;
  napi_create_object(env, &layout);
  napi_create_int32(env, TSN_VXLAN_HLEN, &n);
  napi_set_named_property(env, layout, "VXLAN_HLEN", n);
  napi_create_int32(env, TSN_VTEP_META_SRC_IP, &n);
  napi_set_named_property(env, layout, "META_SRC_IP", n);
  napi_create_int32(env, TSN_VTEP_META_SRC_PORT, &n);
  napi_set_named_property(env, layout, "META_SRC_PORT", n);
  napi_create_int32(env, TSN_VST_COUNT, &n);
  napi_set_named_property(env, layout, "STATUS_COUNT", n);
  napi_set_named_property(env, exports, "vtepLayout", layout);
  return exports;
}
