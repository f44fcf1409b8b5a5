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

#include "check.h"

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

/*
 * tsn_vtep_rx_frame (a WireGuard burst: one decrypted frame per slot, sender metadata in front).
 * Six rows: three segments of one flow in sequence from sender 1 (one super-frame), a fourth of the
 * same flow from another sender (not merged: another peer), one out of sequence, one of another VNI.
 */
static void put_row(int r, uint32_t vni, uint32_t sender, uint8_t fill, uint8_t host, uint32_t seq) {
  uint8_t *f = tsn_vtep_slot_frame(pool, r);
  vxlan_hdr(f - TSN_VXLAN_HLEN, vni);
  put32(f - TSN_VTEP_META_SRC_IP, sender);
  put16(f - TSN_VTEP_META_SRC_PORT, 50000);
  size_t len = tcp4_frame(f, 1000, fill, 0, host, seq);
  int32_t *d = desc + r * TSN_DESC_STRIDE;
  d[TSN_D_OFF] = (int32_t)(f - pool);
  d[TSN_D_LEN] = (int32_t)len;
  d[TSN_D_SLOT] = r;
}

static void test_coalesce_rows(void) {
  reset();
  put_row(0, 100, 1, 0xA1, 1, 1000);
  put_row(1, 100, 1, 0xA2, 1, 2000);
  put_row(2, 100, 1, 0xA3, 1, 3000);
  put_row(3, 100, 2, 0xA4, 1, 4000); /* same inner flow, another peer */
  put_row(4, 100, 2, 0xA5, 1, 9000); /* out of sequence */
  put_row(5, 200, 2, 0xA6, 1, 10000); /* another VNI */
  struct tsn_vtep_rx s = rx_state();
  s.spare = 6;
  int32_t off[6], len[6];
  for (int r = 0; r < 6; r++) off[r] = desc[r * TSN_DESC_STRIDE + TSN_D_OFF], len[r] = desc[r * TSN_DESC_STRIDE + TSN_D_LEN];
  for (int r = 0; r < 6; r++) {
    uint8_t *f = pool + off[r];
    tsn_vtep_rx_frame(&s, r, f, (size_t)len[r], ((uint32_t)f[-16] << 24 | (uint32_t)f[-15] << 16 | (uint32_t)f[-14] << 8 | f[-13]), 50000);
  }
  tsn_vtep_rx_flush(&s);
  CHECK(s.nrow == 4, "coalesce: %d rows, want 4", s.nrow);
  CHECK(desc[TSN_D_GSO_TYPE] == TSN_GSO_TCPV4 && desc[TSN_D_LEN] == 54 + 3000 && desc[TSN_D_GSO_SIZE] == 1000 && desc[TSN_D_SLOT] == 0,
        "coalesce: row 0 not a 3054-byte TCPv4 super-frame of MSS 1000 in slot 0 (len %d)", desc[TSN_D_LEN]);
  const uint8_t *f0 = pool + desc[TSN_D_OFF];
  CHECK(f0[54] == 0xA1 && f0[54 + 1000] == 0xA2 && f0[54 + 2999] == 0xA3, "coalesce: payloads not in order");
  CHECK((f0[16] << 8 | f0[17]) == 40 + 3000, "coalesce: IPv4 total length not the super-frame's");
  CHECK(ref_sum(f0 + 14, 20, 0) == 0xffff, "coalesce: IPv4 header checksum wrong after the length change");
  for (int r = 1; r < s.nrow; r++) {
    const int32_t *d = desc + r * TSN_DESC_STRIDE;
    CHECK(d[TSN_D_GSO_TYPE] == 0 && d[TSN_D_LEN] == 1054 && d[TSN_D_SLOT] == r + 2, "coalesce: row %d (slot %d, len %d) not a frame alone", r, d[TSN_D_SLOT], d[TSN_D_LEN]);
  }
  CHECK(row_vni(3) == 200, "coalesce: last row's VNI %u", row_vni(3));
  CHECK(status[TSN_VST_RX_SUPERFRAMES] == 1, "coalesce: %d super-frames counted, want 1", status[TSN_VST_RX_SUPERFRAMES]);
  printf("coalesced one-per-slot rows: 6 -> %d rows\n", s.nrow);

  /* Inside one message (a GRO run of datagrams, opened where they landed): the first at slot 0's
   * offset, the others behind it (slot -1). Two of its flow join it; another VNI's goes to a spare. */
  reset();
  s = rx_state();
  s.spare = 1;
  uint8_t *f = tsn_vtep_slot_frame(pool, 0);
  for (int k = 0; k < 4; k++) {
    vxlan_hdr(f - TSN_VXLAN_HLEN, k == 3 ? 300 : 100);
    size_t len = tcp4_frame(f, 1000, (uint8_t)(0xB0 + k), 0, 1, 1 + (uint32_t)k * 1000);
    tsn_vtep_rx_frame(&s, k == 0 ? 0 : -1, f, len, 9, 50000);
    f += len + 68; /* the next datagram's frame: after this one's tag and the next one's headers */
  }
  tsn_vtep_rx_flush(&s);
  CHECK(s.nrow == 2, "inside a message: %d rows, want 2", s.nrow);
  CHECK(desc[TSN_D_GSO_TYPE] == TSN_GSO_TCPV4 && desc[TSN_D_LEN] == 54 + 3000 && desc[TSN_D_SLOT] == 0, "inside a message: row 0 not the 3-frame super-frame");
  f = pool + desc[TSN_D_OFF];
  CHECK(f[54 + 1000] == 0xB1 && f[54 + 2999] == 0xB2, "inside a message: payloads not in order");
  CHECK(desc[TSN_DESC_STRIDE + TSN_D_SLOT] == 1 && row_vni(1) == 300 && row_holds(1, 0xB3, 1000) &&
        desc[TSN_DESC_STRIDE + TSN_D_OFF] == (int32_t)(tsn_vtep_slot_frame(pool, 1) - pool),
        "inside a message: the other VNI's frame not copied whole to spare slot 1");
}

int main(void) {
  pool = calloc(SLOTS, TSN_SLOT_SIZE);
  if (!pool) return 2;
  test_forged_tunnel_gso();
  test_genuine_tunnel_gso();
  test_mixed_gro_run();
  test_coalesce_rows();
  printf("%d checks, %d failures\n", checks, failures);
  free(pool);
  return failures ? 1 : 0;
}
