/*
 * wg_transport.c - WireGuard transport data messages (type 4) between VTEPs, in bursts.
 *
 * An encrypted VTEP is one UDP socket bound to LOCAL_IP:51820. What travels inside a transport message
 * is what WireGuard always carries, an IP packet: here the VTEP-to-VTEP IPv4/UDP/VXLAN datagram, so a
 * real WireGuard peer (wireguard-go with the kernel's vxlan device on its wg0) decrypts it into an
 * ordinary VXLAN packet. The handshake (Noise_IKpsk2) runs in TypeScript; it installs each session's
 * two keys here with wgInstallKeypair, and everything per packet stays in C.
 *
 * Send, wgSendBurst (same contract as vtepSendBurst): per row and destination VTEP, the peer whose
 * VTEP address it is, its current keypair (no keypair, or one past REJECT_AFTER_TIME / messages: the
 * datagram is staged - up to 128 per peer, as the kernel's MAX_STAGED_PACKETS - and the peer flagged
 * for a handshake; the stage is sent when the session is installed, or confirmed for a responder, and
 * dropped as wg-no-session when the peer's sessions are wiped). GSO super-frames are cut by gso.c first.
 * Each datagram is sealed out of place into a staging arena: [type 4 | receiver | counter LE] then
 * ChaCha20-Poly1305(key, 0^32 || counter LE, IPv4 | UDP | VXLAN | frame | zero padding to 16) and the
 * tag. Equal-sized datagrams to one peer that lie back to back in the arena (the segments of one
 * super-frame) leave as one UDP_SEGMENT message; one sendmmsg per burst.
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
#include "errors.h"
#include "napi_args.h"
#include "gso.h"
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
#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE 3
#define WG_MSG_TRANSPORT 4
#define WG_TRANSPORT_HDR 16
#define WG_RX_BACK (WG_TRANSPORT_HDR + TSN_WG_INNER_HDR)
#define WG_REPLAY_WORDS 32 /* 2048 bits */
#define WG_REPLAY_BITS (WG_REPLAY_WORDS * 64)
#define WG_REKEY_AFTER_MESSAGES (1ull << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13)) /* 2^64 - 2^13 - 1 */
#define WG_MAX_MSGS 512
#define WG_ARENA (4u << 20)
#define WG_MAX_RX 256
#define WG_STAGE_MAX 128     /* staged frames per peer, as the kernel's MAX_STAGED_PACKETS */
#define WG_STAGE_ENTRY 2048  /* a staged frame (a 1500-byte frame, or a segment) and its 8-byte header */
#define WG_BACKLOG_MSGS 16 /* messages one UDP_GRO burst reads at most */
#define WG_GSO_MAX_BYTES 65507u
#define WG_GSO_MAX_SEGS 64
#define WG_SOCKBUF (4 << 20)

typedef struct {
  EVP_CIPHER_CTX *tx, *rx; /* keys set once; the nonce per message */
  uint32_t local_index, remote_index;
  uint64_t tx_counter;
  uint64_t rx_greatest; /* highest counter accepted + 1 (0: none yet) */
  uint64_t window[WG_REPLAY_WORDS];
  double born_ms;
  int16_t peer;
  uint8_t initiator, live;
} wg_keypair;

typedef struct {
  uint8_t used;
  uint32_t vtep; /* the peer's VTEP (inner) address, host order */
  struct sockaddr_in ep;
  int16_t cur, prev, next; /* keypair slots, -1 for none */
  /* Frames for the peer while it has no session, sent when one is installed (WG_STAGE_MAX, oldest out). */
  uint8_t *stage;          /* WG_STAGE_MAX entries of WG_STAGE_ENTRY bytes: vni 4 | sport 2 | len 2 | frame */
  uint16_t st_head, st_count;
} wg_peer;

