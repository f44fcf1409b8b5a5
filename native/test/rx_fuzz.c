/*
 * rx_fuzz.c - fuzzing the addon's receive code in C: VXLAN messages (vtep_rx.c, with UDP GRO runs and
 * tunnel GSO), decrypted WireGuard bursts (tsn_vtep_rx_frame) and AF_PACKET frames (packet_rx.c), then what a consumer does with the rows they write
 * (segmenting GSO rows, completing partial checksums: gso.c). Checks, besides the sanitizers': every
 * row lies inside the slots the burst may use, rows never exceed those slots, a GSO row parses as
 * TCP, and no row of one VNI holds bytes that arrived under another VNI's header.
 *
 * Two entry points:
 *   - LLVMFuzzerTestOneInput, for libFuzzer (clang -fsanitize=fuzzer,address,undefined -DTSN_LIBFUZZER);
 *   - main(): a deterministic run (fixed seed, N iterations, default 100000) of seeds and their
 *     mutations, for the test suite under gcc or clang with ASan/UBSan (test/unit/native-c.test.ts).
 * A third target is tsn_vtep_rx_frame over frames that arrive alone (a WireGuard burst after decryption).
 * The first input byte selects the target and the GRO datagram size; the rest is the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/gso.h"
#include "../src/layout.h"
#include "../src/packet_rx.h"
#include "../src/vtep_layout.h"
#include "../src/vtep_rx.h"

#define SLOTS 8
static uint8_t *pool;
static int32_t desc[SLOTS * TSN_DESC_STRIDE];
static int32_t status[TSN_VST_COUNT];
static uint8_t scratch[TSN_GSO_MAX_HDR + 65536];
static long bad;

#define FAIL(...)                     \
  do {                                \
    bad++;                            \
    fprintf(stderr, "FAIL: " __VA_ARGS__); \
    fputc('\n', stderr);              \
  } while (0)

static int emit_nop(void *ctx, const uint8_t *seg, size_t len) {
  (void)ctx;
  volatile uint8_t x = len ? seg[0] ^ seg[len - 1] : 0; /* touch both ends: ASan sees any overrun */
  (void)x;
  return 0;
}

/* What the stages and egress do with a row: bounds, then segmentation or checksum completion. */
static void consume_row(int32_t *d, int32_t lo_slot, int32_t hi_slot) {
  int32_t off = d[TSN_D_OFF], len = d[TSN_D_LEN];
  size_t lo = (size_t)lo_slot * TSN_SLOT_SIZE, hi = (size_t)hi_slot * TSN_SLOT_SIZE;
  if (len < 0) return; /* counted as truncated / bad by the stages */
  if (off < 0 || (size_t)off < lo + TSN_VXLAN_HLEN || (size_t)off + (size_t)len > hi) {
    FAIL("row outside its slots: off %d len %d (slots %d..%d)", off, len, lo_slot, hi_slot);
    return;
  }
  size_t slot_end = ((size_t)off / TSN_SLOT_SIZE + 1) * TSN_SLOT_SIZE;
  if ((size_t)off + (size_t)len > slot_end) FAIL("row crosses its slot's end: off %d len %d", off, len);
  uint8_t *f = pool + off;
  struct tsn_vnet vh = {(uint8_t)d[TSN_D_VFLAGS], (uint8_t)d[TSN_D_GSO_TYPE], (uint16_t)d[TSN_D_HDR_LEN], (uint16_t)d[TSN_D_GSO_SIZE],
                        (uint16_t)d[TSN_D_CSUM_START], (uint16_t)d[TSN_D_CSUM_OFF]};
  if ((vh.gso_type & ~TSN_GSO_ECN) != TSN_GSO_NONE) {
    tsn_gso_segment(f, (size_t)len, &vh, scratch, sizeof scratch, emit_nop, NULL);
  } else if (vh.flags & TSN_VNET_F_NEEDS_CSUM) {
    tsn_csum_complete(f, (size_t)len, vh.csum_start, vh.csum_offset);
  }
}

