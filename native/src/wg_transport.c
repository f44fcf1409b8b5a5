/*
 * wg_transport.c - WireGuard transport data messages (type 4) between VTEPs, in bursts.
 *
 * An encrypted VTEP is one UDP socket bound to LOCAL_IP:51820. What travels inside a transport message
 * is what WireGuard always carries, an IP packet: here the VTEP-to-VTEP IPv4/UDP/VXLAN datagram, so a
 * real WireGuard peer (wireguard-go with the kernel's vxlan device on its wg0) decrypts it into an
 * ordinary VXLAN packet. The handshake (Noise_IKpsk2) runs in TypeScript; it installs each session's
 * two keys here with wgInstallKeypair, and everything per packet stays in C.
 *
 * Send, wgSendBurst (same contract as vtepSendBurst) and wgSendKeepalive: wg_tx.c seals and sends;
 * this file reads the arguments.
 *
 * Receive, wgRecvBurst: recvmmsg lands each message 52 bytes before the slot's frame offset (16 bytes
 * of transport header + 36 of inner IPv4/UDP/VXLAN; with UDP_GRO one message holds a peer's run of
 * equal-sized datagrams) and each datagram is decrypted in place, so the inner frame ends up where a
 * plain VTEP's would, VXLAN header in front and the sender's VTEP address and
 * port in the metadata bytes (udp_vtep.h): the vxlan-decap stage cannot tell the difference. Order of
 * checks: length and type (wg-malformed), receiver index (wg-no-session), tag (wg-bad-mac), replay
 * window (wg-replay; a 2048-bit sliding window, RFC 6479's idea), then the inner packet (wg-bad-inner:
 * IPv4 without options, UDP to our VXLAN port, from the VTEP address of the peer whose key it was,
 * to ours). Only authenticated messages move a peer's endpoint (roaming) and its counters. The
 * decrypted frames go through vtep_rx.c's TCP GRO rules (tsn_vtep_rx_frame), so
 * a TCP stream reaches the pipeline and the TAP as super-frames, as a plain VTEP's UDP GRO gives it.
 * Handshake messages (types 1..3) are copied out to a small control buffer for the TypeScript side.
 *
 * Syscalls: socket, setsockopt (incl. UDP_GRO), bind, getsockname, recvmmsg, sendmmsg, sendto, close, clock_gettime;
 * open/setns via netns.c.
 */
#define _GNU_SOURCE
#include "wg_transport.h"
#include "wg_dev.h"
#include "errors.h"
#include "napi_args.h"
#include "layout.h"
#include "netns.h"
#include "pool.h"
#include "udp_vtep.h"
#include "vtep_rx.h"
#include "wg_crypto.h"
#include "wire.h"
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
#include <time.h>
#include <unistd.h>

#define WG_MAX_DEVS 16
#define WG_RX_BACK (WG_TRANSPORT_HDR + TSN_WG_INNER_HDR)
#define WG_REPLAY_BITS (WG_REPLAY_WORDS * 64)
#define WG_SOCKBUF (4 << 20)

/* A device and the JavaScript arrays its status pointers point into, referenced while it is open. */
typedef struct {
  wg_dev dev;
  napi_ref refs[4];
} wg_js;

static wg_js *devs[WG_MAX_DEVS];

#define rd16 tsn_rd16
#define rd32 tsn_rd32
#define wr16 tsn_wr16
#define wr32 tsn_wr32

/* Milliseconds of CLOCK_MONOTONIC: the clock every timer of this file and of the JS side reads. Syscall: clock_gettime. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Mirror a peer's session slots into its stats row (the TypeScript side allocates indices around them). */
static void sync_slots(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  double *r = wg_prow(d, peer);
  r[TSN_WPS_CUR_SLOT] = p->cur;
  r[TSN_WPS_PREV_SLOT] = p->prev;
  r[TSN_WPS_NEXT_SLOT] = p->next;
  r[TSN_WPS_CUR_BORN] = p->cur >= 0 ? d->kp[p->cur].born_ms : 0;
}

static void kp_free(wg_dev *d, int slot) {
  if (slot < 0) return;
  wg_keypair *k = &d->kp[slot];
  EVP_CIPHER_CTX_free(k->tx);
  EVP_CIPHER_CTX_free(k->rx);
  memset(k, 0, sizeof *k);
}

/* ---- the replay window ---- */

/*
 * May counter @c be accepted (not seen, not older than the window)? No state change. The window is
 * the bitmap less one word (RFC 6479, as the kernel does): the word of the newest counter is the
 * word that held the counters WG_REPLAY_BITS back, so those can no longer be told apart.
 */
static bool replay_ok(const wg_keypair *k, uint64_t c) {
  if (c >= WG_REJECT_AFTER_MESSAGES) return false;
  if (c >= k->rx_greatest) return true;
  if (k->rx_greatest - c > WG_REPLAY_BITS - 64) return false;
  return !((k->window[(c / 64) % WG_REPLAY_WORDS] >> (c % 64)) & 1);
}

