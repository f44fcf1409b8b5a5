/*
 * udp_vtep.c - VXLAN tunnel endpoints (RFC 7348) over UDP sockets: the sockets, and the Node-API
 * functions that open, close, receive on and send from them.
 *
 * A VTEP is one receive socket bound to LOCAL_IP:PORT (4789 by default) and a few transmit sockets
 * bound to LOCAL_IP:ephemeral (one per outer source port: vtep_tx.c picks one by inner flow hash).
 * What a received message is (one datagram, a UDP GRO run, a kernel VTEP's tunnel GSO packet) is
 * vtep_rx.c's; encapsulation, segmentation and sendmmsg are vtep_tx.c's; their shared state is vtep.h.
 *
 * Receive, vtepRecvBurst (recvmmsg): each datagram is read so that its VXLAN header fills the 8
 * headroom bytes just before the slot's usual frame offset; then vtep_rx.c describes it.
 *
 * An IPv6 VTEP (LOCAL_IP fd00::1) is the same over AF_INET6 sockets (IPV6_V6ONLY): its remote VTEPs
 * travel through the data plane as numbers (vtep_addr6.h) that vtepAddressNumber/vtepAddressText
 * translate; the sender of each received datagram is numbered here.
 *
 * Socket options: IP_MTU_DISCOVER = IP_PMTUDISC_DO on transmit sockets (DF set on every datagram and
 * never fragmented locally: RFC 7348 section 4.3, VTEPs MUST NOT fragment; a datagram over the path
 * MTU fails with EMSGSIZE and is counted; IPv6: IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO, no local
 * fragment header), IP_TTL (IPV6_UNICAST_HOPS; 64 by default), SO_SNDBUF/SO_RCVBUF raised
 * (SO_*BUFFORCE when root), UDP_GRO on the receive socket. UDP checksums stay on: UDP_SEGMENT
 * requires them, the kernel offloads them, and a receiver must accept them (RFC 7348 allows zero or
 * a valid checksum).
 *
 * Syscalls: socket, setsockopt (incl. UDP_GRO), bind, getsockname, recvmmsg, close; open/setns via netns.c.
 */
#define _GNU_SOURCE
#include "udp_vtep.h"
#include "errors.h"
#include "layout.h"
#include "napi_args.h"
#include "netns.h"
#include "pool.h"
#include "vtep.h"
#include "vtep_rx.h"
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

static tsn_vtep *vteps[TSN_MAX_VTEPS];

static tsn_vtep *vtep_get(napi_env env, napi_value v) {
  int32_t h;
  if (napi_get_value_int32(env, v, &h) != napi_ok || h < 0 || h >= TSN_MAX_VTEPS || !vteps[h]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not an open VTEP handle");
    return NULL;
  }
  return vteps[h];
}

/*
 * sock_setup() - Make one UDP socket bound to @local:@port with the VTEP's options
 * @local:	Address to bind (network order): 4 bytes, or 16 with @v6
 * @v6:		An AF_INET6 socket (IPV6_V6ONLY)
 * @port:	Port to bind (host order), 0 for an ephemeral one
 * @tx:		A transmit socket: DF (IP_PMTUDISC_DO), @ttl, large send buffer, tiny receive buffer
 * @ttl:	Outer TTL for transmit sockets
 * @bound:	Set to the bound port (host order)
 * @sys:	Set to the failing syscall's name on error
 *
 * Return: the descriptor (non-blocking, close-on-exec), or -errno with nothing left open
 * Syscalls: socket, setsockopt(SO_SNDBUFFORCE/SO_SNDBUF, SO_RCVBUFFORCE/SO_RCVBUF,
 *           IP_MTU_DISCOVER, IP_TTL; IPV6_V6ONLY, IPV6_MTU_DISCOVER, IPV6_UNICAST_HOPS), bind, getsockname, close
 */
