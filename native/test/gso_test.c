/*
 * gso_test.c - standalone tests for native/src/gso.c (no Node, no root).
 *
 *   gcc -O2 -Wall native/test/gso_test.c native/src/gso.c -o /tmp/gso_test && /tmp/gso_test
 *
 * Builds TCP/IPv4 and TCP/IPv6 super-frames as a TAP hands them over (partial
 * checksum holding the pseudo-header sum, NEEDS_CSUM, gso_size), segments
 * them and checks every segment against checksums computed here, with a
 * deliberately naive big-endian loop that shares no code with gso.c.
 * Prints one line per check group and a throughput figure; exits 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/gso.h"
#include "../src/layout.h"

#include "check.h"

/* ---- independent reference helpers ---- */

static unsigned be16(const uint8_t *p) { return (unsigned)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Plain RFC 1071 sum of big-endian words, byte by byte. */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t s) {
  size_t i;

  for (i = 0; i + 1 < len; i += 2) {
    s += (uint32_t)(p[i] << 8 | p[i + 1]);
    s = (s & 0xffff) + (s >> 16);
  }
  if (len & 1) {
    s += (uint32_t)p[len - 1] << 8;
    s = (s & 0xffff) + (s >> 16);
  }
  return s;
}

static uint16_t ref_fold(uint32_t s) {
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

/* Pseudo-header sum for TCP over IPv4/IPv6, given the IP header. */
static uint32_t ref_pseudo(const uint8_t *ip, int v6, uint32_t l4len) {
  uint32_t s = 0;

  if (v6) {
    s = ref_sum(ip + 8, 32, 0);
    s = ref_sum((const uint8_t[]){ (uint8_t)(l4len >> 24), (uint8_t)(l4len >> 16),
                (uint8_t)(l4len >> 8), (uint8_t)l4len,
                0, 0, 0, 6 }, 8, s);
  } else {
    s = ref_sum(ip + 12, 8, 0);
    s = ref_sum((const uint8_t[]){ 0, 6, (uint8_t)(l4len >> 8), (uint8_t)l4len }, 4, s);
  }
  return s;
}

/* A TCP checksum is valid when pseudo-header + segment sums to 0xffff. */
static int ref_tcp_ok(const uint8_t *ip, int v6, const uint8_t *th, size_t l4len) {
  return ref_fold(ref_sum(th, l4len, ref_pseudo(ip, v6, (uint32_t)l4len))) == 0xffff;
}

/* ---- frame builder ---- */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

struct built {
  uint8_t *f;
  size_t len;
  size_t l3, l4, thl, hdrs;
  struct tsn_vnet vh;
};

/* IPv6 extension headers to insert: 0 none, 1 hop-by-hop, 2 routing. */
static struct built build(int v6, int vlan, size_t paylen, uint8_t flags, int ext6) {
  struct built b;
  size_t exth = (v6 && ext6) ? 8 : 0;
  size_t i, off;
  uint8_t *p;

  b.l3 = 14 + (vlan ? 4 : 0);
  b.l4 = b.l3 + (v6 ? 40 + exth : 20);
  b.thl = 32; /* 20 + NOP NOP timestamps */
  b.hdrs = b.l4 + b.thl;
  b.len = b.hdrs + paylen;
  b.f = calloc(1, b.len + 1);
  p = b.f;

  memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
  off = 12;
  if (vlan) {
    put16(p + off, 0x8100);
    put16(p + off + 2, 0x2064); /* PCP 1, VID 100 */
    off += 4;
  }
  put16(p + off, v6 ? 0x86dd : 0x0800);

  if (!v6) {
    uint8_t *ip = p + b.l3;

    ip[0] = 0x45;
    ip[1] = 0x02; /* ECT(0) */
    put16(ip + 2, (unsigned)(b.len - b.l3));
    put16(ip + 4, 0xfff0); /* id: wraps during segmentation */
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    /* header checksum left wrong on purpose: GSO must rewrite it */
    put16(ip + 10, 0xdead);
  } else {
    uint8_t *ip = p + b.l3;

    ip[0] = 0x60;
    ip[1] = 0x00;
    put16(ip + 4, (unsigned)(b.len - b.l3 - 40));
    ip[6] = exth ? (ext6 == 1 ? 0 : 43) : 6;
    ip[7] = 64;
    memcpy(ip + 8, "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
    memcpy(ip + 24, "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 16);
    if (exth) {
      uint8_t *e = ip + 40;

      e[0] = 6;  /* next: TCP */
      e[1] = 0;  /* 8 bytes */
      e[2] = 1;  /* PadN, 4 bytes of padding */
      e[3] = 4;
    }
  }

  {
    uint8_t *th = p + b.l4;

    put16(th, 40000);
    put16(th + 2, 5201);
    put32(th + 4, 0xffffe000u); /* wraps during segmentation */
    put32(th + 8, 0x01020304);
    th[12] = (uint8_t)((b.thl / 4) << 4);
    th[13] = flags;
    put16(th + 14, 501);
    th[20] = 1; th[21] = 1; th[22] = 8; th[23] = 10;
    put32(th + 24, 0x11223344);
    put32(th + 28, 0x55667788);
  }
  for (i = 0; i < paylen; i++)
    p[b.hdrs + i] = (uint8_t)(i * 7 + (i >> 8) + 3);

  /* Partial checksum as the kernel leaves it: folded pseudo-header sum,
   * not complemented (~tcp_v4_check() == fold(pseudo)). */
  {
    uint16_t ps = ref_fold(ref_pseudo(p + b.l3, v6, (uint32_t)(b.len - b.l4)));

    put16(p + b.l4 + 16, ps);
  }

  memset(&b.vh, 0, sizeof(b.vh));
  b.vh.flags = TSN_VNET_F_NEEDS_CSUM;
  b.vh.gso_type = v6 ? TSN_GSO_TCPV6 : TSN_GSO_TCPV4;
  b.vh.hdr_len = (uint16_t)b.hdrs;
  b.vh.gso_size = 1448;
  b.vh.csum_start = (uint16_t)b.l4;
  b.vh.csum_offset = 16;
  return b;
}

/* ---- segment collector ---- */

#define MAX_SEGS 128

struct collect {
  int n;
  size_t len[MAX_SEGS];
  uint8_t *seg[MAX_SEGS];
  int stop_after;	/* return -ECANCELED after this many, 0 = never */
};

static int collect_emit(void *ctx, const uint8_t *seg, size_t len) {
  struct collect *c = ctx;

  if (c->n >= MAX_SEGS)
    return -E2BIG;
  c->seg[c->n] = malloc(len);
  memcpy(c->seg[c->n], seg, len);
  c->len[c->n] = len;
  c->n++;
  if (c->stop_after && c->n >= c->stop_after)
    return -ECANCELED;
  return 0;
}

static void collect_free(struct collect *c) {
  int i;

  for (i = 0; i < c->n; i++)
    free(c->seg[i]);
  memset(c, 0, sizeof(*c));
}

static uint8_t scratch[TSN_GSO_MAX_HDR + 65536];

/* Segment @b and check every property of every segment. */
static void check_segmentation(const char *name, struct built *b, uint16_t mss) {
  struct collect c = { 0 };
  size_t paylen = b->len - b->hdrs, expect_n, got_pay = 0;
  uint8_t *cat = malloc(paylen + 1);
  uint8_t orig_flags = b->f[b->l4 + 13];
  uint32_t seq0 = be32(b->f + b->l4 + 4);
  unsigned id0 = be16(b->f + b->l3 + 4);
  int v6 = (b->vh.gso_type & 0x7f) == TSN_GSO_TCPV6;
  int rc, k;
  int bad_len = 0, bad_ipsum = 0, bad_tcpsum = 0, bad_seq = 0, bad_flags = 0;
  int bad_iplen = 0, bad_id = 0, bad_hdr = 0;

  b->vh.gso_size = mss;
  expect_n = paylen ? (paylen + mss - 1) / mss : 1;
  rc = tsn_gso_segment(b->f, b->len, &b->vh, scratch, sizeof(scratch),
           collect_emit, &c);
  CHECK(rc == (int)expect_n, "%s: returned %d, expected %zu", name, rc, expect_n);
  CHECK(c.n == (int)expect_n, "%s: emitted %d, expected %zu", name, c.n, expect_n);

  for (k = 0; k < c.n; k++) {
    const uint8_t *s = c.seg[k];
    const uint8_t *ip = s + b->l3, *th = s + b->l4;
    size_t n = paylen - (size_t)k * mss < mss ? paylen - (size_t)k * mss : mss;
    uint8_t f = th[13];
    uint8_t want = orig_flags;

    if (c.len[k] != b->hdrs + n)
      bad_len++;
    /* MACs, VLAN tag, ports, ack, window, options unchanged */
    if (memcmp(s, b->f, b->l3) || memcmp(th, b->f + b->l4, 4) ||
        memcmp(th + 8, b->f + b->l4 + 8, 4) ||
        memcmp(th + 14, b->f + b->l4 + 14, 2) ||
        memcmp(th + 18, b->f + b->l4 + 18, b->thl - 18))
      bad_hdr++;
    if (!v6) {
      if (ref_fold(ref_sum(ip, 20, 0)) != 0xffff)
        bad_ipsum++;
      if (be16(ip + 2) != c.len[k] - b->l3)
        bad_iplen++;
      if (be16(ip + 4) != ((id0 + (unsigned)k) & 0xffff))
        bad_id++;
      if (be16(ip + 6) != 0x4000 || ip[1] != 0x02 || ip[8] != 64)
        bad_hdr++;
    } else {
      if (be16(ip + 4) != c.len[k] - b->l3 - 40)
        bad_iplen++;
      if (memcmp(ip, b->f + b->l3, 4) || memcmp(ip + 6, b->f + b->l3 + 6, 34 + (b->l4 - b->l3 - 40)))
        bad_hdr++;
    }
    if (!ref_tcp_ok(ip, v6, th, c.len[k] - b->l4))
      bad_tcpsum++;
    if (be32(th + 4) != seq0 + (uint32_t)got_pay)
      bad_seq++;
    if (k > 0)
      want &= (uint8_t)~TCP_CWR;
    if (k < c.n - 1)
      want &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (f != want)
      bad_flags++;
    memcpy(cat + got_pay, s + b->hdrs, c.len[k] - b->hdrs);
    got_pay += c.len[k] - b->hdrs;
  }
  CHECK(!bad_len, "%s: %d segments with a wrong length", name, bad_len);
  CHECK(!bad_hdr, "%s: %d segments with a changed header field", name, bad_hdr);
  CHECK(!bad_ipsum, "%s: %d bad IPv4 header checksums", name, bad_ipsum);
  CHECK(!bad_iplen, "%s: %d bad IP length fields", name, bad_iplen);
  CHECK(!bad_id, "%s: %d bad IPv4 ids", name, bad_id);
  CHECK(!bad_tcpsum, "%s: %d bad TCP checksums", name, bad_tcpsum);
  CHECK(!bad_seq, "%s: %d non-contiguous sequence numbers", name, bad_seq);
  CHECK(!bad_flags, "%s: %d segments with wrong FIN/PSH/CWR", name, bad_flags);
  CHECK(got_pay == paylen && !memcmp(cat, b->f + b->hdrs, paylen),
        "%s: payload does not concatenate to the original", name);
  printf("ok   %-44s %3d segments, last %zu bytes\n", name, c.n,
         c.n ? c.len[c.n - 1] : 0);
  collect_free(&c);
  free(cat);
}

static int emit_nop(void *ctx, const uint8_t *seg, size_t len) {
  (void)seg;
  *(size_t *)ctx += len;
  return 0;
}

static int expect_rc(const char *name, struct built *b, int want) {
  struct collect c = { 0 };
  int rc = tsn_gso_segment(b->f, b->len, &b->vh, scratch, sizeof(scratch),
         collect_emit, &c);

  CHECK(rc == want, "%s: returned %d, expected %d", name, rc, want);
  CHECK(want >= 0 || c.n == 0, "%s: emitted %d segments before failing", name, c.n);
  printf("ok   %-44s -> %d\n", name, rc);
  collect_free(&c);
  return rc;
}

static void test_malformed(void) {
  struct built b;

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.len = 14 + 10;
  expect_rc("malformed: truncated IPv4 header", &b, -EINVAL);
  free(b.f);

  b = build(1, 0, 5000, TCP_ACK, 0);
  b.len = 14 + 30;
  expect_rc("malformed: truncated IPv6 header", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.len = b.l4 + 10;
  expect_rc("malformed: truncated TCP header", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.gso_size = 0;
  expect_rc("malformed: gso_size 0", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.f[b.l3 + 9] = 17;
  expect_rc("malformed: IPv4 protocol UDP", &b, -EINVAL);
  free(b.f);

  b = build(1, 0, 5000, TCP_ACK, 0);
  b.f[b.l3 + 6] = 17;
  expect_rc("malformed: IPv6 next header UDP", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.csum_start = (uint16_t)(b.len + 10);
  expect_rc("malformed: csum_start past the end", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.csum_start = (uint16_t)(b.l4 + 4);
  expect_rc("malformed: csum_start not at TCP header", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.csum_offset = 6;
  expect_rc("malformed: csum_offset not TCP's", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.gso_type = TSN_GSO_TCPV6;
  expect_rc("malformed: gso_type TCPV6 on IPv4", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.gso_type = TSN_GSO_UDP;
  expect_rc("malformed: gso_type UDP", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.gso_type = TSN_GSO_NONE;
  expect_rc("malformed: gso_type NONE", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  put16(b.f + b.l3 + 6, 0x2000); /* MF */
  expect_rc("malformed: IPv4 fragment (MF)", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  put16(b.f + b.l3 + 2, (unsigned)(b.len - b.l3 + 1));
  expect_rc("malformed: IPv4 total length > frame", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.f[b.l3] = 0x44;
  expect_rc("malformed: IPv4 ihl 4", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  b.f[b.l4 + 12] = 0x40;
  expect_rc("malformed: TCP data offset 4", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 10, TCP_ACK, 0);
  b.f[b.l4 + 12] = 0xf0; /* 60 bytes > what is left */
  expect_rc("malformed: TCP header past the end", &b, -EINVAL);
  free(b.f);

  b = build(1, 0, 5000, TCP_ACK, 2);
  expect_rc("unsupported: IPv6 routing header", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  put16(b.f + 12, 0x0806);
  expect_rc("malformed: EtherType ARP", &b, -EINVAL);
  free(b.f);

  b = build(0, 0, 5000, TCP_ACK, 0);
  {
    size_t got = 0;
    int rc = tsn_gso_segment(b.f, b.len, &b.vh, scratch, b.hdrs + 1447,
           emit_nop, &got);

    CHECK(rc == -ENOBUFS, "scratch too small: returned %d", rc);
    rc = tsn_gso_segment(b.f, b.len, &b.vh, scratch, b.hdrs + 1448,
             emit_nop, &got);
    CHECK(rc == 4, "scratch exactly headers + mss: returned %d", rc);
    printf("ok   %-44s -> -ENOBUFS, then %d\n", "scratch headers+mss-1, then headers+mss", rc);
  }
  {
    struct collect c = { 0 };
    int rc;

    c.stop_after = 2;
    rc = tsn_gso_segment(b.f, b.len, &b.vh, scratch, sizeof(scratch),
             collect_emit, &c);
    CHECK(rc == -ECANCELED && c.n == 2, "emit < 0 stops: rc %d after %d", rc, c.n);
    printf("ok   %-44s -> %d after %d segments\n", "emit returning < 0 stops", rc, c.n);
    collect_free(&c);
  }
  free(b.f);
}

static void test_csum_complete(void) {
  struct built b;
  int rc, sizes[] = { 0, 1, 2, 3, 1447, 1448, 60001 }, i;

  for (i = 0; i < (int)(sizeof(sizes) / sizeof(sizes[0])); i++) {
    int v6 = i & 1;
    char name[64];

    b = build(v6, i == 3, (size_t)sizes[i], TCP_ACK | TCP_PSH, 0);
    rc = tsn_csum_complete(b.f, b.len, b.vh.csum_start, b.vh.csum_offset);
    CHECK(rc == 0, "csum_complete returned %d", rc);
    CHECK(ref_tcp_ok(b.f + b.l3, v6, b.f + b.l4, b.len - b.l4),
          "csum_complete: TCP checksum invalid (v6 %d, payload %d)", v6, sizes[i]);
    snprintf(name, sizeof(name), "completeChecksum TCP/IPv%d payload %d", v6 ? 6 : 4, sizes[i]);
    printf("ok   %-44s\n", name);
    free(b.f);
  }

  /* UDP: a result of 0 must be stored as 0xffff. Build a UDP datagram
   * whose checksum comes out as 0: pick the last payload word to make
   * the complemented sum 0. */
  {
    uint8_t f[14 + 20 + 8 + 4] = { 0 };
    uint8_t *ip = f + 14, *uh = f + 34;
    uint32_t s;
    uint16_t word;

    put16(f + 12, 0x0800);
    ip[0] = 0x45; put16(ip + 2, 32); ip[8] = 64; ip[9] = 17;
    memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    put16(uh, 1000); put16(uh + 2, 2000); put16(uh + 4, 12);
    /* want total sum == 0xffff (so ~sum == 0) with csum field = pseudo */
    {
      uint32_t ps = ref_sum(ip + 12, 8, 0);

      ps = ref_sum((const uint8_t[]){ 0, 17, 0, 12 }, 4, ps);
      put16(uh + 6, ref_fold(ps));
      put16(uh + 8, 0);
      put16(uh + 10, 0);
      s = ref_sum(uh, 12, 0);
      word = (uint16_t)(0xffff - ref_fold(s));
      put16(uh + 10, word);
    }
    rc = tsn_csum_complete(f, sizeof(f), 34, 6);
    CHECK(rc == 0 && be16(uh + 6) == 0xffff,
          "UDP zero checksum stored as %04x (rc %d)", be16(uh + 6), rc);
    printf("ok   %-44s -> %04x\n", "completeChecksum UDP result 0 -> 0xffff", be16(uh + 6));
  }

  /* Issue 19, item 3: a short frame with non-zero Ethernet padding after the IP datagram (a sender
   * padding to the 60-byte minimum, or junk): the checksum covers the datagram, never the padding. */
  for (i = 0; i < 4; i++) {
    int v6 = i & 1, vlan = i >> 1;
    size_t pad = 6 + (size_t)i;
    char name[64];

    b = build(v6, vlan, 1, TCP_ACK | TCP_PSH, 0);
    b.f = realloc(b.f, b.len + pad);
    memset(b.f + b.len, 0xa5 + i, pad);
    rc = tsn_csum_complete(b.f, b.len + pad, b.vh.csum_start, b.vh.csum_offset);
    CHECK(rc == 0, "csum_complete over padding returned %d", rc);
    CHECK(ref_tcp_ok(b.f + b.l3, v6, b.f + b.l4, b.len - b.l4),
          "csum_complete: padding summed into the TCP checksum (v6 %d, vlan %d)", v6, vlan);
    snprintf(name, sizeof(name), "completeChecksum IPv%d%s + %zu padding bytes", v6 ? 6 : 4, vlan ? "/VLAN" : "", pad);
    printf("ok   %-44s\n", name);
    free(b.f);
  }
  /* An IP length that ends before the checksum field: malformed, refused. */
  b = build(0, 0, 10, TCP_ACK, 0);
  put16(b.f + b.l3 + 2, 20 + 10);
  CHECK(tsn_csum_complete(b.f, b.len, b.vh.csum_start, b.vh.csum_offset) == -EINVAL, "IPv4 length ending inside TCP accepted");
  free(b.f);

  b = build(0, 0, 100, TCP_ACK, 0);
  CHECK(tsn_csum_complete(b.f, b.len, (uint16_t)b.len, 0) == -EINVAL, "csum_start == len");
  CHECK(tsn_csum_complete(b.f, b.len, (uint16_t)(b.len + 5), 0) == -EINVAL, "csum_start > len");
  CHECK(tsn_csum_complete(b.f, b.len, (uint16_t)(b.len - 1), 0) == -EINVAL, "field past end");
  CHECK(tsn_csum_complete(b.f, b.len, (uint16_t)b.l4, 0xffff) == -EINVAL, "offset past end");
  CHECK(tsn_csum_complete(b.f, b.len, (uint16_t)(b.len - 2), 0) == 0, "field is the last 2 bytes");
  printf("ok   %-44s\n", "completeChecksum offsets outside len -> -EINVAL");
  free(b.f);
}

/* tsn_csum_partial against the naive sum: every length 0..300 at every
 * alignment 0..7, plus large odd sizes, plus chaining. */
static void test_csum_partial(void) {
  static uint8_t buf[70000 + 16];
  size_t len, al, i;
  int bad = 0;

  srand(1);
  for (i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)rand();
  for (al = 0; al < 8; al++) {
    for (len = 0; len <= 300; len++) {
      uint16_t ours = tsn_csum_fold(tsn_csum_partial(buf + al, len, 0));
      uint16_t ref = ref_fold(ref_sum(buf + al, len, 0));
      uint8_t be[2];

      memcpy(be, &ours, 2); /* ours is in memory order */
      if (be16(be) != ref && !(be16(be) == 0xffff && ref == 0) &&
          !(be16(be) == 0 && ref == 0xffff))
        bad++;
    }
    for (len = 65535; len <= 65535 + 9; len++) {
      uint16_t ours = tsn_csum_fold(tsn_csum_partial(buf + al, len, 0));
      uint16_t ref = ref_fold(ref_sum(buf + al, len, 0));
      uint8_t be[2];

      memcpy(be, &ours, 2);
      if (be16(be) != ref)
        bad++;
    }
  }
  /* all-ones data: worst case for carries */
  {
    static uint8_t ones[65536];
    uint16_t ours;
    uint8_t be[2];

    memset(ones, 0xff, sizeof(ones));
    ours = tsn_csum_fold(tsn_csum_partial(ones, sizeof(ones), 0));
    memcpy(be, &ours, 2);
    if (be16(be) != ref_fold(ref_sum(ones, sizeof(ones), 0)))
      bad++;
  }
  /* chaining at even offsets equals one pass */
  {
    uint64_t s = tsn_csum_partial(buf, 1000, 0);

    s = tsn_csum_partial(buf + 1000, 3001, s);
    if (tsn_csum_fold(s) != tsn_csum_fold(tsn_csum_partial(buf, 4001, 0)))
      bad++;
  }
  CHECK(!bad, "tsn_csum_partial: %d mismatches against the naive sum", bad);
  printf("ok   %-44s\n", "csum_partial = naive sum (len 0..300, align 0..7, 64K)");
}

static void test_vnet(void) {
  const uint8_t wire[12] = { 0x01, 0x81, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x00, 0x00 };
  struct tsn_vnet v;
  uint8_t out[12];

  tsn_vnet_parse(wire, &v);
  CHECK(v.flags == 1 && v.gso_type == 0x81 && v.hdr_len == 66 && v.gso_size == 1448 &&
        v.csum_start == 34 && v.csum_offset == 16, "vnet parse fields");
  memset(out, 0xee, sizeof(out));
  tsn_vnet_write(out, &v);
  CHECK(!memcmp(out, wire, 12), "vnet write bytes");
  printf("ok   %-44s\n", "vnet header parse/write, little-endian");
}

/* Random damage to headers, lengths and vnet fields: never a crash or an
 * out-of-bounds access (run under -fsanitize=address to see it), and whatever
 * is emitted has valid checksums. Frames are exactly malloc'd to their length. */
static int emit_check(void *ctx, const uint8_t *seg, size_t len) {
  int *bad = ctx;
  size_t l3 = 14, l4;
  int v6;

  if (len >= 18 && be16(seg + 12) == 0x8100)
    l3 = 18;
  v6 = (seg[l3] >> 4) == 6;
  if (v6) {
    l4 = l3 + 40;
    if (seg[l3 + 6] == 0)
      l4 += ((size_t)seg[l4 + 1] + 1) * 8;
  } else {
    l4 = l3 + (size_t)(seg[l3] & 15) * 4;
    if (ref_fold(ref_sum(seg + l3, l4 - l3, 0)) != 0xffff)
      (*bad)++;
  }
  if (!ref_tcp_ok(seg + l3, v6, seg + l4, len - l4))
    (*bad)++;
  return 0;
}

static void test_fuzz(void) {
  int it, bad = 0, ok = 0, err = 0;

  srand(7);
  for (it = 0; it < 20000; it++) {
    int v6 = rand() & 1, vlan = (rand() & 3) == 0, ext = v6 && (rand() & 3) == 0;
    struct built b = build(v6, vlan, (size_t)(rand() % 6000), TCP_ACK, ext);
    size_t len = b.len;
    uint8_t *f;
    int k, rc;

    for (k = rand() % 4; k > 0; k--)
      b.f[(size_t)rand() % (b.hdrs + 1)] = (uint8_t)rand();
    if ((rand() & 3) == 0)
      len = (size_t)rand() % (len + 1);
    if ((rand() & 7) == 0)
      b.vh.csum_start = (uint16_t)rand();
    if ((rand() & 7) == 0)
      b.vh.gso_type = (uint8_t)rand();
    b.vh.gso_size = (uint16_t)(1 + rand() % 3000);
    f = malloc(len ? len : 1);
    memcpy(f, b.f, len);
    rc = tsn_gso_segment(f, len, &b.vh, scratch, sizeof(scratch), emit_check, &bad);
    if (rc > 0)
      ok++;
    else
      err++;
    rc = tsn_csum_complete(f, len, b.vh.csum_start, (uint16_t)(rand() % 40));
    (void)rc;
    free(f);
    free(b.f);
  }
  CHECK(!bad, "fuzz: %d emitted segments with bad checksums", bad);
  printf("ok   %-44s %d segmented, %d refused\n", "fuzz 20000 damaged frames", ok, err);
}

static double now(void) {
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void bench(void) {
  struct built b = build(0, 0, 64000 - 66, TCP_ACK, 0);
  int r, R = 20000;
  double t;
  size_t bytes = 0;
  uint8_t *frame = b.f;

  t = now();
  for (r = 0; r < R; r++)
    tsn_csum_complete(frame, b.len, (uint16_t)b.l4, 16);
  t = now() - t;
  printf("perf completeChecksum 64000 B: %.1f GB/s\n", (double)b.len * R / t / 1e9);

  R = 5000;
  t = now();
  for (r = 0; r < R; r++)
    tsn_gso_segment(frame, b.len, &b.vh, scratch, sizeof(scratch), emit_nop, &bytes);
  t = now() - t;
  printf("perf segment 64000 B at MSS 1448: %.1f Gbit/s, %.0f ns per super-frame\n",
         (double)b.len * R * 8 / t / 1e9, t / R * 1e9);
  free(b.f);
}

int main(int argc, char **argv) {
  struct built b;

  (void)argv;
  test_csum_partial();
  test_vnet();

  b = build(0, 0, 64000 - 14 - 20 - 32, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR | TCP_ECE, 0);
  check_segmentation("TCP/IPv4 64000 B, MSS 1448", &b, 1448);
  free(b.f);

  b = build(1, 0, 64000 - 14 - 40 - 32, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, 0);
  b.vh.gso_type |= TSN_GSO_ECN;
  check_segmentation("TCP/IPv6 64000 B, MSS 1448, GSO_ECN", &b, 1448);
  free(b.f);

  b = build(0, 1, 64000 - 18 - 20 - 32, TCP_ACK | TCP_PSH | TCP_CWR, 0);
  check_segmentation("TCP/IPv4 + 802.1Q 64000 B, MSS 1448", &b, 1448);
  free(b.f);

  b = build(1, 1, 30000, TCP_ACK | TCP_PSH | TCP_FIN, 1);
  check_segmentation("TCP/IPv6 + 802.1Q + hop-by-hop, MSS 1440", &b, 1440);
  free(b.f);

  b = build(0, 0, 1448 * 10, TCP_ACK | TCP_PSH, 0);
  check_segmentation("TCP/IPv4 exact multiple of MSS", &b, 1448);
  free(b.f);

  b = build(0, 0, 4001, TCP_ACK | TCP_PSH | TCP_URG, 0);
  check_segmentation("TCP/IPv4 odd payload, MSS 1001 (odd)", &b, 1001);
  free(b.f);

  b = build(0, 0, 1000, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, 0);
  check_segmentation("TCP/IPv4 payload fits: one segment", &b, 1448);
  free(b.f);

  b = build(1, 0, 0, TCP_ACK | TCP_FIN, 0);
  check_segmentation("TCP/IPv6 no payload: one segment", &b, 1448);
  free(b.f);

  /* Ethernet padding after the IP packet is dropped, not segmented. */
  b = build(0, 0, 10, TCP_ACK, 0);
  {
    uint8_t *padded = calloc(1, b.len + 8);
    struct collect c = { 0 };
    int rc;

    memcpy(padded, b.f, b.len);
    rc = tsn_gso_segment(padded, b.len + 8, &b.vh, scratch, sizeof(scratch), collect_emit, &c);
    CHECK(rc == 1 && c.len[0] == b.len, "padding: rc %d len %zu", rc, c.n ? c.len[0] : 0);
    CHECK(rc == 1 && ref_tcp_ok(c.seg[0] + b.l3, 0, c.seg[0] + b.l4, b.len - b.l4),
          "padding: TCP checksum");
    printf("ok   %-44s\n", "Ethernet padding dropped");
    collect_free(&c);
    free(padded);
  }
  free(b.f);

  /* Without NEEDS_CSUM the partial field is ignored: full checksums anyway. */
  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.flags = 0;
  b.vh.csum_start = 0;
  b.vh.csum_offset = 0;
  put16(b.f + b.l4 + 16, 0x1234);
  check_segmentation("TCP/IPv4 without NEEDS_CSUM, garbage csum", &b, 1448);
  free(b.f);

  /* hdr_len is ignored whatever it says. */
  b = build(0, 0, 5000, TCP_ACK, 0);
  b.vh.hdr_len = 0;
  check_segmentation("TCP/IPv4 hdr_len 0", &b, 1448);
  b.vh.hdr_len = 4000;
  check_segmentation("TCP/IPv4 hdr_len 4000", &b, 1448);
  free(b.f);

  test_malformed();
  test_csum_complete();
  test_fuzz();
  if (argc < 2)
    bench();

  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