/* Record @c as seen (after its tag verified): slide the window forward, clearing the words it passes. */
static void replay_mark(wg_keypair *k, uint64_t c) {
  if (c >= k->rx_greatest) {
    /* rx_greatest is the newest counter + 1: the window's newest word is that counter's. */
    uint64_t from = (k->rx_greatest - 1) / 64, to = c / 64;
    if (k->rx_greatest == 0) from = 0, memset(k->window, 0, sizeof k->window);
    else if (to - from >= WG_REPLAY_WORDS) memset(k->window, 0, sizeof k->window);
    else
      for (uint64_t w = from + 1; w <= to; w++) k->window[w % WG_REPLAY_WORDS] = 0;
    k->rx_greatest = c + 1;
  }
  k->window[(c / 64) % WG_REPLAY_WORDS] |= 1ull << (c % 64);
}

static wg_dev *dev_get(napi_env env, napi_value v) {
  int32_t h;
  if (napi_get_value_int32(env, v, &h) != napi_ok || h < 0 || h >= WG_MAX_DEVS || !devs[h]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not an open WireGuard VTEP handle");
    return NULL;
  }
  return &devs[h]->dev;
}


/*
 * wgSendBurst(pool, dev, vni, count, dst: Int32Array, peers: Int32Array, peerCount) -> datagrams
 * vtepSendBurst's contract (udp_vtep.c) over WireGuard: rows of txIdx[0 .. count) to dst[k], or to
 * every peers[0 .. peerCount) for dst[k] == 0. A destination with no peer is counted
 * TSN_WST_TX_UNKNOWN_PEER, one with no usable session TSN_WST_TX_NO_SESSION (and flagged).
 * Syscall: sendmmsg.
 */
static napi_value js_send_burst(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t vni, count, npeers;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  wg_dev *d = dev_get(env, argv[1]);
  if (!d) return NULL;
  napi_typedarray_type t1, t2;
  size_t dlen, plen;
  void *ddata, *pdata;
  if (argc < 7 || tsn_arg_i32(env, argv[2], &vni) || tsn_arg_i32(env, argv[3], &count) || tsn_arg_i32(env, argv[6], &npeers) ||
      napi_get_typedarray_info(env, argv[4], &t1, &dlen, &ddata, NULL, NULL) != napi_ok || t1 != napi_int32_array ||
      napi_get_typedarray_info(env, argv[5], &t2, &plen, &pdata, NULL, NULL) != napi_ok || t2 != napi_int32_array || vni < 0 || vni > 0xffffff || count < 0 ||
      (uint32_t)count > p->tx_idx_len || (size_t)count > dlen || npeers < 0 || (size_t)npeers > plen) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgSendBurst(pool, dev, vni: 0..16777215, count, dst: Int32Array, peers: Int32Array, peerCount): out of range");
    return NULL;
  }
  const uint32_t *dst = ddata, *bum = pdata;
  struct wg_tx_rows rows = {.base = p->base, .len = p->len, .slots = p->slots, .desc = p->desc, .idx = p->tx_idx, .scratch = p->scratch};
  wg_tx_burst(d, &rows, (uint32_t)vni, count, dst, bum, npeers, now_ms());
  napi_value res;
  napi_create_int32(env, d->vst[TSN_TXS_SENT], &res);
  return res;
}

/* wgSendKeepalive(dev, peer) -> boolean: an empty transport message with the current keypair. Syscall: sendmmsg. */
static napi_value js_send_keepalive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t peer;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  wg_dev *d = dev_get(env, argv[0]);
  if (!d) return NULL;
  if (argc < 2 || tsn_arg_i32(env, argv[1], &peer) || peer < 0 || peer >= TSN_WG_MAX_PEERS || !d->peers[peer].used) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgSendKeepalive(dev, peer): no such peer");
    return NULL;
  }
  bool ok = wg_tx_keepalive(d, peer, now_ms());
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

/* ---- receive ---- */

static void ctrl_push(wg_dev *d, const uint8_t *msg, size_t len, const struct sockaddr_in *from) {
  int32_t i = d->st[TSN_WST_RX_CTRL];
  if (i >= TSN_WG_CTRL_MAX || len > TSN_WG_CTRL_STRIDE - 8) {
    d->st[TSN_WST_RX_CTRL_LOST]++;
    return;
  }
  uint8_t *e = d->ctrl + (size_t)i * TSN_WG_CTRL_STRIDE;
  e[0] = (uint8_t)len, e[1] = (uint8_t)(len >> 8);
  uint16_t port = ntohs(from->sin_port);
  e[2] = (uint8_t)port, e[3] = (uint8_t)(port >> 8);
  memcpy(e + 4, &from->sin_addr.s_addr, 4);
  memcpy(e + 8, msg, len);
  d->st[TSN_WST_RX_CTRL] = i + 1;
}

