/*
 * wg_tx_test.c - standalone tests for the WireGuard send path (native/src/wg_tx.c): how a burst is
 * counted in the transmit counters of tx_status.h when sealing fails, in particular a TSO super-frame
 * whose sealing fails part-way, which must count as every other transmit path does (burst.c): one
 * frame cut short (TSN_TXS_GSO_PARTIAL), what left in TSN_TXS_SEGMENTS, what did not in
 * TSN_TXS_SEGS_LOST. No Node, no root: datagrams go over loopback UDP.
 *
 *   cc -g -fsanitize=address,undefined -Wall native/test/wg_tx_test.c native/src/wg_tx.c \
 *      native/src/udp_batch.c native/src/flow_hash.c native/src/gso.c -o /tmp/wg_tx_test && /tmp/wg_tx_test
 *
 * The cipher is injected: this file defines wg_data_seal() (wg_data_aead.c is not linked, nor is
 * -lcrypto), leaving plaintext as it is and failing every seal from the Nth on. Prints one line
 * per check group; exits 1 on failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/gso.h"
#include "../src/layout.h"
#include "../src/tx_status.h"
#include "../src/vtep_layout.h"
#include "../src/wg_dev.h"

#include "check.h"

static int group_failures;

/* One line per check group: ok, or FAIL when a check of it failed. */
static void report(const char *what) {
  printf("%s  %s\n", failures > group_failures ? "FAIL" : "ok", what);
  group_failures = failures;
}

/* ---- the injected cipher: seals succeed until seals_left reaches 0 ---- */

static long seals_left = -1; /* -1: never fail */
static long seals_begun;

int wg_data_seal(EVP_CIPHER_CTX *c, EVP_MAC_CTX *m, uint64_t counter, uint8_t *p, size_t len) {
  seals_begun++;
  if (seals_left == 0) return -1;
  if (seals_left > 0) seals_left--;
  memset(p + len, 0xaa, 16); /* the plaintext stays as it is; a recognisable tag */
  return 0;
}

/* ---- a device with peers on loopback ---- */

#define SLOTS 4
#define VTEP_A 0x0a000001u /* ours */
#define VTEP_B 0x0a000002u
#define VTEP_C 0x0a000003u

static wg_dev *dev;
static int rx_fd;
static int32_t vst[TSN_VST_COUNT], wst[TSN_WST_COUNT];
static double ps[TSN_WG_MAX_PEERS * TSN_WPS_STRIDE];
static uint8_t *pool;
static int32_t desc[SLOTS * TSN_DESC_STRIDE];
static int32_t idx[SLOTS];
static uint8_t scratch[TSN_SLOT_SIZE];
static int dummy_ctx; /* the injected cipher ignores its context: any non-NULL pointer */

static void add_peer(int peer, uint32_t vtep, uint16_t port) {
  wg_peer *p = &dev->peers[peer];
  p->used = 1;
  p->vtep = vtep;
  p->ep.sin_family = AF_INET;
  p->ep.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  p->ep.sin_port = htons(port);
  p->cur = (int16_t)peer; /* keypair slot = peer: a live session, as wgInstallKeypair leaves it */
  wg_keypair *k = &dev->kp[peer];
  k->tx = (EVP_CIPHER_CTX *)&dummy_ctx;
  k->live = 1;
  k->initiator = 1;
  k->peer = (int16_t)peer;
  k->remote_index = 0x100u + (uint32_t)peer;
}

static void dev_open(void) {
  dev = calloc(1, sizeof *dev);
  dev->arena = wg_arena_alloc();
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) dev->peers[i].cur = dev->peers[i].prev = dev->peers[i].next = -1;
  dev->last_peer = -1;
  dev->local = VTEP_A;
  dev->vxlan_port = 4789;
  dev->tunnel_mtu = 1440;
  dev->rekey_after_ms = 120000;
  dev->reject_after_ms = 180000;
  dev->rekey_on_rx_ms = 165000;
  dev->st = wst;
  dev->vst = vst;
  dev->ps = ps;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = {.s_addr = htonl(INADDR_LOOPBACK)}};
  socklen_t sl = sizeof sa;
  rx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int buf = 4 << 20;
  setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (rx_fd < 0 || bind(rx_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(rx_fd, (struct sockaddr *)&sa, &sl) < 0) {
    perror("receive socket");
    exit(2);
  }
  dev->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (dev->fd < 0) {
    perror("send socket");
    exit(2);
  }
  add_peer(0, VTEP_B, ntohs(sa.sin_port));
  add_peer(1, VTEP_C, ntohs(sa.sin_port));
}