typedef struct {
  int fd;
  uint32_t local;      /* our VTEP address, host order */
  uint16_t port;       /* our WireGuard port */
  uint16_t vxlan_port; /* the inner UDP destination port */
  int tunnel_mtu;      /* largest inner IPv4 packet (padding stops there) */
  double rekey_after_ms, reject_after_ms, rekey_on_rx_ms;
  int32_t *st;   /* TSN_WST_* */
  int32_t *vst;  /* TSN_VST_* (the Underlay's send status) */
  double *ps;    /* TSN_WPS_* rows */
  uint8_t *ctrl; /* TSN_WG_CTRL_MAX * TSN_WG_CTRL_STRIDE */
  napi_ref refs[4];
  wg_peer peers[TSN_WG_MAX_PEERS];
  wg_keypair kp[TSN_WG_KP_SLOTS];
  int last_peer;
  /* send staging */
  uint8_t *arena;
  size_t arena_pos;
  struct mmsghdr msgs[WG_MAX_MSGS];
  struct iovec iovs[WG_MAX_MSGS];
  struct sockaddr_in names[WG_MAX_MSGS];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrlmsg[WG_MAX_MSGS];
  uint16_t seg[WG_MAX_MSGS];    /* datagram size of a UDP_SEGMENT run */
  uint16_t dgrams[WG_MAX_MSGS]; /* datagrams in the message */
  uint8_t tail[WG_MAX_MSGS];    /* the run ended with a shorter datagram */
  int16_t peer_of[WG_MAX_MSGS];
  uint32_t bytes_of[WG_MAX_MSGS];
  int nmsg;
  /* receive */
  struct mmsghdr rmsgs[WG_MAX_RX];
  struct iovec riovs[WG_MAX_RX];
  struct sockaddr_in rnames[WG_MAX_RX];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } rctrl[WG_MAX_RX];
  int gro; /* UDP_GRO is on: a message may hold several datagrams of one size */
  /* The datagrams of received messages a burst had no slot for, opened first in the next burst (in order). */
  uint8_t *backlog; /* WG_BACKLOG_MSGS * TSN_SLOT_SIZE bytes */
  struct {
    uint32_t off, len, step;
    struct sockaddr_in from;
  } bl[WG_BACKLOG_MSGS];
  int nbl;
} wg_dev;

static wg_dev *devs[WG_MAX_DEVS];

#define rd16 tsn_rd16
#define rd32 tsn_rd32
#define wr16 tsn_wr16
#define wr32 tsn_wr32
/* WireGuard's own fields are little-endian. */
static inline uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static inline uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }
static inline void put_le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }
static inline void put_le64(uint8_t *p, uint64_t v) { put_le32(p, (uint32_t)v), put_le32(p + 4, (uint32_t)(v >> 32)); }