/*
 * rx_transport() - Authenticate and open one transport message in place (@m, @len bytes, sits
 * WG_RX_BACK bytes before @frame). Returns the inner frame's length (>= 0) with the VXLAN header and
 * sender metadata in front of @frame, or -1 when it was consumed or dropped (counted). No syscalls.
 */
static int32_t rx_transport(wg_dev *d, uint8_t *m, size_t len, uint8_t *frame, const struct sockaddr_in *from, double now) {
  if (len < WG_TRANSPORT_HDR + WG_TAG_LEN) {
    d->st[TSN_WST_RX_MALFORMED]++;
    return -1;
  }
  uint32_t idx = wg_le32(m + 4);
  wg_keypair *k = &d->kp[idx % TSN_WG_KP_SLOTS];
  if (!k->live || k->local_index != idx || now - k->born_ms >= d->reject_after_ms) {
    d->st[TSN_WST_RX_NO_SESSION]++;
    return -1;
  }
  uint64_t ctr = wg_le64(m + 8);
  if (!replay_ok(k, ctr)) { /* cheap early out; checked again after the tag */
    d->st[TSN_WST_RX_REPLAY]++;
    return -1;
  }
  size_t clen = len - WG_TRANSPORT_HDR - WG_TAG_LEN;
  uint8_t *c = m + WG_TRANSPORT_HDR;
  if (wg_data_open(k->rx, d->mac, ctr, c, clen, d->open_scratch) != 0) {
    d->st[TSN_WST_RX_BAD_MAC]++;
    return -1;
  }
  if (!replay_ok(k, ctr)) {
    d->st[TSN_WST_RX_REPLAY]++;
    return -1;
  }
  replay_mark(k, ctr);
  int peer = k->peer;
  wg_peer *p = &d->peers[peer];
  int slot = (int)(idx % TSN_WG_KP_SLOTS);
  if (p->next == slot) { /* the initiator used the new session: it is confirmed, the old one becomes previous */
    kp_free(d, p->prev);
    p->prev = p->cur;
    p->cur = p->next;
    p->next = -1;
    sync_slots(d, peer);
    wg_flag_peer(d, peer, TSN_WPF_CONFIRMED);
    wg_stage_flush(d, peer, now);
  }
  double *r = wg_prow(d, peer);
  p->ep = *from;
  r[TSN_WPS_EP_IP] = ntohl(from->sin_addr.s_addr);
  r[TSN_WPS_EP_PORT] = ntohs(from->sin_port);
  r[TSN_WPS_RX_BYTES] += (double)len;
  r[TSN_WPS_RX_PACKETS] += 1;
  r[TSN_WPS_LAST_RX] = now;
  if (k->initiator && slot == p->cur && now - k->born_ms >= d->rekey_on_rx_ms) wg_flag_peer(d, peer, TSN_WPF_REKEY);
  if (clen == 0) {
    d->st[TSN_WST_RX_KEEPALIVE]++;
    return -1;
  }
  r[TSN_WPS_LAST_DATA_RX] = now;
  const uint8_t *ip = c;
  if (clen < TSN_WG_INNER_HDR + 14 || ip[0] != 0x45 || ip[9] != 17 || (rd16(ip + 6) & 0x3fff) != 0 || rd32(ip + 12) != p->vtep || rd32(ip + 16) != d->local ||
      rd16(ip + 22) != d->vxlan_port) {
    d->st[TSN_WST_RX_BAD_INNER]++;
    return -1;
  }
  size_t iplen = rd16(ip + 2), udplen = rd16(ip + 24);
  if (iplen > clen || udplen != iplen - 20 || udplen < 8 + 8 + 14) {
    d->st[TSN_WST_RX_BAD_INNER]++;
    return -1;
  }
  /* The sender's VTEP address and inner source port in front of the VXLAN header, as udp_vtep.c writes them. */
  uint16_t sport = rd16(ip + 20);
  wr32(frame - TSN_VTEP_META_SRC_IP, p->vtep);
  wr16(frame - TSN_VTEP_META_SRC_PORT, sport);
  return (int32_t)(udplen - 8 - 8);
}

/*
 * rx_datagram() - One datagram @m of @len bytes from @from, WG_RX_BACK bytes before where its inner
 * frame is to be: a transport message is opened in place and its frame added to the burst @s
 * (@slot: the slot whose usual offset the frame is at, or -1 inside a GRO message), a handshake
 * message goes to the control buffer, the rest is counted. No syscalls.
 */