static int drain(void) {
  uint8_t b[65536];
  int n = 0;
  while (recv(rx_fd, b, sizeof b, 0) >= 0) n++;
  return n;
}

static void dev_close(void) {
  for (int i = 0; i < TSN_WG_MAX_PEERS; i++) free(dev->peers[i].stage);
  close(dev->fd);
  close(rx_fd);
  wg_arena_free(dev->arena);
  free(dev);
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/*
 * A TCP/IPv4 frame in slot 0 with @paylen payload bytes: a TSO super-frame of gso_size @mss (as a TAP
 * hands it over: partial checksum, NEEDS_CSUM) when @mss > 0, else a plain frame. Returns descriptor row 0.
 */
static int32_t *tcp_frame(size_t paylen, unsigned mss) {
  uint8_t *f = pool + TSN_HEADROOM;
  size_t len = 14 + 20 + 20 + paylen;
  memset(f, 0, len);
  memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
  put16(f + 12, 0x0800);
  uint8_t *ip = f + 14, *th = ip + 20;
  ip[0] = 0x45;
  put16(ip + 2, (unsigned)(20 + 20 + paylen));
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  memcpy(ip + 12, "\xac\x10\0\x01\xac\x10\0\x02", 8);
  put16(th, 40000);
  put16(th + 2, 5201);
  th[12] = 5 << 4;
  th[13] = 0x18; /* ACK PSH */
  for (size_t i = 0; i < paylen; i++) th[20 + i] = (uint8_t)i;
  int32_t *d = desc;
  memset(d, 0, sizeof(int32_t) * TSN_DESC_STRIDE);
  d[TSN_D_OFF] = TSN_HEADROOM;
  d[TSN_D_LEN] = (int32_t)len;
  d[TSN_D_SLOT] = 0;
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_CSUM_START] = 14 + 20;
  d[TSN_D_CSUM_OFF] = TSN_TCP_CSUM_OFF;
  if (mss) {
    d[TSN_D_GSO_TYPE] = TSN_GSO_TCPV4;
    d[TSN_D_GSO_SIZE] = (int32_t)mss;
    d[TSN_D_HDR_LEN] = 54;
  }
  return d;
}

/* Send row 0 to @ndst VTEPs (1: to B, 2: flooded to B and C) with seals failing from the (@ok+1)th on (-1: none). */
static int32_t send_row(long ok, int ndst) {
  static const uint32_t bum[2] = {VTEP_B, VTEP_C};
  uint32_t dst[1] = {ndst == 1 ? VTEP_B : 0};
  struct wg_tx_rows rows = {.base = pool, .len = (size_t)SLOTS * TSN_SLOT_SIZE, .slots = SLOTS, .desc = desc, .idx = idx, .scratch = scratch};
  idx[0] = 0;
  seals_left = ok;
  seals_begun = 0;
  int32_t sent = wg_tx_burst(dev, &rows, 42, 1, dst, bum, 2, 1000.0);
  seals_left = -1;
  return sent;
}

static void check_counts(const char *what, int32_t sent, int32_t segs, int32_t partial, int32_t lost, int32_t drop_err) {
  CHECK(vst[TSN_TXS_SENT] == sent, "%s: sent %d, want %d", what, vst[TSN_TXS_SENT], sent);
  CHECK(vst[TSN_TXS_SEGMENTS] == segs, "%s: segments %d, want %d", what, vst[TSN_TXS_SEGMENTS], segs);
  CHECK(vst[TSN_TXS_GSO_PARTIAL] == partial, "%s: gso partial %d, want %d", what, vst[TSN_TXS_GSO_PARTIAL], partial);
  CHECK(vst[TSN_TXS_SEGS_LOST] == lost, "%s: segments lost %d, want %d", what, vst[TSN_TXS_SEGS_LOST], lost);
  CHECK(vst[TSN_TXS_DROP_ERR] == drop_err, "%s: drop err %d, want %d", what, vst[TSN_TXS_DROP_ERR], drop_err);
  CHECK(vst[TSN_TXS_DROP_BAD_GSO] == 0 && vst[TSN_TXS_DROP_FULL] == 0, "%s: bad gso %d, full %d", what, vst[TSN_TXS_DROP_BAD_GSO], vst[TSN_TXS_DROP_FULL]);
  if (drop_err || partial) CHECK(vst[TSN_TXS_LAST_ERRNO] == EIO, "%s: last errno %d, want EIO", what, vst[TSN_TXS_LAST_ERRNO]);
}

