/*
 * vtep_rx_test.c - standalone tests for the VXLAN receive code (native/src/vtep_rx.c): what one
 * message from a VTEP's socket becomes, driven through tsn_vtep_rx_message(), the function
 * vtepRecvBurst calls after recvmmsg. No Node, no root; test/unit/native-c.test.ts builds and runs it
 * under ASan/UBSan:
 *
 *   gcc -g -fsanitize=address,undefined -Wall native/test/vtep_rx_test.c native/src/vtep_rx.c \
 *       native/src/gso.c -o /tmp/vtep_rx_test && /tmp/vtep_rx_test
 *
 * Frames are built here byte by byte. Prints one line per check group; exits 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/gso.h"
#include "../src/layout.h"
#include "../src/vtep_layout.h"
#include "../src/vtep_rx.h"

static int failures, checks;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    checks++;                                              \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

#define SLOTS 8
static uint8_t *pool;
static int32_t desc[SLOTS * TSN_DESC_STRIDE];
static int32_t status[TSN_VST_COUNT];

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

static void vxlan_hdr(uint8_t *p, uint32_t vni) {
  memset(p, 0, 8);
  p[0] = 0x08;
  put32(p + 4, vni << 8);
}

/* Plain RFC 1071 sum of big-endian words, byte by byte (shares no code with gso.c). */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t s) {
  for (size_t i = 0; i < len; i += 2) {
    s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
    s = (s & 0xffff) + (s >> 16);
  }
  return s;
}

/*
 * Ethernet + IPv4 + TCP frame at @f: @paylen payload bytes of @fill, IPv4 total length @tot (0: the
 * true one), source address 10.0.0.@host, sequence @seq, ACK set. Returns the frame length.
 */
static size_t tcp4_frame(uint8_t *f, size_t paylen, uint8_t fill, unsigned tot, uint8_t host, uint32_t seq) {
  memset(f, 0, 54);
  memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
  put16(f + 12, 0x0800);
  uint8_t *ip = f + 14, *th = f + 34;
  ip[0] = 0x45;
  put16(ip + 2, tot ? tot : (unsigned)(40 + paylen));
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  put32(ip + 12, 0x0a000000u | host);
  put32(ip + 16, 0x0a0000feu);
  put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
  put16(th, 40000);
  put16(th + 2, 80);
  put32(th + 4, seq);
  put32(th + 8, 1);
  th[12] = 5 << 4;
  th[13] = 0x10;
  put16(th + 14, 512);
  memset(f + 54, fill, paylen);
  return 54 + paylen;
}

static void reset(void) {
  memset(desc, 0, sizeof desc);
  memset(status, 0, sizeof status);
}

static struct tsn_vtep_rx rx_state(void) {
  struct tsn_vtep_rx s = {.base = pool, .desc = desc, .status = status, .first = 0, .nrow = 0, .spare = 1, .end = SLOTS};
  return s;
}

/* Copy @msg (@len bytes, starting with a VXLAN header) into slot 0 as recvmmsg puts it there. */
static uint8_t *land(const uint8_t *msg, size_t len) {
  uint8_t *at = tsn_vtep_slot_frame(pool, 0) - TSN_VXLAN_HLEN;
  memcpy(at, msg, len);
  return at;
}

static uint32_t row_vni(int r) {
  const uint8_t *f = pool + desc[r * TSN_DESC_STRIDE + TSN_D_OFF];
  return (uint32_t)(f[-4] << 16 | f[-3] << 8 | f[-2]);
}

static int row_holds(int r, uint8_t fill, size_t run) {
  const uint8_t *f = pool + desc[r * TSN_DESC_STRIDE + TSN_D_OFF];
  int32_t len = desc[r * TSN_DESC_STRIDE + TSN_D_LEN];
  size_t k = 0;
  for (int32_t i = 0; i < len; i++) {
    k = f[i] == fill ? k + 1 : 0;
    if (k >= run) return 1;
  }
  return 0;
}

/*
 * Issue 19, item 1: a UDP GRO message of three 1062-byte datagrams from one peer (one outer 5-tuple).
 * The first is tenant A's (VNI 100) with its inner IPv4 total length forged to the whole message's
 * (3 x 1062 - 8 - 14 = 3164, "total - 22"); the next two are tenant B's (VNI 200), payload 0xBB.
 * Read as one kernel tunnel-GSO packet, B's datagrams would reach A's network inside A's frame.
 */