static void rx_datagram(wg_dev *d, struct tsn_vtep_rx *s, int32_t slot, uint8_t *m, size_t len, const struct sockaddr_in *from, double now) {
  if (len < 4) {
    d->st[TSN_WST_RX_MALFORMED]++;
    return;
  }
  uint32_t type = wg_le32(m);
  if (type == WG_MSG_TRANSPORT) {
    uint8_t *frame = m + WG_RX_BACK;
    int32_t flen = rx_transport(d, m, len, frame, from, now);
    if (flen >= 0) tsn_vtep_rx_frame(s, slot, frame, (size_t)flen, rd32(frame - TSN_VTEP_META_SRC_IP), rd16(frame - TSN_VTEP_META_SRC_PORT));
  } else if ((type == WG_MSG_INITIATION && len == 148) || (type == WG_MSG_RESPONSE && len == 92) || (type == WG_MSG_COOKIE && len == 64)) {
    ctrl_push(d, m, len, from);
  } else {
    d->st[TSN_WST_RX_MALFORMED]++;
  }
}

/*
 * rx_message() - Open the datagrams of one message (@m, @total bytes of @step-byte datagrams from
 * @from), the first at @slot's usual offset (-1: none is). A datagram that may need a spare slot when
 * none is left stops it: returns the offset of the first datagram not opened (@total if all were).
 */
static size_t rx_message(wg_dev *d, struct tsn_vtep_rx *s, int32_t slot, uint8_t *m, size_t total, size_t step, const struct sockaddr_in *from, double now) {
  for (size_t off = 0; off < total; off += step) {
    int32_t at = off == 0 ? slot : -1;
    if (at < 0 && s->spare >= s->end) return off;
    rx_datagram(d, s, at, m + off, total - off < step ? total - off : step, from, now);
  }
  return total;
}

/* Keep @len bytes of a message (datagrams of @step) for the next burst. */
static void backlog_push(wg_dev *d, const uint8_t *m, size_t len, size_t step, const struct sockaddr_in *from) {
  uint32_t off = d->nbl ? d->bl[d->nbl - 1].off + d->bl[d->nbl - 1].len : 0;
  memcpy(d->backlog + off, m, len);
  d->bl[d->nbl].off = off, d->bl[d->nbl].len = (uint32_t)len, d->bl[d->nbl].step = (uint32_t)step, d->bl[d->nbl].from = *from;
  d->nbl++;
}

/*
 * wgRecvBurst(pool, dev, firstSlot, max) -> frames
 * One recvmmsg into slots firstSlot .. firstSlot+max; transport messages become descriptor rows
 * firstSlot .. firstSlot+frames-1 (in arrival order; a row's D_SLOT says where it lives), handshake
 * messages go to the control buffer (count in status[TSN_WST_RX_CTRL], reset here), the rest is
 * counted by reason. With UDP_GRO on (as on a plain VTEP) a message can hold up to 64 datagrams of
 * one size - a peer's UDP_SEGMENT run kept whole by the kernel, or a NIC's GRO batch - so at most a
 * quarter of `max` messages are read. Each datagram is opened where it landed, and its frame goes
 * through vtep_rx.c's TCP GRO rules (tsn_vtep_rx_frame): joined to the super-frame being built, or,
 * inside a message, copied to a spare slot. When the spares run out (64 datagrams that do not
 * coalesce), the rest of the burst's messages wait in the device's backlog and are opened first
 * next time, before the socket is read again: nothing is dropped for want of a slot.
 * Syscalls: recvmmsg; sendmmsg when a confirmed session releases staged frames.
 */