/* 10 segments of 1000 bytes: all sealed and sent, in one UDP_SEGMENT message. */
static void test_tso_whole(void) {
  tcp_frame(10000, 1000);
  int32_t sent = send_row(-1, 1);
  CHECK(sent == 10 && seals_begun == 10, "whole: sent %d, seals %ld", sent, seals_begun);
  check_counts("whole", 10, 10, 0, 0, 0);
  CHECK(vst[TSN_TXS_SYSCALLS] == 1, "whole: %d sendmmsg calls", vst[TSN_TXS_SYSCALLS]);
  CHECK(drain() == 10, "whole: datagrams received");
  report("TSO super-frame sealed whole: 10 segments, one sendmmsg");
}

/* Sealing fails after 4 of 10 segments: one frame cut short, 4 left, 6 lost (not 6 frames dropped). */
static void test_tso_partial(void) {
  tcp_frame(10000, 1000);
  int32_t sent = send_row(4, 1);
  CHECK(sent == 4, "partial: sent %d", sent);
  check_counts("partial", 4, 4, 1, 6, 0);
  CHECK(vst[TSN_TXS_SEGMENTS] + vst[TSN_TXS_SEGS_LOST] == 10, "partial: left + lost = %d", vst[TSN_TXS_SEGMENTS] + vst[TSN_TXS_SEGS_LOST]);
  CHECK(drain() == 4, "partial: datagrams received");
  report("TSO super-frame whose sealing fails part-way: counted cut short (4 left, 6 lost)");
}

/* Sealing fails from the first segment: nothing left, one frame dropped (tx-error), as burst.c counts it. */
static void test_tso_none(void) {
  tcp_frame(10000, 1000);
  int32_t sent = send_row(0, 1);
  CHECK(sent == 0, "none: sent %d", sent);
  check_counts("none", 0, 0, 0, 0, 1);
  CHECK(drain() == 0, "none: datagrams received");
  report("TSO super-frame whose sealing fails at once: one frame dropped");
}

/* Flooded to two VTEPs, sealing fails from the 7th of 20 seals on: B and C got 3 segments each, two copies cut short. */
static void test_tso_flood_partial(void) {
  tcp_frame(10000, 1000);
  int32_t sent = send_row(6, 2); /* seals alternate B, C per segment: segments 0..2 to both, then every seal fails */
  CHECK(sent == 6, "flood: sent %d", sent);
  CHECK(vst[TSN_TXS_GSO_PARTIAL] == 2, "flood: gso partial %d", vst[TSN_TXS_GSO_PARTIAL]);
  CHECK(vst[TSN_TXS_SEGS_LOST] == 14, "flood: segments lost %d (7 per VTEP)", vst[TSN_TXS_SEGS_LOST]);
  CHECK(vst[TSN_TXS_SEGMENTS] == 3, "flood: segments %d (one count per segment, however many VTEPs)", vst[TSN_TXS_SEGMENTS]);
  CHECK(vst[TSN_TXS_DROP_ERR] == 0, "flood: drop err %d", vst[TSN_TXS_DROP_ERR]);
  CHECK(drain() == 6, "flood: datagrams received");
  report("flooded TSO super-frame whose sealing fails part-way: cut short per VTEP");
}

/* A plain frame (partial checksum completed in C) whose seal fails: one frame dropped. */
static void test_plain(void) {
  int32_t *d = tcp_frame(500, 0);
  int32_t sent = send_row(0, 1);
  CHECK(sent == 0, "plain fail: sent %d", sent);
  check_counts("plain fail", 0, 0, 0, 0, 1);
  CHECK(vst[TSN_TXS_CSUM_DONE] == 1 && (d[TSN_D_VFLAGS] & TSN_VNET_F_DATA_VALID), "plain fail: checksum completed, row says DATA_VALID");
  tcp_frame(500, 0);
  sent = send_row(-1, 1);
  CHECK(sent == 1, "plain: sent %d", sent);
  check_counts("plain", 1, 0, 0, 0, 0);
  CHECK(drain() == 1, "plain: datagrams received");
  report("plain frame: a failed seal is one frame dropped, else one datagram");
}

int main(void) {
  pool = calloc(SLOTS, TSN_SLOT_SIZE);
  dev_open();
  test_tso_whole();
  test_tso_partial();
  test_tso_none();
  test_tso_flood_partial();
  test_plain();
  dev_close();
  free(pool);
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