/* Milliseconds of CLOCK_MONOTONIC: the clock every timer of this file and of the JS side reads. Syscall: clock_gettime. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline double *prow(wg_dev *d, int peer) { return d->ps + (size_t)peer * TSN_WPS_STRIDE; }

static void flag_peer(wg_dev *d, int peer, int flag) {
  double *r = prow(d, peer);
  int f = (int)r[TSN_WPS_FLAGS];
  if ((f & flag) == flag) return;
  r[TSN_WPS_FLAGS] = f | flag;
  d->st[TSN_WST_ATTENTION]++;
}

/* Mirror a peer's session slots into its stats row (the TypeScript side allocates indices around them). */
static void sync_slots(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  double *r = prow(d, peer);
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

/* ---- send ---- */

static void batch_flush(wg_dev *d) {
  int i = 0;
  while (i < d->nmsg) {
    int r = sendmmsg(d->fd, d->msgs + i, (unsigned)(d->nmsg - i), 0);
    d->vst[TSN_TXS_SYSCALLS]++;
    if (r < 0) {
      int e = errno;
      if (e == EINTR) continue;
      if (tsn_txs_drop_for(e) == TSN_TXS_DROP_FULL) { /* the socket buffer is full: nothing after it goes either */
        for (; i < d->nmsg; i++) tsn_txs_count_errno(d->vst, e, d->dgrams[i]);
        break;
      }
      tsn_txs_count_errno(d->vst, e, d->dgrams[i]);
      i++;
      continue;
    }
    for (int k = 0; k < r; k++) {
      d->vst[TSN_TXS_SENT] += d->dgrams[i + k];
      double *pr = prow(d, d->peer_of[i + k]);
      pr[TSN_WPS_TX_BYTES] += d->bytes_of[i + k];
      pr[TSN_WPS_TX_PACKETS] += d->dgrams[i + k];
    }
    i += r;
  }
  d->nmsg = 0;
  d->arena_pos = 0;
}

/* Send what is pending when the arena or the message array could not take one more datagram of @bytes. */
static void room_for(wg_dev *d, size_t bytes) {
  if (d->nmsg < WG_MAX_MSGS && d->arena_pos + bytes <= WG_ARENA) return;
  batch_flush(d);
}

/* Queue the sealed datagram at @p (@len bytes, in the arena) to @peer; extend the previous message as a UDP_SEGMENT run when it can. */
static void queue_datagram(wg_dev *d, int peer, uint8_t *p, size_t len) {
  if (d->nmsg > 0) {
    int i = d->nmsg - 1;
    struct iovec *v = &d->iovs[i];
    if (d->peer_of[i] == peer && !d->tail[i] && (uint8_t *)v->iov_base + v->iov_len == p && len <= d->seg[i] && v->iov_len + len <= WG_GSO_MAX_BYTES &&
        d->dgrams[i] < WG_GSO_MAX_SEGS) {
      v->iov_len += len;
      d->dgrams[i]++;
      d->bytes_of[i] += (uint32_t)len;
      if (len < d->seg[i]) d->tail[i] = 1;
      struct msghdr *m = &d->msgs[i].msg_hdr;
      m->msg_control = d->ctrlmsg[i].buf;
      m->msg_controllen = sizeof d->ctrlmsg[i].buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(m);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      memcpy(CMSG_DATA(c), &d->seg[i], sizeof(uint16_t));
      return;
    }
  }
  int i = d->nmsg++; /* callers made room first (room_for): @p must not move */
  d->names[i] = d->peers[peer].ep;
  d->iovs[i].iov_base = p;
  d->iovs[i].iov_len = len;
  d->seg[i] = (uint16_t)len;
  d->dgrams[i] = 1;
  d->tail[i] = 0;
  d->peer_of[i] = (int16_t)peer;
  d->bytes_of[i] = (uint32_t)len;
  struct msghdr *m = &d->msgs[i].msg_hdr;
  memset(m, 0, sizeof *m);
  m->msg_name = &d->names[i];
  m->msg_namelen = sizeof d->names[i];
  m->msg_iov = &d->iovs[i];
  m->msg_iovlen = 1;
}

/* The keypair @peer may send with now, or -1 (flagging the peer for a handshake or a rekey as due). */
static int send_keypair(wg_dev *d, int peer, double now) {
  wg_peer *p = &d->peers[peer];
  if (p->cur < 0) {
    flag_peer(d, peer, TSN_WPF_NEED_HANDSHAKE);
    return -1;
  }
  wg_keypair *k = &d->kp[p->cur];
  double age = now - k->born_ms;
  if (age >= d->reject_after_ms || k->tx_counter >= WG_REJECT_AFTER_MESSAGES) {
    flag_peer(d, peer, TSN_WPF_NEED_HANDSHAKE);
    return -1;
  }
  if ((k->initiator && age >= d->rekey_after_ms) || k->tx_counter >= WG_REKEY_AFTER_MESSAGES) flag_peer(d, peer, TSN_WPF_REKEY);
  return p->cur;
}

/*
 * seal() - One transport message into the arena: header, then the sealed inner packet made of @hdr
 * (the inner IPv4/UDP/VXLAN headers, @hlen bytes, may be 0) and @body (@blen bytes), zero-padded to a
 * multiple of 16 within the tunnel MTU. Returns the arena bytes written, or 0 (arena full or a cipher
 * failure; the caller flushes and retries once). No syscalls.
 */
static size_t seal(wg_dev *d, wg_keypair *k, const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t blen) {
  static const uint8_t zeros[16];
  size_t plain = hlen + blen, padded = (plain + 15) & ~(size_t)15;
  if (padded > (size_t)d->tunnel_mtu) padded = plain > (size_t)d->tunnel_mtu ? plain : (size_t)d->tunnel_mtu;
  size_t total = WG_TRANSPORT_HDR + padded + WG_TAG_LEN;
  if (d->arena_pos + total > WG_ARENA) return 0;
  uint8_t *m = d->arena + d->arena_pos;
  uint64_t ctr = k->tx_counter;
  put_le32(m, WG_MSG_TRANSPORT);
  put_le32(m + 4, k->remote_index);
  put_le64(m + 8, ctr);
  uint8_t nonce[12] = {0};
  put_le64(nonce + 4, ctr);
  int n = 0;
  uint8_t *o = m + WG_TRANSPORT_HDR;
  if (EVP_EncryptInit_ex(k->tx, NULL, NULL, NULL, nonce) != 1) return 0;
  if (hlen && EVP_EncryptUpdate(k->tx, o, &n, hdr, (int)hlen) != 1) return 0;
  if (blen && EVP_EncryptUpdate(k->tx, o + hlen, &n, body, (int)blen) != 1) return 0;
  if (padded > plain && EVP_EncryptUpdate(k->tx, o + plain, &n, zeros, (int)(padded - plain)) != 1) return 0;
  if (EVP_EncryptFinal_ex(k->tx, o + padded, &n) != 1) return 0;
  if (EVP_CIPHER_CTX_ctrl(k->tx, EVP_CTRL_AEAD_GET_TAG, WG_TAG_LEN, o + padded) != 1) return 0;
  k->tx_counter = ctr + 1;
  d->arena_pos += total;
  return total;
}

/* The inner IPv4 + UDP + VXLAN headers from our VTEP to @dst (host order), for @flen bytes of frame. */
static void inner_headers(wg_dev *d, uint8_t h[TSN_WG_INNER_HDR], uint32_t dst, uint32_t vni, size_t flen, uint16_t sport) {
  size_t udplen = 8 + 8 + flen, iplen = 20 + udplen;
  memset(h, 0, TSN_WG_INNER_HDR);
  h[0] = 0x45;
  wr16(h + 2, (uint16_t)iplen);
  wr16(h + 6, 0x4000); /* DF: the tunnel carries it whole */
  h[8] = 64;
  h[9] = 17;
  wr32(h + 12, d->local);
  wr32(h + 16, dst);
  uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(h, 20, 0));
  memcpy(h + 10, &c, 2);
  wr16(h + 20, sport);
  wr16(h + 22, d->vxlan_port);
  wr16(h + 24, (uint16_t)udplen);
  /* UDP checksum 0: allowed over IPv4 (RFC 768, RFC 7348); the AEAD already covers every byte. */
  wr32(h + 28, 0x08u << 24);
  wr32(h + 32, (vni & 0xffffffu) << 8);
}