static napi_value js_recv_burst(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t first, max;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tsn_pool *p = tsn_pool_get(env, argv[0]);
  if (!p) return NULL;
  wg_dev *d = dev_get(env, argv[1]);
  if (!d) return NULL;
  if (argc < 4 || tsn_arg_i32(env, argv[2], &first) || tsn_arg_i32(env, argv[3], &max) || first < 0 || max < 0 || (uint32_t)first + (uint32_t)max > p->slots) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgRecvBurst(pool, dev, firstSlot, max): slots out of range");
    return NULL;
  }
  d->st[TSN_WST_RX_CTRL] = 0;
  double now = now_ms();
  struct tsn_vtep_rx s = {.base = p->base, .desc = p->desc, .status = d->vst, .first = first, .spare = first, .end = first + max};
  /* 1. What the last burst had no slot for. */
  int k = 0;
  for (; k < d->nbl; k++) {
    uint8_t *m = d->backlog + d->bl[k].off;
    size_t done = rx_message(d, &s, -1, m, d->bl[k].len, d->bl[k].step, &d->bl[k].from, now);
    if (done < d->bl[k].len) {
      d->bl[k].off += (uint32_t)done;
      d->bl[k].len -= (uint32_t)done;
      break;
    }
  }
  if (k > 0) {
    memmove(d->bl, d->bl + k, (size_t)(d->nbl - k) * sizeof d->bl[0]);
    d->nbl -= k;
  }
  /* 2. The socket, into the slots left, unless the backlog still waits. */
  int32_t at = s.spare, room = first + max - at, n = 0;
  int32_t vlen = d->nbl ? 0 : d->gro ? (room >= 4 ? room / 4 : (room > 0 ? 1 : 0)) : room;
  if (vlen > WG_MAX_RX) vlen = WG_MAX_RX;
  if (d->gro && vlen > WG_BACKLOG_MSGS) vlen = WG_BACKLOG_MSGS;
  for (int32_t i = 0; i < vlen; i++) {
    uint8_t *frame = p->base + (size_t)(at + i) * TSN_SLOT_SIZE + TSN_HEADROOM;
    d->riovs[i].iov_base = frame - WG_RX_BACK;
    d->riovs[i].iov_len = TSN_SLOT_SIZE - TSN_HEADROOM + WG_RX_BACK;
    struct msghdr *m = &d->rmsgs[i].msg_hdr;
    memset(m, 0, sizeof *m);
    m->msg_name = &d->rnames[i];
    m->msg_namelen = sizeof d->rnames[i];
    m->msg_iov = &d->riovs[i];
    m->msg_iovlen = 1;
    m->msg_control = d->rctrl[i].buf;
    m->msg_controllen = sizeof d->rctrl[i].buf;
  }
  do n = vlen > 0 ? recvmmsg(d->fd, d->rmsgs, (unsigned)vlen, MSG_DONTWAIT, NULL) : 0;
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) n = 0;
    else {
      tsn_throw_errno(env, "recvmmsg", NULL, errno);
      return NULL;
    }
  }
  s.spare = at + n;
  for (int i = 0; i < n; i++) {
    uint8_t *m = p->base + (size_t)(at + i) * TSN_SLOT_SIZE + TSN_HEADROOM - WG_RX_BACK;
    struct msghdr *h = &d->rmsgs[i].msg_hdr;
    size_t total = d->rmsgs[i].msg_len;
    if (h->msg_flags & MSG_TRUNC) {
      d->st[TSN_WST_RX_MALFORMED]++;
      continue;
    }
    int seg = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&seg, CMSG_DATA(c), sizeof seg);
    size_t step = seg > 0 && total > (size_t)seg ? (size_t)seg : total;
    size_t done = d->nbl ? 0 : rx_message(d, &s, at + i, m, total, step, &d->rnames[i], now);
    if (done < total) backlog_push(d, m + done, total - done, step, &d->rnames[i]); /* order kept: all after it waits too */
  }
  tsn_vtep_rx_flush(&s);
  d->vst[TSN_VST_RX_SLOTS_USED] = s.spare - first;
  d->st[TSN_WST_RX_BACKLOG] = d->nbl;
  if (d->nmsg) wg_tx_flush(d); /* frames staged for a peer whose session was just confirmed */
  napi_value res;
  napi_create_int32(env, s.nrow, &res);
  return res;
}

/* ---- sessions and peers (set by the handshake in TypeScript) ---- */

/* wgPeerSet(dev, peer, vtepIp: uint32, endpointIp: uint32, endpointPort): add or update a peer. */
static napi_value js_peer_set(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t peer, port;
  uint32_t vtep, ep;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  wg_dev *d = dev_get(env, argv[0]);
  if (!d) return NULL;
  if (argc < 5 || tsn_arg_i32(env, argv[1], &peer) || tsn_arg_u32(env, argv[2], &vtep) || tsn_arg_u32(env, argv[3], &ep) || tsn_arg_i32(env, argv[4], &port) || peer < 0 ||
      peer >= TSN_WG_MAX_PEERS || port < 0 || port > 65535) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgPeerSet(dev, peer 0..255, vtepIp, endpointIp, endpointPort 0..65535)");
    return NULL;
  }
  wg_peer *p = &d->peers[peer];
  if (!p->used) {
    memset(p, 0, sizeof *p);
    p->cur = p->prev = p->next = -1;
    memset(wg_prow(d, peer), 0, sizeof(double) * TSN_WPS_STRIDE);
    sync_slots(d, peer);
  }
  p->used = 1;
  p->vtep = vtep;
  p->ep.sin_family = AF_INET;
  p->ep.sin_addr.s_addr = htonl(ep);
  p->ep.sin_port = htons((uint16_t)port);
  wg_prow(d, peer)[TSN_WPS_EP_IP] = ep;
  wg_prow(d, peer)[TSN_WPS_EP_PORT] = port;
  d->last_peer = -1;
  return NULL;
}

static void peer_clear_keys(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  wg_stage_drop(d, peer);
  kp_free(d, p->cur);
  kp_free(d, p->prev);
  kp_free(d, p->next);
  p->cur = p->prev = p->next = -1;
  sync_slots(d, peer);
}

/* wgPeerClear(dev, peer, remove: boolean): wipe a peer's sessions (and forget the peer when remove). */
static napi_value js_peer_clear(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t peer;
  bool remove = false;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  wg_dev *d = dev_get(env, argv[0]);
  if (!d) return NULL;
  if (argc < 2 || tsn_arg_i32(env, argv[1], &peer) || peer < 0 || peer >= TSN_WG_MAX_PEERS) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgPeerClear(dev, peer 0..255, remove)");
    return NULL;
  }
  if (argc >= 3) napi_get_value_bool(env, argv[2], &remove);
  if (!d->peers[peer].used) return NULL;
  peer_clear_keys(d, peer);
  if (remove) {
    d->peers[peer].used = 0;
    d->last_peer = -1;
  }
  return NULL;
}


