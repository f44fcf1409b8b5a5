/*
 * wg_tx.c - a WireGuard VTEP's send path (wgSendBurst, wgSendKeepalive; the glue is wg_transport.c).
 *
 * Per row and destination VTEP: the peer whose VTEP address it is, its current keypair (no keypair, or
 * one past REJECT_AFTER_TIME / messages: the datagram is staged - up to 128 per peer, as the kernel's
 * MAX_STAGED_PACKETS - and the peer flagged for a handshake; the stage is sent when the session is
 * installed, or confirmed for a responder, and dropped as wg-no-session when the peer's sessions are
 * wiped). GSO super-frames are cut by gso.c first. Each datagram is sealed out of place into a staging
 * arena: [type 4 | receiver | counter LE] then ChaCha20-Poly1305(key, 0^32 || counter LE, IPv4 | UDP |
 * VXLAN | frame | zero padding to 16) and the tag. Equal-sized datagrams to one peer that lie back to
 * back in the arena (the segments of one super-frame) leave as one UDP_SEGMENT message; one sendmmsg
 * per burst (udp_batch.c).
 *
 * Syscall: sendmmsg.
 */
#define _GNU_SOURCE
#include "wg_dev.h"
#include "flow_hash.h"
#include "gso.h"
#include "layout.h"
#include "tx_offload.h"
#include "tx_status.h"
#include "udp_batch.h"
#include "wire.h"
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#define WG_GSO_MAX_BYTES 65507u
#define WG_GSO_MAX_SEGS 64
#define WG_SEAL_ERRNO EIO /* what a failed seal counts as (TSN_TXS_DROP_ERR): libcrypto gives no errno */

/* udp_batch.c's callback: a message the kernel took counts for its peer. */
static void count_peer_tx(void *ctx, int i) {
  wg_dev *d = ctx;
  double *pr = wg_prow(d, d->peer_of[i]);
  pr[TSN_WPS_TX_BYTES] += d->bytes_of[i];
  pr[TSN_WPS_TX_PACKETS] += d->dgrams[i];
}

void wg_tx_flush(wg_dev *d) {
  tsn_udp_batch_send(d->fd, d->msgs, d->dgrams, d->nmsg, d->vst, count_peer_tx, d);
  d->nmsg = 0;
  d->arena_pos = 0;
}

/* Send what is pending when the arena or the message array could not take one more datagram of @bytes. */
static void room_for(wg_dev *d, size_t bytes) {
  if (d->nmsg < WG_MAX_MSGS && d->arena_pos + bytes <= WG_ARENA) return;
  wg_tx_flush(d);
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
    wg_flag_peer(d, peer, TSN_WPF_NEED_HANDSHAKE);
    return -1;
  }
  wg_keypair *k = &d->kp[p->cur];
  double age = now - k->born_ms;
  if (age >= d->reject_after_ms || k->tx_counter >= WG_REJECT_AFTER_MESSAGES) {
    wg_flag_peer(d, peer, TSN_WPF_NEED_HANDSHAKE);
    return -1;
  }
  if ((k->initiator && age >= d->rekey_after_ms) || k->tx_counter >= WG_REKEY_AFTER_MESSAGES) wg_flag_peer(d, peer, TSN_WPF_REKEY);
  return p->cur;
}

/*
 * seal() - One transport message into the arena: header, then the sealed inner packet made of @hdr
 * (the inner IPv4/UDP/VXLAN headers, @hlen bytes, may be 0) and @body (@blen bytes), zero-padded to a
 * multiple of 16 within the tunnel MTU. Returns the arena bytes written, or 0 (arena full or a cipher
 * failure; the caller flushes and retries once). The arena keeps WG_AEAD_SLACK bytes past its end for
 * what sealing scribbles after a message. No syscalls.
 */
static size_t seal(wg_dev *d, wg_keypair *k, const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t blen) {
  size_t plain = hlen + blen, padded = (plain + 15) & ~(size_t)15;
  if (padded > (size_t)d->tunnel_mtu) padded = plain > (size_t)d->tunnel_mtu ? plain : (size_t)d->tunnel_mtu;
  size_t total = WG_TRANSPORT_HDR + padded + WG_TAG_LEN;
  if (d->arena_pos + total > WG_ARENA) return 0;
  uint8_t *m = d->arena + d->arena_pos;
  uint64_t ctr = k->tx_counter;
  uint8_t *o = m + WG_TRANSPORT_HDR;
  /* The plaintext laid out whole where the ciphertext goes, then one in-place seal (wg_data_aead.c: the
   * Poly1305 key block is made in the WG_AEAD_BLOCK bytes in front, which wg_arena_alloc left room for
   * at the arena's start, and the header is written after). */
  if (hlen) memcpy(o, hdr, hlen);
  if (blen) memcpy(o + hlen, body, blen);
  if (padded > plain) memset(o + plain, 0, padded - plain);
  if (wg_data_seal(k->tx, d->mac, ctr, o, padded) != 0) return 0;
  wg_put_le32(m, WG_MSG_TRANSPORT);
  wg_put_le32(m + 4, k->remote_index);
  wg_put_le64(m + 8, ctr);
  k->tx_counter = ctr + 1;
  d->arena_pos += total;
  return total;
}