static int sock_setup(const uint8_t *local, bool v6, uint16_t port, bool tx, int ttl, uint16_t *bound, const char **sys) {
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *sys = "socket";
    return -errno;
  }
  int buf = TSN_VTEP_SOCKBUF;
  if (tx) {
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    int small = 1; /* nothing should arrive on a transmit socket's port; keep nothing if it does */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    *sys = "setsockopt";
    if (v6) {
      int pmtu = IPV6_PMTUDISC_DO;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0) goto fail;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0) goto fail;
    } else {
      int pmtu = IP_PMTUDISC_DO;
      if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0) goto fail;
      if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0) goto fail;
    }
  } else {
    /* No SO_REUSEADDR: for UDP it would let a second VTEP bind the same port and split the traffic. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  }
  if (v6) {
    int on = 1;
    *sys = "setsockopt";
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0) goto fail;
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    memcpy(sa6.sin6_addr.s6_addr, local, 16);
    *sys = "bind";
    if (bind(fd, (struct sockaddr *)&sa6, sizeof sa6) < 0) goto fail;
    socklen_t sl = sizeof sa6;
    *sys = "getsockname";
    if (getsockname(fd, (struct sockaddr *)&sa6, &sl) < 0) goto fail;
    *bound = ntohs(sa6.sin6_port);
    return fd;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  memcpy(&sa.sin_addr.s_addr, local, 4);
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
  free(v->addr6);
  free(v);
}

/*
 * vtepOpen(localIp: string, port: number, status: Int32Array(TSN_VST_COUNT),
 *          opts?: { txSockets?: 1..64 = 8, ttl?: 1..255 = 64, netns?: string })
 *   -> { handle, fd, port, txPorts: number[], family: 4 | 6 }
 * localIp is IPv4 or IPv6 (the VTEP's family: an IPv6 one numbers its remote VTEPs, vtep_addr6.h).
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
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &iplen) != napi_ok || tsn_arg_i32(env, argv[1], &port) || port < 0 || port > 65535) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepOpen(localIp: string, port: 0..65535, status: Int32Array, opts?)");
    return NULL;
  }
  uint8_t local[16];
  bool v6 = false;
  if (inet_pton(AF_INET, ip, local) != 1 && !(v6 = inet_pton(AF_INET6, ip, local) == 1)) {
    char msg[128];
    snprintf(msg, sizeof msg, "vtepOpen: local address \"%s\" is neither an IPv4 nor an IPv6 address", ip);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  void *stdata;
  if (tsn_arg_typed(env, argv[2], napi_int32_array, TSN_VST_COUNT, &stdata, NULL)) {
    tsn_throw_code(env, "ERR_INVALID_ARG_TYPE", "vtepOpen: status must be an Int32Array of at least TSN_VST_COUNT (17) entries");
    return NULL;
  }
  int ntx = 8, ttl = 64;
  char netns[PATH_MAX] = "";
  if (argc >= 4) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t == napi_object) {
      if (tsn_arg_opt_int(env, argv[3], "vtepOpen", "txSockets", 8, 1, TSN_VTEP_MAX_TX, &ntx) || tsn_arg_opt_int(env, argv[3], "vtepOpen", "ttl", 64, 1, 255, &ttl)) return NULL;
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
  v->v6 = v6;
  if (v6 && !(v->addr6 = calloc(1, sizeof *v->addr6))) {
    vtep_free(v);
    tsn_throw_code(env, "ENOMEM", "vtepOpen: out of memory");
    return NULL;
  }

  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) {
    vtep_free(v);
    return NULL;
  }
  const char *sys = NULL;
  int err = 0;
  uint16_t bound = 0;
  int fd = sock_setup(local, v6, (uint16_t)port, false, ttl, &bound, &sys);
  if (fd < 0) err = -fd;
  else {
    v->rx_fd = fd;
    v->port = bound;
    int on = 1; /* best effort: without it (old kernels) every datagram arrives on its own */
    v->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    for (int i = 0; i < ntx; i++) {
      fd = sock_setup(local, v6, 0, true, ttl, &v->tx_port[i], &sys);
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
    snprintf(what, sizeof what, "%s%s%s:%d%s%s", v6 ? "[" : "", ip, v6 ? "]" : "", port, netns[0] ? " in netns " : "", netns);
    vtep_free(v);
    tsn_throw_errno(env, sys, what, err);
    return NULL;
  }
  v->status = stdata;
  napi_create_reference(env, argv[2], 1, &v->status_ref);
  v->used = 1;
  vteps[h] = v;

  napi_value res, jh, jfd, jport, jtx, jfam;
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
  TSN_CALL(env, napi_create_int32(env, v6 ? 6 : 4, &jfam));
  napi_set_named_property(env, res, "family", jfam);
  return res;
}