/*
 * wgInstallKeypair(dev, peer, localIndex, remoteIndex, sendKey32, recvKey32, initiator): a session the
 * handshake just made. The initiator's is current at once (the old current becomes previous); the
 * responder's waits as next until the initiator's first transport message confirms it. The slot is
 * localIndex % 1024 (the TypeScript side picks indices so). The key bytes are wiped from the arrays.
 * An initiator's staged frames leave at once. Syscall: sendmmsg (only with staged frames).
 */
static napi_value js_install(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t peer;
  uint32_t li, ri;
  bool initiator;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  wg_dev *d = dev_get(env, argv[0]);
  if (!d) return NULL;
  void *sk = NULL, *rk = NULL;
  size_t skl = 0, rkl = 0;
  napi_typedarray_type t1 = napi_int8_array, t2 = napi_int8_array;
  if (argc < 7 || tsn_arg_i32(env, argv[1], &peer) || peer < 0 || peer >= TSN_WG_MAX_PEERS || !d->peers[peer].used || tsn_arg_u32(env, argv[2], &li) ||
      tsn_arg_u32(env, argv[3], &ri) || napi_get_typedarray_info(env, argv[4], &t1, &skl, &sk, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[5], &t2, &rkl, &rk, NULL, NULL) != napi_ok || t1 != napi_uint8_array || t2 != napi_uint8_array || skl != 32 ||
      rkl != 32 || napi_get_value_bool(env, argv[6], &initiator) != napi_ok) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgInstallKeypair(dev, peer, localIndex, remoteIndex, sendKey: Uint8Array(32), recvKey: Uint8Array(32), initiator)");
    return NULL;
  }
  int slot = (int)(li % TSN_WG_KP_SLOTS);
  wg_peer *p = &d->peers[peer];
  /* A slot still held by another live session (index collision): refuse; the handshake picks another index. */
  if (d->kp[slot].live && slot != p->cur && slot != p->prev && slot != p->next) {
    tsn_throw_code(env, "ERR_INDEX_IN_USE", "wgInstallKeypair: that local index's slot holds another session");
    return NULL;
  }
  if (slot == p->cur) p->cur = -1;
  if (slot == p->prev) p->prev = -1;
  if (slot == p->next) p->next = -1;
  kp_free(d, slot);
  wg_keypair *k = &d->kp[slot];
  k->tx = wg_data_key(sk);
  k->rx = wg_data_key(rk);
  wg_wipe(sk, 32);
  wg_wipe(rk, 32);
  if (!k->tx || !k->rx) {
    kp_free(d, slot);
    tsn_throw_code(env, "ERR_CRYPTO", "wgInstallKeypair: ChaCha20-Poly1305 context failed");
    return NULL;
  }
  k->local_index = li;
  k->remote_index = ri;
  k->born_ms = now_ms();
  k->peer = (int16_t)peer;
  k->initiator = initiator;
  k->live = 1;
  if (initiator) {
    /* Both sides may have initiated at once: a waiting responder session stays usable for receiving as
     * previous (the other side sends on it), as the kernel's noise.c does; else the old current is. */
    kp_free(d, p->prev);
    if (p->next >= 0) {
      kp_free(d, p->cur);
      p->prev = p->next;
      p->next = -1;
    } else {
      p->prev = p->cur;
    }
    p->cur = slot;
  } else {
    kp_free(d, p->next);
    p->next = slot;
  }
  double *r = wg_prow(d, peer);
  r[TSN_WPS_FLAGS] = (double)((int)r[TSN_WPS_FLAGS] & TSN_WPF_CONFIRMED);
  r[TSN_WPS_TX_COUNTER] = 0;
  sync_slots(d, peer);
  if (initiator && p->st_count) { /* what waited for this handshake leaves first (a responder's waits for confirmation) */
    wg_stage_flush(d, peer, now_ms());
    wg_tx_flush(d);
  }
  return NULL;
}

/* wgSendRaw(dev, ip: uint32, port, bytes): one handshake message. Returns bytes sent. Syscall: sendto. */
static napi_value js_send_raw(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t ip;
  int32_t port;
  void *data = NULL;
  size_t len = 0;
  napi_typedarray_type t = napi_int8_array;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  wg_dev *d = dev_get(env, argv[0]);
  if (!d) return NULL;
  if (argc < 4 || tsn_arg_u32(env, argv[1], &ip) || tsn_arg_i32(env, argv[2], &port) || port < 1 || port > 65535 ||
      napi_get_typedarray_info(env, argv[3], &t, &len, &data, NULL, NULL) != napi_ok || t != napi_uint8_array) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgSendRaw(dev, ip, port 1..65535, bytes: Uint8Array)");
    return NULL;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {.s_addr = htonl(ip)}};
  ssize_t r;
  do r = sendto(d->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    tsn_throw_errno(env, "sendto", NULL, errno);
    return NULL;
  }
  napi_value res;
  napi_create_int32(env, (int32_t)r, &res);
  return res;
}

