/*
 * wg_dev.h - one WireGuard VTEP's state, shared by the two files that make it up:
 *   wg_transport.c  sockets, sessions, receive and the Node-API glue (wgOpen ... wgRecvBurst);
 *   wg_tx.c         send: staging per peer, segmentation, sealing, UDP_SEGMENT runs, batched sendmmsg.
 * No Node-API here (native/test drives wg_tx.c directly). Includers define _GNU_SOURCE (struct mmsghdr).
 * Not part of the addon's JavaScript interface (that is wg_transport.h).
 */
#ifndef TSN_WG_DEV_H
#define TSN_WG_DEV_H
#include "tx_status.h"
#include "wg_layout.h"
#include "wg_crypto.h"
#include "wg_data_aead.h"
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define WG_MSG_INITIATION 1
#define WG_MSG_RESPONSE 2
#define WG_MSG_COOKIE 3
#define WG_MSG_TRANSPORT 4
#define WG_TRANSPORT_HDR 16
#define WG_REPLAY_WORDS 32 /* 2048 bits */
#define WG_REKEY_AFTER_MESSAGES (1ull << 60)
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - (1ull << 13)) /* 2^64 - 2^13 - 1 */
#define WG_MAX_MSGS 512
#define WG_ARENA (4u << 20)
#define WG_MAX_RX 256
#define WG_STAGE_MAX 128     /* staged frames per peer, as the kernel's MAX_STAGED_PACKETS */
#define WG_STAGE_ENTRY 2048  /* a staged frame (a 1500-byte frame, or a segment) and its 8-byte header */
#define WG_BACKLOG_MSGS 16 /* messages one UDP_GRO burst reads at most */

typedef struct {
  EVP_CIPHER_CTX *tx, *rx; /* ChaCha20 keyed once (wg_data_key); the nonce per message */
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
  /*
   * The send counters as the last burst left them (what JS read). Sends outside a burst (staged
   * frames released when a handshake completes, keepalives) add to @vst after that; the next burst
   * starts from those increments rather than from zero, so JS counts them with it.
   */
  int32_t vst_read[TSN_TXS_COUNT];
  double *ps;    /* TSN_WPS_* rows */
  uint8_t *ctrl; /* TSN_WG_CTRL_MAX * TSN_WG_CTRL_STRIDE */
  wg_peer peers[TSN_WG_MAX_PEERS];
  wg_keypair kp[TSN_WG_KP_SLOTS];
  int last_peer;
  EVP_MAC_CTX *mac;      /* Poly1305, shared by every keypair's messages (wg_data_aead.h) */
  uint8_t *open_scratch; /* TSN_SLOT_SIZE + 2 * WG_AEAD_BLOCK: where wg_data_open makes the keystream */
  /* send staging */
  uint8_t *arena; /* WG_ARENA bytes, with the slack wg_data_seal touches on both sides (wg_arena_alloc) */
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

/* The send arena, with WG_AEAD_BLOCK bytes before it and WG_AEAD_SLACK after it that sealing may touch. */
static inline uint8_t *wg_arena_alloc(void) {
  uint8_t *m = malloc(WG_AEAD_BLOCK + WG_ARENA + WG_AEAD_SLACK);
  return m ? m + WG_AEAD_BLOCK : NULL;
}
static inline void wg_arena_free(uint8_t *arena) {
  if (arena) free(arena - WG_AEAD_BLOCK);
}

/* WireGuard's own fields are little-endian. */
static inline uint32_t wg_le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static inline uint64_t wg_le64(const uint8_t *p) { return (uint64_t)wg_le32(p) | ((uint64_t)wg_le32(p + 4) << 32); }
static inline void wg_put_le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24); }
static inline void wg_put_le64(uint8_t *p, uint64_t v) { wg_put_le32(p, (uint32_t)v), wg_put_le32(p + 4, (uint32_t)(v >> 32)); }

static inline double *wg_prow(wg_dev *d, int peer) { return d->ps + (size_t)peer * TSN_WPS_STRIDE; }

/* Set @flag on @peer's stats row; a change bumps TSN_WST_ATTENTION so JavaScript looks at the peers. */
static inline void wg_flag_peer(wg_dev *d, int peer, int flag) {
  double *r = wg_prow(d, peer);
  int f = (int)r[TSN_WPS_FLAGS];
  if ((f & flag) == flag) return;
  r[TSN_WPS_FLAGS] = f | flag;
  d->st[TSN_WST_ATTENTION]++;
}

/* The rows of a send burst, as the frame pool (pool.h) holds them. */
struct wg_tx_rows {
  uint8_t *base;  /* pool bytes */
  size_t len;
  uint32_t slots;
  int32_t *desc;  /* TSN_DESC_STRIDE int32s per slot */
  const int32_t *idx; /* the rows to send: txIdx */
  uint8_t *scratch; /* segmentation output: one header + one MSS */
};

/*
 * wg_tx_burst() - Seal and send rows @r->idx[0 .. @count) with VNI @vni, each to @dst[k], or for
 * @dst[k] == 0 to every VTEP of @bum[0 .. @nbum) (wgSendBurst's contract, wg_transport.c). Send
 * counters (tx_status.h) in @d->vst: this burst's, plus what left outside a burst since the last one
 * (@vst_read). Syscall: sendmmsg.
 * Return: datagrams the kernel took (those sent outside a burst since the last one included)
 */
int32_t wg_tx_burst(wg_dev *d, const struct wg_tx_rows *r, uint32_t vni, int32_t count, const uint32_t *dst, const uint32_t *bum, int32_t nbum, double now);
/* An empty transport message (a keepalive) to @peer with its current keypair: true if it left. Syscall: sendmmsg. */
bool wg_tx_keepalive(wg_dev *d, int peer, double now);
/* Send what is queued. Syscall: sendmmsg. */
void wg_tx_flush(wg_dev *d);
/* @peer has a session now: seal what was staged for it, in order (sent by the next wg_tx_flush). No syscalls. */
void wg_stage_flush(wg_dev *d, int peer, double now);
/* Drop what is staged for @peer (counted wg-no-session) and free the stage. */
void wg_stage_drop(wg_dev *d, int peer);

#endif