/* The inner IPv4 + UDP + VXLAN headers from our VTEP to @dst (host order), for @flen bytes of frame. */
static void inner_headers(wg_dev *d, uint8_t h[TSN_WG_INNER_HDR], uint32_t dst, uint32_t vni, size_t flen, uint16_t sport) {
  size_t udplen = 8 + 8 + flen, iplen = 20 + udplen;
  memset(h, 0, TSN_WG_INNER_HDR);
  h[0] = 0x45;
  tsn_wr16(h + 2, (uint16_t)iplen);
  tsn_wr16(h + 6, 0x4000); /* DF: the tunnel carries it whole */
  h[8] = 64;
  h[9] = 17;
  tsn_wr32(h + 12, d->local);
  tsn_wr32(h + 16, dst);
  uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(h, 20, 0));
  memcpy(h + 10, &c, 2);
  tsn_wr16(h + 20, sport);
  tsn_wr16(h + 22, d->vxlan_port);
  tsn_wr16(h + 24, (uint16_t)udplen);
  /* UDP checksum 0: allowed over IPv4 (RFC 768, RFC 7348); the AEAD already covers every byte. */
  tsn_wr32(h + 28, 0x08u << 24);
  tsn_wr32(h + 32, (vni & 0xffffffu) << 8);
}

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
  wg_prow(d, peer)[TSN_WPS_STAGED] = p->st_count;
}

void wg_stage_drop(wg_dev *d, int peer) {
  wg_peer *p = &d->peers[peer];
  d->st[TSN_WST_TX_NO_SESSION] += p->st_count;
  free(p->stage);
  p->stage = NULL;
  p->st_head = p->st_count = 0;
  wg_prow(d, peer)[TSN_WPS_STAGED] = 0;
}

/* Seal one datagram for @peer with keypair @slot, or stage it when @slot < 0 (no session yet): 0, or -1 when it could not be sealed (counted by the caller). */
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
  double *r = wg_prow(d, peer);
  r[TSN_WPS_LAST_TX] = r[TSN_WPS_LAST_DATA_TX] = now;
  r[TSN_WPS_TX_COUNTER] = (double)k->tx_counter;
  return 0;
}

void wg_stage_flush(wg_dev *d, int peer, double now) {
  wg_peer *p = &d->peers[peer];
  for (; p->st_count > 0 && p->cur >= 0; p->st_count--, p->st_head = (uint16_t)((p->st_head + 1) % WG_STAGE_MAX)) {
    const uint8_t *e = p->stage + (size_t)p->st_head * WG_STAGE_ENTRY;
    uint32_t vni;
    uint16_t sport, len;
    memcpy(&vni, e, 4);
    memcpy(&sport, e + 4, 2);
    memcpy(&len, e + 6, 2);
    if (send_one(d, peer, p->cur, vni, e + 8, len, sport, now)) tsn_txs_count_errno(d->vst, WG_SEAL_ERRNO, 1);
  }
  p->st_head = 0;
  wg_prow(d, peer)[TSN_WPS_STAGED] = 0;
}

/* One super-frame being cut and sealed for the destinations of its row. */
struct seg_ctx {
  wg_dev *d;
  const int *peers;
  const int *slots;
  int n;
  uint32_t vni;
  uint16_t sport;
  double now;
  int segs;                     /* segments cut so far */
  int failed[TSN_WG_MAX_PEERS]; /* per destination: segments that could not be sealed */
};

/* tsn_emit_fn: seal one segment of a super-frame for every destination of the row. */
static int emit_segment(void *ctx, const uint8_t *seg, size_t len) {
  struct seg_ctx *c = ctx;
  int sealed = 0;
  for (int i = 0; i < c->n; i++) {
    if (send_one(c->d, c->peers[i], c->slots[i], c->vni, seg, len, c->sport, c->now)) c->failed[i]++;
    else sealed++;
  }
  c->segs++;
  if (sealed) c->d->vst[TSN_TXS_SEGMENTS]++; /* once per segment however many VTEPs it goes to, as vtep_tx.c counts */
  return 0;
}