/* wgClock() -> ms of CLOCK_MONOTONIC, the clock of the session timers. Syscall: clock_gettime. */
static napi_value js_clock(napi_env env, napi_callback_info info) {
  napi_value r;
  napi_create_double(env, now_ms(), &r);
  return r;
}

static void dev_free(napi_env env, wg_js *j) {
  if (!j) return;
  wg_dev *d = &j->dev;
  for (int i = 0; i < TSN_WG_KP_SLOTS; i++)
    if (d->kp[i].live || d->kp[i].tx || d->kp[i].rx) kp_free(d, i);
  if (d->fd >= 0) close(d->fd);
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) free(d->peers[i].stage);
  for (int i = 0; i < 4; i++)
    if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
  wg_arena_free(d->arena);
  free(d->backlog);
  free(d->open_scratch);
  wg_data_mac_free(d->mac);
  free(j);
}

static int opt_num(napi_env env, napi_value obj, const char *key, double dflt, double lo, double hi, double *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  *out = dflt;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_get_named_property(env, obj, key, &v);
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return 0;
  if (t != napi_number || napi_get_value_double(env, v, out) != napi_ok || *out < lo || *out > hi) {
    char msg[128];
    snprintf(msg, sizeof msg, "wgOpen: opts.%s must be a number from %g to %g", key, lo, hi);
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", msg);
    return -1;
  }
  return 0;
}