/* VXLAN: the message lands in slot 0 as recvmmsg puts it; rows may use slots 0..SLOTS-1. */
static void run_vtep(const uint8_t *msg, size_t len, int seg) {
  if (len > TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN) len = TSN_SLOT_SIZE - TSN_HEADROOM + TSN_VXLAN_HLEN;
  memset(desc, 0, sizeof desc);
  uint8_t *at = tsn_vtep_slot_frame(pool, 0) - TSN_VXLAN_HLEN;
  memcpy(at, msg, len);
  struct tsn_vtep_rx s = {.base = pool, .desc = desc, .status = status, .first = 0, .nrow = 0, .spare = 1, .end = SLOTS};
  tsn_vtep_rx_message(&s, 0, len, seg);
  if (s.nrow < 0 || s.nrow > SLOTS) {
    FAIL("%d rows for %d slots", s.nrow, SLOTS);
    return;
  }
  for (int r = 0; r < s.nrow; r++) {
    int32_t *d = desc + r * TSN_DESC_STRIDE;
    /* A row read as one kernel tunnel-GSO packet (the whole message as one frame) must not span a
     * datagram boundary holding a VXLAN header: that would be another datagram, maybe another VNI's. */
    if (seg > 0 && len > (size_t)seg && d[TSN_D_OFF] == (int32_t)(TSN_HEADROOM) && d[TSN_D_LEN] == (int32_t)(len - TSN_VXLAN_HLEN) &&
        (d[TSN_D_GSO_TYPE] & ~TSN_GSO_ECN) != TSN_GSO_NONE)
      for (size_t o = (size_t)seg; o + TSN_VXLAN_HLEN <= len; o += (size_t)seg)
        if ((msg[o] & 0x08) && !msg[o + 1] && !msg[o + 2] && !msg[o + 3] && !msg[o + 7]) FAIL("a tunnel-GSO row spans a VXLAN header at %zu", o);
    consume_row(d, 0, SLOTS);
  }
}

/* AF_PACKET: a frame read into slot 1 behind a 0- or 12-byte virtio-net header, maybe with a stripped tag. */
static void run_packet(const uint8_t *data, size_t len, uint8_t sel) {
  size_t hdr = (sel & 1) ? TSN_VNET_HDR_LEN : 0;
  if (len > TSN_SLOT_SIZE - TSN_HEADROOM + hdr) len = TSN_SLOT_SIZE - TSN_HEADROOM + hdr;
  uint8_t *frame = tsn_vtep_slot_frame(pool, 1);
  memcpy(frame - hdr, data, len);
  struct tpacket_auxdata aux = {0};
  aux.tp_status = (sel & 2) ? TP_STATUS_VLAN_VALID | ((sel & 4) ? TP_STATUS_VLAN_TPID_VALID : 0) : 0;
  aux.tp_vlan_tci = 0x0064;
  aux.tp_vlan_tpid = (sel & 8) ? 0x88a8 : 0;
  int32_t *d = desc + TSN_DESC_STRIDE;
  tsn_packet_rx_describe(frame, len, hdr, (sel & 16) ? NULL : &aux, d, (int32_t)(frame - pool));
  consume_row(d, 1, 2);
}

/*
 * Frames that arrive alone, as a WireGuard burst leaves them decrypted (tsn_vtep_rx_frame): @data is
 * a sequence of records [length 2 | sender 4 | VXLAN header 8 | frame]. Records alternate between
 * landing at a slot's usual offset and lying inside slot 0's message (slot -1), as a GRO message's
 * later datagrams do. Besides consume_row's checks: every row at its own slot's usual offset, under
 * the VXLAN header it arrived with.
 */