static void test_forged_tunnel_gso(void) {
  uint8_t msg[3 * 1062];
  const size_t seg = 1062, total = sizeof msg;
  vxlan_hdr(msg, 100);
  tcp4_frame(msg + 8, seg - 8 - 54, 0xAA, (unsigned)(total - 8 - 14), 1, 1000);
  for (int k = 1; k < 3; k++) {
    vxlan_hdr(msg + k * seg, 200);
    tcp4_frame(msg + k * seg + 8, seg - 8 - 54, 0xBB, 0, 2, 5000 + (uint32_t)(k - 1) * (uint32_t)(seg - 62));
  }
  reset();
  land(msg, total);
  struct tsn_vtep_rx s = rx_state();
  tsn_vtep_rx_message(&s, 0, total, (int)seg);
  int leak = 0;
  for (int r = 0; r < s.nrow; r++)
    if (row_vni(r) != 200 && row_holds(r, 0xBB, 64)) leak++;
  CHECK(leak == 0, "forged tunnel GSO: %d frame(s) outside VNI 200 carry VNI 200's payload", leak);
  CHECK(status[TSN_VST_RX_TUNNEL_GSO] == 0, "forged tunnel GSO: taken as a tunnel GSO packet");
  CHECK(status[TSN_VST_RX_AMBIGUOUS_GRO] == 1, "forged tunnel GSO: ambiguous count %d, want 1", status[TSN_VST_RX_AMBIGUOUS_GRO]);
  CHECK(s.nrow == 0, "forged tunnel GSO: %d rows, want 0 (the whole message dropped)", s.nrow);
  printf("forged inner length over a 3 x 1062 GRO message: %d rows, ambiguous %d\n", s.nrow, status[TSN_VST_RX_AMBIGUOUS_GRO]);
}

/* A genuine kernel tunnel-GSO packet (one VXLAN header, a 3000-byte TCP payload, MSS 1448) stays whole. */
static void test_genuine_tunnel_gso(void) {
  static uint8_t msg[8 + 54 + 3000];
  vxlan_hdr(msg, 100);
  size_t flen = tcp4_frame(msg + 8, 3000, 0, 0, 1, 1);
  for (size_t i = 0; i < 3000; i++) msg[8 + 54 + i] = (uint8_t)(i * 7 + 3); /* no VXLAN-looking boundary */
  reset();
  land(msg, 8 + flen);
  struct tsn_vtep_rx s = rx_state();
  tsn_vtep_rx_message(&s, 0, 8 + flen, 1448 + 62);
  CHECK(s.nrow == 1 && status[TSN_VST_RX_TUNNEL_GSO] == 1, "genuine tunnel GSO: %d rows, tunnel %d", s.nrow, status[TSN_VST_RX_TUNNEL_GSO]);
  CHECK(s.nrow == 1 && desc[TSN_D_GSO_TYPE] == TSN_GSO_TCPV4 && desc[TSN_D_LEN] == (int32_t)flen, "genuine tunnel GSO: row not a TCPv4 GSO frame of %zu", flen);
  printf("genuine tunnel GSO packet: %d row, GSO type %d\n", s.nrow, desc[TSN_D_GSO_TYPE]);
}

/*
 * An honest GRO message mixing two tenants: A's datagram on its own, B's two (one flow, in sequence)
 * coalesced into one super-frame; each row under its own VXLAN header, no bytes crossing over.
 */
static void test_mixed_gro_run(void) {
  uint8_t msg[3 * 1062];
  const size_t seg = 1062;
  for (int k = 0; k < 3; k++) {
    vxlan_hdr(msg + k * seg, k == 0 ? 100 : 200);
    tcp4_frame(msg + k * seg + 8, seg - 62, k == 0 ? 0xAA : 0xBB, 0, (uint8_t)(k == 0 ? 1 : 2), 7000 + (uint32_t)k * 1000);
  }
  reset();
  land(msg, sizeof msg);
  struct tsn_vtep_rx s = rx_state();
  tsn_vtep_rx_message(&s, 0, sizeof msg, (int)seg);
  CHECK(s.nrow == 2, "mixed GRO run: %d rows, want 2", s.nrow);
  CHECK(s.nrow == 2 && desc[TSN_DESC_STRIDE + TSN_D_GSO_TYPE] == TSN_GSO_TCPV4 && desc[TSN_DESC_STRIDE + TSN_D_LEN] == 54 + 2000,
        "mixed GRO run: B's datagrams not one super-frame of 2054 bytes");
  for (int r = 0; r < s.nrow; r++) {
    uint32_t vni = row_vni(r);
    CHECK(vni == (r == 0 ? 100u : 200u), "mixed GRO run: row %d VNI %u", r, vni);
    CHECK(!row_holds(r, vni == 100 ? 0xBB : 0xAA, 64), "mixed GRO run: row %d carries the other tenant's bytes", r);
  }
  printf("mixed-tenant GRO run: %d rows\n", s.nrow);
}

int main(void) {
  pool = calloc(SLOTS, TSN_SLOT_SIZE);
  if (!pool) return 2;
  test_forged_tunnel_gso();
  test_genuine_tunnel_gso();
  test_mixed_gro_run();
  printf("%d checks, %d failures\n", checks, failures);
  free(pool);
  return failures ? 1 : 0;
}