/*
 * wgOpen(localIp, port, status: Int32Array(TSN_WST_COUNT), vstatus: Int32Array(TSN_VST_COUNT),
 *        peerStats: Float64Array(256 * TSN_WPS_STRIDE), ctrl: Uint8Array(64 * 160),
 *        opts: { vxlanPort, tunnelMtu, rekeyAfterMs, rejectAfterMs, rekeyOnRxMs, netns? })
 *   -> { handle, fd, port }
 * Binds the WireGuard socket to localIp:port (0: ephemeral), inside opts.netns if given.
 * Syscalls: socket, setsockopt, bind, getsockname, close (on failure); open/setns/close with netns.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ip[64] = {0};
  size_t iplen = 0;
  int32_t port;
  void *st, *vst, *ps, *ctrl;
  napi_valuetype ot = napi_undefined;
  if (argc >= 7) napi_typeof(env, argv[6], &ot);
  if (argc < 7 || napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &iplen) != napi_ok || tsn_arg_i32(env, argv[1], &port) || port < 0 || port > 65535 ||
      tsn_arg_typed(env, argv[2], napi_int32_array, TSN_WST_COUNT, (void **)&st, NULL) || tsn_arg_typed(env, argv[3], napi_int32_array, TSN_VST_COUNT, (void **)&vst, NULL) ||
      tsn_arg_typed(env, argv[4], napi_float64_array, (size_t)TSN_WG_MAX_PEERS * TSN_WPS_STRIDE, (void **)&ps, NULL) ||
      tsn_arg_typed(env, argv[5], napi_uint8_array, (size_t)TSN_WG_CTRL_MAX * TSN_WG_CTRL_STRIDE, (void **)&ctrl, NULL) || ot != napi_object) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgOpen(localIp, port 0..65535, status, vstatus, peerStats, ctrl, opts)");
    return NULL;
  }
  struct in_addr local;
  if (inet_pton(AF_INET, ip, &local) != 1) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgOpen: local address is not an IPv4 address");
    return NULL;
  }
  double vxp, mtu, rekey, reject, rekey_rx;
  if (opt_num(env, argv[6], "vxlanPort", 4789, 1, 65535, &vxp) || opt_num(env, argv[6], "tunnelMtu", 1440, 68, 65535, &mtu) ||
      opt_num(env, argv[6], "rekeyAfterMs", 120000, 100, 1e9, &rekey) || opt_num(env, argv[6], "rejectAfterMs", 180000, 100, 1e9, &reject) ||
      opt_num(env, argv[6], "rekeyOnRxMs", 165000, 100, 1e9, &rekey_rx))
    return NULL;
  char netns[PATH_MAX] = "";
  napi_value jns;
  TSN_CALL(env, napi_get_named_property(env, argv[6], "netns", &jns));
  if (!tsn_netns_path_arg(env, jns, "wgOpen: opts.netns", netns, sizeof netns)) return NULL;
  if (!wg_chachapoly()) {
    tsn_throw_code(env, "ERR_CRYPTO", "wgOpen: this OpenSSL has no ChaCha20-Poly1305");
    return NULL;
  }
  int h = -1;
  for (int i = 0; i < WG_MAX_DEVS; i++)
    if (!devs[i]) {
      h = i;
      break;
    }
  if (h < 0) {
    tsn_throw_code(env, "ERR_OUT_OF_RANGE", "wgOpen: too many WireGuard VTEPs open");
    return NULL;
  }
  wg_js *j = calloc(1, sizeof *j);
  wg_dev *d = j ? &j->dev : NULL;
  if (!j || !(d->arena = wg_arena_alloc()) || !(d->open_scratch = malloc(TSN_SLOT_SIZE + 2 * WG_AEAD_BLOCK)) || !(d->mac = wg_data_mac())) {
    if (j) wg_arena_free(d->arena), free(d->open_scratch);
    free(j);
    tsn_throw_code(env, "ENOMEM", "wgOpen: out of memory");
    return NULL;
  }
  d->fd = -1;
  d->last_peer = -1;
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) d->peers[i].cur = d->peers[i].prev = d->peers[i].next = -1;
  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) {
    dev_free(env, j);
    return NULL;
  }
  const char *sys = "socket";
  int err = 0;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) err = errno;
  else {
    int buf = WG_SOCKBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    int on = 1;
    d->gro = (d->backlog = malloc((size_t)WG_BACKLOG_MSGS * TSN_SLOT_SIZE)) && setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = local};
    socklen_t sl = sizeof sa;
    sys = "bind";
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) err = errno;
    else if ((sys = "getsockname", getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)) err = errno;
    else d->port = ntohs(sa.sin_port);
    if (err) close(fd);
    else d->fd = fd;
  }
  tsn_netns_leave_js(saved);
  if (err) {
    char what[PATH_MAX + 96];
    snprintf(what, sizeof what, "%s:%d%s%s", ip, port, netns[0] ? " in netns " : "", netns);
    dev_free(env, j);
    tsn_throw_errno(env, sys, what, err);
    return NULL;
  }
  d->local = ntohl(local.s_addr);
  d->vxlan_port = (uint16_t)vxp;
  d->tunnel_mtu = (int)mtu;
  d->rekey_after_ms = rekey;
  d->reject_after_ms = reject;
  d->rekey_on_rx_ms = rekey_rx;
  d->st = st;
  d->vst = vst;
  d->ps = ps;
  d->ctrl = ctrl;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[2 + i], 1, &j->refs[i]);
  devs[h] = j;
  napi_value res, jh, jfd, jport;
  TSN_CALL(env, napi_create_object(env, &res));
  napi_create_int32(env, h, &jh);
  napi_create_int32(env, d->fd, &jfd);
  napi_create_int32(env, d->port, &jport);
  napi_set_named_property(env, res, "handle", jh);
  napi_set_named_property(env, res, "fd", jfd);
  napi_set_named_property(env, res, "port", jport);
  return res;
}

/* wgClose(handle): wipe every session and close the socket. Syscall: close. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t h;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || tsn_arg_i32(env, argv[0], &h) || h < 0 || h >= WG_MAX_DEVS || !devs[h]) return NULL;
  wg_js *j = devs[h];
  devs[h] = NULL;
  dev_free(env, j);
  return NULL;
}

napi_value tsn_wg_transport_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"wgOpen", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"wgClose", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"wgClock", NULL, js_clock, NULL, NULL, NULL, napi_default, NULL},
      {"wgPeerSet", NULL, js_peer_set, NULL, NULL, NULL, napi_default, NULL},
      {"wgPeerClear", NULL, js_peer_clear, NULL, NULL, NULL, napi_default, NULL},
      {"wgInstallKeypair", NULL, js_install, NULL, NULL, NULL, napi_default, NULL},
      {"wgSendRaw", NULL, js_send_raw, NULL, NULL, NULL, napi_default, NULL},
      {"wgSendKeepalive", NULL, js_send_keepalive, NULL, NULL, NULL, napi_default, NULL},
      {"wgRecvBurst", NULL, js_recv_burst, NULL, NULL, NULL, napi_default, NULL},
      {"wgSendBurst", NULL, js_send_burst, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value layout, n;
  napi_create_object(env, &layout);
#define SET(name, v) napi_create_int32(env, v, &n), napi_set_named_property(env, layout, name, n)
  SET("STATUS_COUNT", TSN_WST_COUNT);
  SET("PEER_STRIDE", TSN_WPS_STRIDE);
  SET("MAX_PEERS", TSN_WG_MAX_PEERS);
  SET("KP_SLOTS", TSN_WG_KP_SLOTS);
  SET("CTRL_MAX", TSN_WG_CTRL_MAX);
  SET("CTRL_STRIDE", TSN_WG_CTRL_STRIDE);
  SET("OVERHEAD", TSN_WG_OVERHEAD);
#undef SET
  napi_set_named_property(env, exports, "wgLayout", layout);
  return exports;
}