static void run_frames(const uint8_t *data, size_t len) {
  memset(desc, 0, sizeof desc);
  uint32_t vni_of_slot[SLOTS] = {0};
  struct tsn_vtep_rx s = {.base = pool, .desc = desc, .status = status, .first = 0, .spare = SLOTS / 2, .end = SLOTS};
  uint8_t *inside = NULL; /* "inside a message": after slot 0's frame, each past the one before */
  int k = 0;
  for (size_t at = 0; at + 14 <= len && k < SLOTS; k++) {
    size_t flen = (size_t)(data[at] << 8 | data[at + 1]);
    if (flen > len - at - 14) flen = len - at - 14;
    if (flen > 4000) flen = 4000;
    int32_t slot = (k & 1) ? -1 : k / 2;
    uint8_t *f = slot < 0 ? inside : tsn_vtep_slot_frame(pool, slot);
    memcpy(f - TSN_VXLAN_HLEN, data + at + 6, 8);
    memcpy(f, data + at + 14, flen);
    uint32_t vni = (uint32_t)(f[-4] << 16 | f[-3] << 8 | f[-2]);
    int32_t spare = s.spare;
    tsn_vtep_rx_frame(&s, slot, f, flen, ((uint32_t)data[at + 2] << 24 | (uint32_t)data[at + 3] << 16 | (uint32_t)data[at + 4] << 8 | data[at + 5]), 7);
    if (slot <= 0) inside = f + flen + 64; /* k = 0 is slot 0, so it is set before the first k = 1 */
    if (slot >= 0) vni_of_slot[slot] = vni;
    else if (s.spare > spare) vni_of_slot[spare] = vni;
    at += 14 + flen;
  }
  tsn_vtep_rx_flush(&s);
  if (s.nrow < 0 || s.nrow > k) {
    FAIL("frames: %d rows from %d frames", s.nrow, k);
    return;
  }
  for (int r = 0; r < s.nrow; r++) {
    int32_t *d = desc + r * TSN_DESC_STRIDE, slot = d[TSN_D_SLOT];
    const uint8_t *f = pool + d[TSN_D_OFF];
    if (slot < 0 || slot >= SLOTS || d[TSN_D_OFF] != (int32_t)(tsn_vtep_slot_frame(pool, slot) - pool)) FAIL("frames: row %d not at its slot %d", r, slot);
    else if ((uint32_t)(f[-4] << 16 | f[-3] << 8 | f[-2]) != vni_of_slot[slot]) FAIL("frames: row %d changed VNI", r);
    consume_row(d, 0, SLOTS);
  }
}

int tsn_fuzz_one(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t sel = data[0];
  if ((sel & 0xc0) == 0xc0) run_frames(data + 1, size - 1);
  else if (sel & 0x80) run_packet(data + 1, size - 1, sel);
  else run_vtep(data + 1, size - 1, (sel & 0x40) ? 0 : 64 + (int)(sel & 0x3f) * 24);
  return 0;
}

static void init(void) {
  if (!pool) pool = calloc(SLOTS, TSN_SLOT_SIZE);
  if (!pool) abort();
}

#ifdef TSN_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init();
  return tsn_fuzz_one(data, size);
}
#else

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* An Ethernet/IPv4/TCP frame of @paylen payload bytes at @f, sequence @seq; returns its length. */
static size_t tcp4(uint8_t *f, size_t paylen, uint32_t seq, uint8_t flags) {
  memset(f, 0, 54);
  f[0] = 2, f[5] = 2, f[6] = 2, f[11] = 1;
  put16(f + 12, 0x0800);
  f[14] = 0x45;
  put16(f + 16, (unsigned)(40 + paylen));
  put16(f + 20, 0x4000);
  f[22] = 64, f[23] = 6;
  f[26] = 10, f[29] = 1, f[30] = 10, f[33] = 2;
  put16(f + 34, 40000), put16(f + 36, 5201);
  put16(f + 38, seq >> 16), put16(f + 40, seq & 0xffff);
  f[46] = 0x50, f[47] = flags;
  for (size_t i = 0; i < paylen; i++) f[54 + i] = (uint8_t)(i * 31 + seq);
  return 54 + paylen;
}

static size_t vxlan(uint8_t *p, uint32_t vni) {
  memset(p, 0, 8);
  p[0] = 0x08, p[4] = (uint8_t)(vni >> 16), p[5] = (uint8_t)(vni >> 8), p[6] = (uint8_t)vni;
  return 8;
}