/* Count the destinations whose copy of the super-frame was cut short or lost whole (tx_status.h, as burst.c does). */
static void count_seg_failures(const struct seg_ctx *c) {
  for (int i = 0; i < c->n; i++)
    if (c->failed[i]) tsn_txs_count_cut(c->d->vst, WG_SEAL_ERRNO, c->segs - c->failed[i], c->failed[i]);
}

static int find_peer(wg_dev *d, uint32_t vtep) {
  int lp = d->last_peer;
  if (lp >= 0 && d->peers[lp].used && d->peers[lp].vtep == vtep) return lp;
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++)
    if (d->peers[i].used && d->peers[i].vtep == vtep) return d->last_peer = i;
  return -1;
}

/* The inner UDP source port: a hash of the inner flow in the dynamic range (RFC 7348 section 5), as the kernel's vxlan does. */
static uint16_t source_port(const uint8_t *f, size_t len) { return (uint16_t)(49152 + tsn_flow_hash(f, len) % 16384); }

int32_t wg_tx_burst(wg_dev *d, const struct wg_tx_rows *rows, uint32_t vni, int32_t count, const uint32_t *dst, const uint32_t *bum, int32_t nbum, double now) {
  /* Start from what left since JS last read the status (releases at a handshake, keepalives), not zero. */
  for (int k = 0; k < TSN_TXS_COUNT; k++) {
    if (k == TSN_TXS_LAST_ERRNO) d->vst[k] = d->vst[k] != d->vst_read[k] ? d->vst[k] : 0;
    else d->vst[k] -= d->vst_read[k];
  }
  int dpeer[TSN_WG_MAX_PEERS], dslot[TSN_WG_MAX_PEERS];
  for (int32_t r = 0; r < count; r++) {
    int32_t row = rows->idx[r];
    if (row < 0 || (uint32_t)row >= rows->slots) continue;
    int32_t *desc = rows->desc + (size_t)row * TSN_DESC_STRIDE;
    int32_t off = desc[TSN_D_OFF], len = desc[TSN_D_LEN];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > rows->len) {
      d->vst[TSN_TXS_DROP_BAD_GSO]++;
      continue;
    }
    uint8_t *frame = rows->base + off;
    int n = 0;
    uint32_t one = dst[r];
    const uint32_t *list = one ? &one : bum;
    int nl = one ? 1 : nbum;
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
    struct tsn_vnet vh;
    tsn_desc_vnet(desc, &vh);
    int todo = tsn_tx_offload(desc, frame, (size_t)len, &vh, d->vst);
    if (todo == TSN_TXO_DROPPED) continue;
    if (todo == TSN_TXO_SEGMENT) {
      struct seg_ctx c = {.d = d, .peers = dpeer, .slots = dslot, .n = n, .vni = vni, .sport = sport, .now = now};
      if (tsn_gso_segment(frame, (size_t)len, &vh, rows->scratch, TSN_SLOT_SIZE, emit_segment, &c) < 0) d->vst[TSN_TXS_DROP_BAD_GSO]++;
      count_seg_failures(&c);
      continue;
    }
    for (int i = 0; i < n; i++)
      if (send_one(d, dpeer[i], dslot[i], vni, frame, (size_t)len, sport, now)) tsn_txs_count_errno(d->vst, WG_SEAL_ERRNO, 1);
  }
  wg_tx_flush(d);
  memcpy(d->vst_read, d->vst, sizeof d->vst_read);
  return d->vst[TSN_TXS_SENT];
}

bool wg_tx_keepalive(wg_dev *d, int peer, double now) {
  int slot = send_keypair(d, peer, now);
  if (slot < 0) return false;
  room_for(d, WG_TRANSPORT_HDR + 16 + WG_TAG_LEN);
  size_t start = d->arena_pos, n = seal(d, &d->kp[slot], NULL, 0, NULL, 0);
  if (!n) return false;
  queue_datagram(d, peer, d->arena + start, n);
  wg_prow(d, peer)[TSN_WPS_LAST_TX] = now;
  wg_prow(d, peer)[TSN_WPS_TX_COUNTER] = (double)d->kp[slot].tx_counter;
  int32_t before = d->vst[TSN_TXS_SENT];
  wg_tx_flush(d);
  return d->vst[TSN_TXS_SENT] > before;
}