/* vtepClose(handle): close every socket of the VTEP; the handle may be reused. Syscall: close. */
static napi_value vtep_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t h;
  if (argc < 1 || tsn_arg_i32(env, argv[0], &h) || h < 0 || h >= TSN_MAX_VTEPS || !vteps[h]) return NULL;
  tsn_vtep *v = vteps[h];
  vteps[h] = NULL;
  napi_delete_reference(env, v->status_ref);
  vtep_free(v);
  return NULL;
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
  size_t mlen;
  void *stdata, *mdata;
  if (argc < 8 || tsn_arg_typed(env, argv[1], napi_int32_array, TSN_VST_COUNT, &stdata, NULL) || tsn_arg_i32(env, argv[2], &first) ||
      tsn_arg_i32(env, argv[3], &max) || tsn_arg_typed(env, argv[4], napi_uint8_array, 0, &mdata, &mlen) || tsn_arg_i32(env, argv[5], &seg) || tsn_arg_i32(env, argv[6], &src_ip) || tsn_arg_i32(env, argv[7], &src_port) || first < 0 || max < 1 ||
      (uint32_t)first + (uint32_t)max > p->slots || mlen > TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepRxInject(pool, status, firstSlot, max >= 1, message: Uint8Array (at most a slot), seg, srcIp, srcPort): out of range");
    return NULL;
  }
  memcpy(tsn_vtep_slot_frame(p->base, first) - TSN_VXLAN_HLEN, mdata, mlen);
  struct tsn_vtep_rx s = {.base = p->base, .desc = p->desc, .status = stdata, .first = first, .nrow = 0, .spare = first + 1, .end = first + max, .src_ip = (uint32_t)src_ip, .src_port = (uint16_t)src_port};
  tsn_vtep_rx_message(&s, first, mlen, seg);
  ((int32_t *)stdata)[TSN_VST_RX_SLOTS_USED] = s.spare - first;
  napi_value res;
  napi_create_int32(env, s.nrow, &res);
  return res;
}

/*
 * rx_describe() - Hand the @n received messages to vtep_rx.c, each with its sender: the IPv4
 * address, or with @v6 the sender's number (numbered here if new). Inlined once per family, so the
 * IPv4 loop is what it was. No syscalls.
 */
static inline __attribute__((always_inline)) void rx_describe(tsn_vtep *v, struct tsn_vtep_rx *s, int32_t first, int n, const bool v6) {
  for (int i = 0; i < n; i++) {
    if (v6) {
      s->src_ip = tsn_vtep6_number(v->addr6, v->rnames6[i].sin6_addr.s6_addr);
      s->src_port = ntohs(v->rnames6[i].sin6_port);
    } else {
      s->src_ip = ntohl(v->rnames[i].sin_addr.s_addr);
      s->src_port = ntohs(v->rnames[i].sin_port);
    }
    int seg = 0;
    struct msghdr *m = &v->rmsgs[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&seg, CMSG_DATA(c), sizeof seg);
    tsn_vtep_rx_message(s, first + i, v->rmsgs[i].msg_len, seg);
  }
}