/* One inner frame to one peer: returns 0, or -1 when it could not be sealed (counted by the caller). */
/*
 * stage_push() - Keep a frame for @peer until it has a session, as WireGuard queues packets during
 * a handshake: at most WG_STAGE_MAX (the oldest goes, counted wg-no-session), frames larger than an
 * entry are dropped and counted the same. No syscalls.
 */
static void stage_push(wg_dev *d, int peer, uint32_t vni, const uint8_t *frame, size_t len, uint16_t sport) {
  wg_peer *p = &d->peers[peer];
  if (len > WG_STAGE_ENTRY - 8 || (!p->stage && !(p->stage = malloc((size_t)WG_STAGE_MAX * WG_STAGE_ENTRY)))) {
    d->st[TSN_WST_TX_NO_SESSION]++;
    return;
  }
  if (p->st_count == WG_STAGE_MAX) {
    p->st_head = (uint16_t)((p->st_head + 1) % WG_STAGE_MAX);
    p->st_count--;
    d->st[TSN_WST_TX_NO_SESSION]++;
  }
  uint8_t *e = p->stage + (size_t)((p->st_head + p->st_count) % WG_STAGE_MAX) * WG_STAGE_ENTRY;
  memcpy(e, &vni, 4);
  memcpy(e + 4, &sport, 2);
  uint16_t l16 = (uint16_t)len;
  memcpy(e + 6, &l16, 2);
  memcpy(e + 8, frame, len);
  p->st_count++;
  prow(d, peer)[TSN_WPS_STAGED] = p->st_count;
}

/* Drop what is staged for @peer (counted wg-no-session) and free the stage. */
static void stage_drop(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  d->st[TSN_WST_TX_NO_SESSION] += p->st_count;
  free(p->stage);
  p->stage = NULL;
  p->st_head = p->st_count = 0;
  prow(d, peer)[TSN_WPS_STAGED] = 0;
}

static int send_one(wg_dev *d, int peer, int slot, uint32_t vni, const uint8_t *frame, size_t len, uint16_t sport, double now);