/* One seed input: selector byte + message, into @buf; returns its size. */
static size_t seed(uint8_t *buf, int kind) {
  uint8_t *m = buf + 1;
  size_t n = 0;
  switch (kind) {
  case 0: { /* a GRO run of one flow, datagrams of 8 + 54 + 1000 */
    buf[0] = (uint8_t)((1062 - 64) / 24); /* seg = 64 + 41 * 24 = 1048: mutations shift it */
    int seg = 64 + (buf[0] & 0x3f) * 24;
    for (int k = 0; k < 6; k++) {
      n += vxlan(m + n, 100 + (k == 3));
      n += tcp4(m + n, (size_t)seg - 62, 1000 + (uint32_t)k * (uint32_t)(seg - 62), k == 5 ? 0x18 : 0x10);
    }
    break;
  }
  case 1: /* a kernel tunnel-GSO packet */
    buf[0] = 40;
    n += vxlan(m, 100);
    n += tcp4(m + n, 6000, 1, 0x10);
    break;
  case 2: /* one datagram */
    buf[0] = 0x40;
    n += vxlan(m, 7);
    n += tcp4(m + n, 100, 5, 0x18);
    break;
  case 3: /* one-per-slot rows: a TCP flow in sequence from one sender, then another sender, then another VNI */
    buf[0] = 0xc0;
    for (int k = 0; k < 6; k++) {
      uint8_t *rec = m + n;
      size_t flen = tcp4(rec + 14, 1000, 1 + (uint32_t)k * 1000, k == 5 ? 0x18 : 0x10);
      put16(rec, (unsigned)flen);
      memset(rec + 2, 0, 4);
      rec[5] = (uint8_t)(k < 4 ? 1 : 2);
      vxlan(rec + 6, k == 4 ? 300 : 100);
      n += 14 + flen;
    }
    break;
  default: /* an AF_PACKET frame with a virtio-net header (GSO TCPv4, NEEDS_CSUM) and a stripped tag */
    buf[0] = 0x80 | 1 | 2 | 4;
    memset(m, 0, 12);
    m[0] = TSN_VNET_F_NEEDS_CSUM, m[1] = TSN_GSO_TCPV4, m[4] = (uint8_t)(1400 & 0xff), m[5] = (uint8_t)(1400 >> 8), m[6] = 34, m[8] = 16;
    n = 12 + tcp4(m + 12, 9000, 1, 0x10);
    break;
  }
  return 1 + n;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 100000;
  static uint8_t base[70000], buf[70000];
  init();
  long runs = 0;
  for (long it = 0; it < iters; it++) {
    size_t n = seed(base, (int)(it % 5));
    memcpy(buf, base, n);
    int muts = 1 + (int)(rnd() % 8);
    for (int k = 0; k < muts; k++) {
      uint32_t r = rnd();
      switch (r % 6) {
      case 0: buf[rnd() % n] = (uint8_t)rnd(); break;                 /* a random byte */
      case 1: buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8)); break;  /* a bit flip */
      case 2: n = 1 + rnd() % n; break;                               /* truncation */
      case 3: buf[0] = (uint8_t)rnd(); break;                         /* another target / datagram size */
      case 4: { size_t at = rnd() % n; put16(buf + at, rnd() & 1 ? 0xffff : rnd() % 2000); break; } /* a length-looking field */
      default: if (n > 64) memset(buf + 1 + rnd() % (n - 64), 0, 8); break; /* a zeroed run */
      }
      if (n < 2) n = 2;
    }
    tsn_fuzz_one(buf, n);
    runs++;
  }
  printf("rx fuzz: %ld inputs, rows dropped ambiguous %d, tunnel GSO %d, superframes %d; %ld failures\n", runs, status[TSN_VST_RX_AMBIGUOUS_GRO],
         status[TSN_VST_RX_TUNNEL_GSO], status[TSN_VST_RX_SUPERFRAMES], bad);
  free(pool);
  return bad ? 1 : 0;
}
#endif