/*
 * vtepRecvBurst(pool, vtep, firstSlot, max) -> count
 * Receives into slots firstSlot .. firstSlot + max and describes the frames in descriptor rows
 * firstSlot .. firstSlot + count, in arrival order: D_OFF at a slot's usual frame offset, D_SLOT the
 * slot, D_LEN = datagram length - 8 (negative for a datagram too short to hold a VXLAN header). The
 * VXLAN header is in the 8 bytes before each frame, the sender's IPv4 address (an IPv6 VTEP: the
 * sender's number) and port before that (TSN_VTEP_META_*). Virtio-net fields: NEEDS_CSUM for an inner checksum the sender left partial
 * (vtep_rx.c); GSO TCP with NEEDS_CSUM for a super-frame, either one a kernel VTEP sent whole
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
  if (argc < 4 || tsn_arg_i32(env, argv[2], &first) || tsn_arg_i32(env, argv[3], &max) || first < 0 || max < 0 || (uint32_t)first + (uint32_t)max > p->slots) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepRecvBurst(pool, vtep, firstSlot, max): slots out of range");
    return NULL;
  }
  int32_t vlen = v->gro ? (max >= 4 ? max / 4 : (max > 0 ? 1 : 0)) : max;
  if (vlen > TSN_VTEP_MAX_RX) vlen = TSN_VTEP_MAX_RX;
  char *names = v->v6 ? (char *)v->rnames6 : (char *)v->rnames;
  socklen_t namelen = v->v6 ? sizeof v->rnames6[0] : sizeof v->rnames[0];
  for (int32_t i = 0; i < vlen; i++) {
    uint8_t *frame = tsn_vtep_slot_frame(p->base, first + i);
    v->riovs[i].iov_base = frame - TSN_VXLAN_HLEN;
    v->riovs[i].iov_len = TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN;
    struct msghdr *m = &v->rmsgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = names + (size_t)i * namelen;
    m->msg_namelen = namelen;
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
  struct tsn_vtep_rx s = {.base = p->base, .desc = p->desc, .status = v->status, .first = first, .nrow = 0, .spare = first + n, .end = first + max};
  if (v->v6) rx_describe(v, &s, first, n, true);
  else rx_describe(v, &s, first, n, false);
  v->status[TSN_VST_RX_SLOTS_USED] = s.spare - first;
  napi_value res;
  napi_create_int32(env, s.nrow, &res);
  return res;
}

/*
 * vtepSendBurst(pool, vtep, vni, count, dst: Int32Array, peers: Int32Array, peerCount) -> datagrams
 * Encapsulates the frames whose descriptor rows stand in the pool's txIdx[0 .. count) with VNI vni and
 * sends each to dst[k] (an IPv4 address as a 32-bit integer; an IPv6 VTEP's number), or, for dst[k] == 0, to every one of
 * peers[0 .. peerCount) (head-end replication). The destination port is the VTEP's own port.
 * GSO frames are segmented, partial checksums completed (the descriptor then says DATA_VALID, as
 * txBurst does). Outcomes are in the VTEP's status vector, reset at the start of the call; the return
 * value is the number of datagrams the kernel took. See vtep_tx.c.
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
  size_t dlen, plen;
  void *ddata, *pdata;
  if (argc < 7 || tsn_arg_i32(env, argv[2], &vni) || tsn_arg_i32(env, argv[3], &count) || tsn_arg_i32(env, argv[6], &npeers) ||
      tsn_arg_typed(env, argv[4], napi_int32_array, 0, &ddata, &dlen) || tsn_arg_typed(env, argv[5], napi_int32_array, 0, &pdata, &plen) || vni < 0 ||
      vni > 0xffffff || count < 0 || (uint32_t)count > p->tx_idx_len || (size_t)count > dlen || npeers < 0 || (size_t)npeers > plen) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepSendBurst(pool, vtep, vni: 0..16777215, count, dst: Int32Array, peers: Int32Array, peerCount): out of range");
    return NULL;
  }
  int sent = tsn_vtep_tx_burst(v, p, (uint32_t)vni, count, ddata, pdata, npeers);
  if (sent < 0) {
    tsn_throw_code(env, "ENOMEM", "vtepSendBurst: out of memory");
    return NULL;
  }
  napi_value res;
  napi_create_int32(env, sent, &res);
  return res;
}

/* An open IPv6 VTEP's handle argument, else NULL with an exception naming @fn. */
static tsn_vtep *vtep6_get(napi_env env, napi_value h, const char *fn) {
  tsn_vtep *v = vtep_get(env, h);
  if (v && !v->v6) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: the VTEP is IPv4 (its remote VTEPs are their addresses)", fn);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return v;
}