/* @peer has a session now: seal what was staged for it, in order (sent by the next batch_flush). */
static void stage_flush(wg_dev *d, int peer, double now) {
  wg_peer *p = &d->peers[peer];
  for (; p->st_count > 0 && p->cur >= 0; p->st_count--, p->st_head = (uint16_t)((p->st_head + 1) % WG_STAGE_MAX)) {
    const uint8_t *e = p->stage + (size_t)p->st_head * WG_STAGE_ENTRY;
    uint32_t vni;
    uint16_t sport, len;
    memcpy(&vni, e, 4);
    memcpy(&sport, e + 4, 2);
    memcpy(&len, e + 6, 2);
    if (send_one(d, peer, p->cur, vni, e + 8, len, sport, now)) d->vst[TSN_TXS_DROP_ERR]++;
  }
  p->st_head = 0;
  prow(d, peer)[TSN_WPS_STAGED] = 0;
}

/* Seal one datagram for @peer with keypair @slot, or stage it when @slot < 0 (no session yet). */
static int send_one(wg_dev *d, int peer, int slot, uint32_t vni, const uint8_t *frame, size_t len, uint16_t sport, double now) {
  if (slot < 0) {
    stage_push(d, peer, vni, frame, len, sport);
    return 0;
  }
  uint8_t h[TSN_WG_INNER_HDR];
  wg_keypair *k = &d->kp[slot];
  inner_headers(d, h, d->peers[peer].vtep, vni, len, sport);
  room_for(d, WG_TRANSPORT_HDR + sizeof h + len + 16 + WG_TAG_LEN);
  size_t start = d->arena_pos;
  size_t n = seal(d, k, h, sizeof h, frame, len);
  if (!n) return -1;
  queue_datagram(d, peer, d->arena + start, n);
  double *r = prow(d, peer);
  r[TSN_WPS_LAST_TX] = r[TSN_WPS_LAST_DATA_TX] = now;
  r[TSN_WPS_TX_COUNTER] = (double)k->tx_counter;
  return 0;
}

struct seg_ctx {
  wg_dev *d;
  const int *peers;
  const int *slots;
  int n;
  uint32_t vni;
  uint16_t sport;
  double now;
  int failed;
};

/* tsn_emit_fn: seal one segment of a super-frame for every destination of the row. */
static int emit_segment(void *ctx, const uint8_t *seg, size_t len) {
  struct seg_ctx *c = ctx;
  for (int i = 0; i < c->n; i++)
    if (send_one(c->d, c->peers[i], c->slots[i], c->vni, seg, len, c->sport, c->now)) c->failed++;
  c->d->vst[TSN_TXS_SEGMENTS]++;
  return 0;
}

static int find_peer(wg_dev *d, uint32_t vtep) {
  int lp = d->last_peer;
  if (lp >= 0 && d->peers[lp].used && d->peers[lp].vtep == vtep) return lp;
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++)
    if (d->peers[i].used && d->peers[i].vtep == vtep) return d->last_peer = i;
  return -1;
}

static uint16_t source_port(const uint8_t *f, size_t len) {
  /* A hash of the inner flow picks the inner UDP source port (RFC 7348 section 5), as the kernel's vxlan does. */
  uint32_t h = 0x9e3779b9u;
  if (len >= 14 + 20 && rd16(f + 12) == 0x0800) {
    const uint8_t *ip = f + 14;
    h ^= rd32(ip + 12) * 0x85ebca6bu ^ rd32(ip + 16) * 0xc2b2ae35u ^ ip[9];
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if ((ip[9] == 6 || ip[9] == 17) && len >= 14 + ihl + 4 && (rd16(ip + 6) & 0x3fff) == 0) h ^= rd32(ip + ihl) * 0x27d4eb2du;
  } else if (len >= 12) {
    h ^= rd32(f) ^ rd32(f + 6) * 0x85ebca6bu;
  }
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  return (uint16_t)(49152 + (h % 16384));
}

static wg_dev *dev_get(napi_env env, napi_value v) {
  int32_t h;
  if (napi_get_value_int32(env, v, &h) != napi_ok || h < 0 || h >= WG_MAX_DEVS || !devs[h]) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "not an open WireGuard VTEP handle");
    return NULL;
  }
  return devs[h];
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
  memset(d->vst, 0, sizeof(int32_t) * TSN_TXS_COUNT);
  double now = now_ms();
  int dpeer[TSN_WG_MAX_PEERS], dslot[TSN_WG_MAX_PEERS];
  for (int32_t r = 0; r < count; r++) {
    int32_t row = p->tx_idx[r];
    if (row < 0 || (uint32_t)row >= p->slots) continue;
    int32_t *desc = p->desc + (size_t)row * TSN_DESC_STRIDE;
    int32_t off = desc[TSN_D_OFF], len = desc[TSN_D_LEN];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > p->len) {
      d->vst[TSN_TXS_DROP_BAD_GSO]++;
      continue;
    }
    uint8_t *frame = p->base + off;
    int n = 0;
    uint32_t one = dst[r];
    const uint32_t *list = one ? &one : bum;
    int nl = one ? 1 : npeers;
    for (int i = 0; i < nl && n < TSN_WG_MAX_PEERS; i++) {
      int peer = find_peer(d, list[i]);
      if (peer < 0) {
        d->st[TSN_WST_TX_UNKNOWN_PEER]++;
        continue;
      }
      int slot = send_keypair(d, peer, now); /* -1: staged until the handshake it asked for is done */
      dpeer[n] = peer;
      dslot[n] = slot;
      n++;
    }
    if (n == 0) continue;
    uint16_t sport = source_port(frame, (size_t)len);
    struct tsn_vnet vh = {.flags = (uint8_t)desc[TSN_D_VFLAGS], .gso_type = (uint8_t)desc[TSN_D_GSO_TYPE], .hdr_len = (uint16_t)desc[TSN_D_HDR_LEN],
                          .gso_size = (uint16_t)desc[TSN_D_GSO_SIZE], .csum_start = (uint16_t)desc[TSN_D_CSUM_START], .csum_offset = (uint16_t)desc[TSN_D_CSUM_OFF]};
    if ((vh.gso_type & ~TSN_GSO_ECN) != TSN_GSO_NONE) {
      struct seg_ctx c = {.d = d, .peers = dpeer, .slots = dslot, .n = n, .vni = (uint32_t)vni, .sport = sport, .now = now};
      if (tsn_gso_segment(frame, (size_t)len, &vh, p->scratch, TSN_SLOT_SIZE, emit_segment, &c) < 0) d->vst[TSN_TXS_DROP_BAD_GSO]++;
      if (c.failed) d->vst[TSN_TXS_DROP_ERR] += c.failed;
      continue;
    }
    if (vh.flags & TSN_VNET_F_NEEDS_CSUM) {
      if (tsn_csum_complete(frame, (size_t)len, vh.csum_start, vh.csum_offset) < 0) {
        d->vst[TSN_TXS_DROP_BAD_GSO]++;
        continue;
      }
      desc[TSN_D_VFLAGS] = (desc[TSN_D_VFLAGS] & ~TSN_VNET_F_NEEDS_CSUM) | TSN_VNET_F_DATA_VALID;
    }
    for (int i = 0; i < n; i++)
      if (send_one(d, dpeer[i], dslot[i], (uint32_t)vni, frame, (size_t)len, sport, now)) d->vst[TSN_TXS_DROP_ERR]++;
  }
  batch_flush(d);
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
  double now = now_ms();
  int slot = send_keypair(d, peer, now);
  bool ok = false;
  if (slot >= 0) {
    room_for(d, WG_TRANSPORT_HDR + 16 + WG_TAG_LEN);
    size_t start = d->arena_pos, n = seal(d, &d->kp[slot], NULL, 0, NULL, 0);
    if (n) {
      queue_datagram(d, peer, d->arena + start, n);
      prow(d, peer)[TSN_WPS_LAST_TX] = now;
      prow(d, peer)[TSN_WPS_TX_COUNTER] = (double)d->kp[slot].tx_counter;
      int32_t before = d->vst[TSN_TXS_SENT];
      batch_flush(d);
      ok = d->vst[TSN_TXS_SENT] > before;
    }
  }
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
  uint32_t idx = le32(m + 4);
  wg_keypair *k = &d->kp[idx % TSN_WG_KP_SLOTS];
  if (!k->live || k->local_index != idx || now - k->born_ms >= d->reject_after_ms) {
    d->st[TSN_WST_RX_NO_SESSION]++;
    return -1;
  }
  uint64_t ctr = le64(m + 8);
  if (!replay_ok(k, ctr)) { /* cheap early out; checked again after the tag */
    d->st[TSN_WST_RX_REPLAY]++;
    return -1;
  }
  uint8_t nonce[12] = {0};
  put_le64(nonce + 4, ctr);
  size_t clen = len - WG_TRANSPORT_HDR - WG_TAG_LEN;
  uint8_t *c = m + WG_TRANSPORT_HDR;
  int n = 0;
  if (EVP_DecryptInit_ex(k->rx, NULL, NULL, NULL, nonce) != 1 || EVP_CIPHER_CTX_ctrl(k->rx, EVP_CTRL_AEAD_SET_TAG, WG_TAG_LEN, c + clen) != 1 ||
      (clen && EVP_DecryptUpdate(k->rx, c, &n, c, (int)clen) != 1) || EVP_DecryptFinal_ex(k->rx, c + clen, &n) != 1) {
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
    flag_peer(d, peer, TSN_WPF_CONFIRMED);
    stage_flush(d, peer, now);
  }
  double *r = prow(d, peer);
  p->ep = *from;
  r[TSN_WPS_EP_IP] = ntohl(from->sin_addr.s_addr);
  r[TSN_WPS_EP_PORT] = ntohs(from->sin_port);
  r[TSN_WPS_RX_BYTES] += (double)len;
  r[TSN_WPS_RX_PACKETS] += 1;
  r[TSN_WPS_LAST_RX] = now;
  if (k->initiator && slot == p->cur && now - k->born_ms >= d->rekey_on_rx_ms) flag_peer(d, peer, TSN_WPF_REKEY);
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
  uint32_t type = le32(m);
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
  d->st[TSN_WST_RX_BACKLOG] = d->nbl;
  if (d->nmsg) batch_flush(d); /* frames staged for a peer whose session was just confirmed */
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
    memset(prow(d, peer), 0, sizeof(double) * TSN_WPS_STRIDE);
    sync_slots(d, peer);
  }
  p->used = 1;
  p->vtep = vtep;
  p->ep.sin_family = AF_INET;
  p->ep.sin_addr.s_addr = htonl(ep);
  p->ep.sin_port = htons((uint16_t)port);
  prow(d, peer)[TSN_WPS_EP_IP] = ep;
  prow(d, peer)[TSN_WPS_EP_PORT] = port;
  d->last_peer = -1;
  return NULL;
}