/*
 * vtepAddressNumber(vtep, ip: string) -> number
 * An IPv6 VTEP's number for remote address ip (1..), numbered now if it is new: what the data plane
 * carries for it (peers, FDB entries). Throws ERR_OUT_OF_RANGE when the table is full. No syscalls.
 */
static napi_value vtep_address_number(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepAddressNumber(vtep, ip: string)");
    return NULL;
  }
  tsn_vtep *v = vtep6_get(env, argv[0], "vtepAddressNumber");
  if (!v) return NULL;
  char ip[64] = {0};
  size_t iplen = 0;
  uint8_t a[16];
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &iplen) != napi_ok || inet_pton(AF_INET6, ip, a) != 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "vtepAddressNumber: \"%s\" is not an IPv6 address", ip);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  uint32_t n = tsn_vtep6_number(v->addr6, a);
  if (n == 0) {
    tsn_throw_code(env, "ERR_OUT_OF_RANGE", "vtepAddressNumber: the VTEP has numbered TSN_VTEP6_MAX (16384) remote addresses already");
    return NULL;
  }
  napi_value res;
  napi_create_uint32(env, n, &res);
  return res;
}

/* vtepAddressText(vtep, n) -> string | null: the remote address an IPv6 VTEP numbered n. No syscalls. */
static napi_value vtep_address_text(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t n;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &n) != napi_ok) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepAddressText(vtep, n: number)");
    return NULL;
  }
  tsn_vtep *v = vtep6_get(env, argv[0], "vtepAddressText");
  if (!v) return NULL;
  const uint8_t *a = tsn_vtep6_addr(v->addr6, n);
  napi_value res;
  if (!a) {
    napi_get_null(env, &res);
    return res;
  }
  char s[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, s, sizeof s);
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &res);
  return res;
}

/* vtepAddressCounts(vtep) -> { known, refused }: an IPv6 VTEP's numbered addresses, and senders turned away full. */
static napi_value vtep_address_counts(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "vtepAddressCounts(vtep)");
    return NULL;
  }
  tsn_vtep *v = vtep6_get(env, argv[0], "vtepAddressCounts");
  if (!v) return NULL;
  napi_value res, k, r;
  TSN_CALL(env, napi_create_object(env, &res));
  napi_create_uint32(env, v->addr6->n, &k);
  napi_create_uint32(env, v->addr6->refused, &r);
  napi_set_named_property(env, res, "known", k);
  napi_set_named_property(env, res, "refused", r);
  return res;
}

napi_value tsn_udp_vtep_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"vtepOpen", NULL, vtep_open, NULL, NULL, NULL, napi_default, NULL},
      {"vtepClose", NULL, vtep_close, NULL, NULL, NULL, napi_default, NULL},
      {"vtepRecvBurst", NULL, vtep_recv_burst, NULL, NULL, NULL, napi_default, NULL},
      {"vtepSendBurst", NULL, vtep_send_burst, NULL, NULL, NULL, napi_default, NULL},
      {"vtepRxInject", NULL, vtep_rx_inject, NULL, NULL, NULL, napi_default, NULL},
      {"vtepAddressNumber", NULL, vtep_address_number, NULL, NULL, NULL, napi_default, NULL},
      {"vtepAddressText", NULL, vtep_address_text, NULL, NULL, NULL, napi_default, NULL},
      {"vtepAddressCounts", NULL, vtep_address_counts, NULL, NULL, NULL, napi_default, NULL},
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