static void peer_clear_keys(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  stage_drop(d, peer);
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

static EVP_CIPHER_CTX *keyed_ctx(const uint8_t key[32], int enc) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  uint8_t zero[12] = {0};
  if (c && EVP_CipherInit_ex(c, wg_chachapoly(), NULL, key, zero, enc) == 1) return c;
  EVP_CIPHER_CTX_free(c);
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
  k->tx = keyed_ctx(sk, 1);
  k->rx = keyed_ctx(rk, 0);
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
  double *r = prow(d, peer);
  r[TSN_WPS_FLAGS] = (double)((int)r[TSN_WPS_FLAGS] & TSN_WPF_CONFIRMED);
  r[TSN_WPS_TX_COUNTER] = 0;
  sync_slots(d, peer);
  if (initiator && p->st_count) { /* what waited for this handshake leaves first (a responder's waits for confirmation) */
    stage_flush(d, peer, now_ms());
    batch_flush(d);
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

static void dev_free(napi_env env, wg_dev *d) {
  if (!d) return;
  for (int i = 0; i < TSN_WG_KP_SLOTS; i++)
    if (d->kp[i].live || d->kp[i].tx || d->kp[i].rx) kp_free(d, i);
  if (d->fd >= 0) close(d->fd);
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) free(d->peers[i].stage);
  for (int i = 0; i < 4; i++)
    if (d->refs[i]) napi_delete_reference(env, d->refs[i]);
  free(d->arena);
  free(d->backlog);
  free(d);
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
  wg_dev *d = calloc(1, sizeof *d);
  if (!d || !(d->arena = malloc(WG_ARENA))) {
    free(d);
    tsn_throw_code(env, "ENOMEM", "wgOpen: out of memory");
    return NULL;
  }
  d->fd = -1;
  d->last_peer = -1;
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) d->peers[i].cur = d->peers[i].prev = d->peers[i].next = -1;
  int saved;
  if (!tsn_netns_enter_js(env, netns, &saved)) {
    dev_free(env, d);
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
    dev_free(env, d);
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
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[2 + i], 1, &d->refs[i]);
  devs[h] = d;
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
  wg_dev *d = devs[h];
  devs[h] = NULL;
  dev_free(env, d);
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
