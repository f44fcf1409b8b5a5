/*
 * vtep_rx.c - what a message received on a VTEP's socket is, and its descriptor rows.
 *
 * Each datagram is read so that its VXLAN header fills the 8 headroom bytes just before the slot's
 * usual frame offset and the inner frame starts exactly there: decapsulation costs a length check.
 * The sender's address and port are written into the headroom in front of the VXLAN header
 * (TSN_VTEP_META_*), for remote-MAC learning. With UDP_GRO on, the kernel hands over a peer's
 * UDP_SEGMENT run (or a NIC's GRO batch) as one message, and a kernel VTEP's UDP tunnel GSO packet
 * whole: the datagrams of one TCP flow in sequence are coalesced here into one GSO super-frame (the
 * kernel's TCP GRO rules), so a TAP takes 64 KB in one write instead of 45 - receive is where a
 * userspace VTEP spends its time. Inner checksums a kernel sender left partial are handed on as
 * partial (mark_partial_csum).
 *
 * No Node-API and no syscalls here (recvmmsg is udp_vtep.c's), so the C tests and fuzzers under
 * native/test drive exactly this code.
 */
#include "vtep_rx.h"
#include "gso.h"
#include "layout.h"
#include "vtep_layout.h"
#include "wire.h"
#include <string.h>

/*
 * mark_partial_csum() - Hand on an inner TCP/UDP checksum the sender left partial, as partial
 * @f:		Inner frame
 * @len:	Its length
 * @d:		Its descriptor row: virtio-net fields set to NEEDS_CSUM when the checksum is partial
 *
 * A kernel VTEP sending through a veth (or any device with checksum offload and no NIC behind it)
 * leaves the inner checksum CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum and nobody
 * ever completes it, because the kernel's own receiver keeps trusting the skb's metadata. A userspace
 * receiver gets only the bytes. So a TCP or UDP checksum field equal to that signature is marked
 * NEEDS_CSUM (csum_start/offset of the L4 checksum), exactly the trust the kernel's vxlan gives it: a
 * TAP with offloads takes it as is, any other egress completes it (burst.c, this file's send path).
 * Completing a checksum that was in fact complete yields the same value, so a coincidence is harmless.
 * IPv4 (not fragments) and IPv6 without extension headers, behind at most one VLAN tag. No syscalls.
 */
static void mark_partial_csum(const uint8_t *f, size_t len, int32_t *d) {
  size_t l3 = 14;
  if (len < 14 + 20) return;
  uint16_t et = tsn_rd16(f + 12);
  if ((et == 0x8100 || et == 0x88a8) && len >= 18 + 20) {
    et = tsn_rd16(f + 16);
    l3 = 18;
  }
  uint8_t proto;
  size_t l4, l4len;
  uint64_t sum;
  if (et == 0x0800) {
    const uint8_t *ip = f + l3;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = tsn_rd16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || l3 + tot > len || (tsn_rd16(ip + 6) & 0x3fff)) return;
    proto = ip[9];
    l4 = l3 + ihl;
    l4len = tot - ihl;
    sum = tsn_csum_partial(ip + 12, 8, 0);
  } else if (et == 0x86dd && len >= l3 + 40) {
    const uint8_t *ip = f + l3;
    proto = ip[6];
    l4 = l3 + 40;
    l4len = tsn_rd16(ip + 4);
    if (l4 + l4len > len) return;
    sum = tsn_csum_partial(ip + 8, 32, 0);
  } else {
    return;
  }
  size_t off;
  if (proto == 6 && l4len >= 20) off = 16;
  else if (proto == 17 && l4len >= 8) off = 6;
  else return;
  uint8_t field[2];
  memcpy(field, f + l4 + off, 2);
  if (proto == 17 && field[0] == 0 && field[1] == 0) return; /* UDP without a checksum */
  uint8_t tail[4] = {0, proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};
  uint16_t folded = tsn_csum_fold(tsn_csum_partial(tail, 4, sum));
  uint16_t stored;
  memcpy(&stored, field, 2);
  if (stored != folded) return;
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_CSUM_START] = (int32_t)l4;
  d[TSN_D_CSUM_OFF] = (int32_t)off;
}

static inline uint8_t *slot_frame(const struct tsn_vtep_rx *s, int32_t slot) { return tsn_vtep_slot_frame(s->base, slot); }

/* Describe the next frame (in arrival order): @frame in @slot, @len bytes, no virtio-net fields; write the sender in front. */
static int32_t *rx_row(struct tsn_vtep_rx *s, int32_t slot, uint8_t *frame, int32_t len) {
  int32_t *d = s->desc + (size_t)(s->first + s->nrow++) * TSN_DESC_STRIDE;
  d[TSN_D_OFF] = (int32_t)(frame - s->base);
  d[TSN_D_LEN] = len;
  d[TSN_D_SLOT] = slot;
  d[TSN_D_OUT] = -1;
  d[TSN_D_VFLAGS] = d[TSN_D_GSO_TYPE] = d[TSN_D_HDR_LEN] = d[TSN_D_GSO_SIZE] = d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
  tsn_wr32(frame - TSN_VTEP_META_SRC_IP, s->src_ip);
  tsn_wr16(frame - TSN_VTEP_META_SRC_PORT, s->src_port);
  return d;
}

/* A plain inner frame: describe it, hand on a partial checksum as partial. */
static void rx_single(struct tsn_vtep_rx *s, int32_t slot, uint8_t *frame, int32_t len) {
  int32_t *d = rx_row(s, slot, frame, len);
  if (len > 0) mark_partial_csum(frame, (size_t)len, d);
}

/* Parse an inner frame as IPv4/IPv6 (no extension headers) + TCP whose IP length matches @len exactly; 0 if it is one. */
static inline int tcp_parse(const uint8_t *f, size_t len, struct tsn_tcp_hdrs *h) { return tsn_tcp_parse(f, len, TSN_TCP_EXACT, h); }

/* Store the TCP checksum field as partial (folded pseudo-header sum for @l4len bytes), as a TSO stack leaves it. */
static void tcp_partial_csum(uint8_t *f, const struct tsn_tcp_hdrs *h, size_t l4len) {
  const uint8_t *ip = f + h->l3;
  uint64_t sum = h->v6 ? tsn_csum_partial(ip + 8, 32, 0) : tsn_csum_partial(ip + 12, 8, 0);
  uint8_t tail[4] = {0, 6, (uint8_t)(l4len >> 8), (uint8_t)l4len};
  uint16_t folded = tsn_csum_fold(tsn_csum_partial(tail, 4, sum));
  memcpy(f + h->l4 + 16, &folded, 2);
}

/* Close a run: fix lengths and checksums and describe it (a GSO super-frame if more than one chunk). */
static void run_finish(struct tsn_vtep_rx *s, struct tsn_vtep_run *r) {
  if (!r->active) return;
  r->active = 0;
  if (r->chunks == 1) {
    rx_single(s, r->slot, r->dst, (int32_t)r->len);
    return;
  }
  uint8_t *f = r->dst, *ip = f + r->h.l3;
  if (r->h.v6) {
    tsn_wr16(ip + 4, (uint16_t)(r->len - r->h.l3 - 40));
  } else {
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    tsn_wr16(ip + 2, (uint16_t)(r->len - r->h.l3));
    ip[10] = ip[11] = 0;
    uint16_t c = (uint16_t)~tsn_csum_fold(tsn_csum_partial(ip, ihl, 0));
    memcpy(ip + 10, &c, 2);
  }
  tcp_partial_csum(f, &r->h, r->len - r->h.l4);
  int32_t *d = rx_row(s, r->slot, f, (int32_t)r->len);
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_GSO_TYPE] = r->h.v6 ? TSN_GSO_TCPV6 : TSN_GSO_TCPV4;
  d[TSN_D_GSO_SIZE] = (int32_t)r->mss;
  d[TSN_D_HDR_LEN] = (int32_t)r->h.hdrs;
  d[TSN_D_CSUM_START] = (int32_t)r->h.l4;
  d[TSN_D_CSUM_OFF] = 16;
  s->status[TSN_VST_RX_SUPERFRAMES]++;
}

/*
 * Can chunk @f (inner frame of @len bytes, VXLAN header at f - 8) continue run @r? The rules of the
 * kernel's TCP GRO (tcp_gro_receive): same VXLAN header, same Ethernet and IP headers but for the
 * length/id/checksum, same ports, ack, window and options, the next sequence number, no SYN, RST, URG
 * or CWR, payload no larger than the first chunk's.
 */
static int run_accepts(const struct tsn_vtep_run *r, const uint8_t *f, size_t len) {
  const struct tsn_tcp_hdrs *h = &r->h;
  const uint8_t *g = r->dst;
  if (len <= h->hdrs || len - h->hdrs > r->mss || r->len + (len - h->hdrs) > 65535 + h->l3) return 0;
  if (memcmp(f - TSN_VXLAN_HLEN, g - TSN_VXLAN_HLEN, TSN_VXLAN_HLEN) || memcmp(f, g, h->l3)) return 0;
  const uint8_t *ip = f + h->l3, *gip = g + h->l3;
  if (h->v6) {
    if (memcmp(ip, gip, 4) || ip[6] != gip[6] || ip[7] != gip[7] || memcmp(ip + 8, gip + 8, 32) || h->l3 + 40 + tsn_rd16(ip + 4) != len) return 0;
  } else {
    size_t ihl = (size_t)(gip[0] & 0x0f) * 4;
    if (ip[0] != gip[0] || ip[1] != gip[1] || tsn_rd16(ip + 6) != tsn_rd16(gip + 6) || ip[8] != gip[8] || ip[9] != gip[9] || memcmp(ip + 12, gip + 12, ihl - 12) ||
        h->l3 + tsn_rd16(ip + 2) != len)
      return 0;
  }
  const uint8_t *th = f + h->l4, *gth = g + h->l4;
  size_t thl = h->hdrs - h->l4;
  uint8_t flags = th[13];
  if (memcmp(th, gth, 4) || tsn_rd32(th + 4) != r->next_seq || memcmp(th + 8, gth + 8, 4) || th[12] != gth[12] || (flags & (TSN_TCP_SYN | TSN_TCP_RST | TSN_TCP_URG | TSN_TCP_CWR)) ||
      (flags & ~(TSN_TCP_FIN | TSN_TCP_PSH)) != (gth[13] & ~(TSN_TCP_FIN | TSN_TCP_PSH | TSN_TCP_CWR)) || memcmp(th + 14, gth + 14, 2) || memcmp(th + 20, gth + 20, thl - 20))
    return 0;
  return 1;
}

/* Take a free slot for an extra frame of a coalesced message, or -1 (then the frame is dropped and counted). */
static int32_t spare_slot(struct tsn_vtep_rx *s) {
  if (s->spare >= s->end) {
    s->status[TSN_VST_RX_NO_SLOT]++;
    return -1;
  }
  return s->spare++;
}

/*
 * run_start() - Start a run at @frame (@flen bytes in @slot, VXLAN header in front) if it can begin
 * one: TCP with payload and none of the flags that end a run; else describe it as a frame of its own.
 */
static void run_start(struct tsn_vtep_rx *s, struct tsn_vtep_run *r, int32_t slot, uint8_t *frame, size_t flen) {
  struct tsn_tcp_hdrs h;
  if (tcp_parse(frame, flen, &h) != 0 || flen <= h.hdrs ||
      (frame[h.l4 + 13] & (TSN_TCP_SYN | TSN_TCP_RST | TSN_TCP_URG | TSN_TCP_CWR | TSN_TCP_FIN | TSN_TCP_PSH))) {
    rx_single(s, slot, frame, (int32_t)flen);
    return;
  }
  r->active = 1;
  r->slot = slot;
  r->dst = frame;
  r->len = flen;
  r->h = h;
  r->mss = flen - h.hdrs;
  r->next_seq = tsn_rd32(frame + h.l4 + 4) + (uint32_t)r->mss;
  r->chunks = 1;
}

/* Append frame @f (@flen bytes; run_accepts() said yes) to run @r: its payload after the run's; a short or FIN/PSH segment ends the run. */
static void run_append(struct tsn_vtep_rx *s, struct tsn_vtep_run *r, const uint8_t *f, size_t flen) {
  size_t plen = flen - r->h.hdrs;
  uint8_t fl = f[r->h.l4 + 13]; /* before the move: the payload may land over this frame's own headers */
  memmove(r->dst + r->len, f + r->h.hdrs, plen);
  r->len += plen;
  r->next_seq += (uint32_t)plen;
  r->chunks++;
  if (fl & (TSN_TCP_FIN | TSN_TCP_PSH)) r->dst[r->h.l4 + 13] |= fl & (TSN_TCP_FIN | TSN_TCP_PSH);
  if (plen < r->mss || (fl & (TSN_TCP_FIN | TSN_TCP_PSH))) run_finish(s, r);
}

/* Copy @frame (@len bytes, VXLAN header in front) to a spare slot, set *@slot; NULL when none is left (counted). */
static uint8_t *to_spare_slot(struct tsn_vtep_rx *s, int32_t *slot, const uint8_t *frame, size_t len) {
  *slot = spare_slot(s);
  if (*slot < 0) return NULL;
  uint8_t *to = slot_frame(s, *slot);
  memcpy(to - TSN_VXLAN_HLEN, frame - TSN_VXLAN_HLEN, len + TSN_VXLAN_HLEN);
  return to;
}

/*
 * add_frame() - Add @frame (@len >= 14 bytes, VXLAN header in front, from the current sender) to run
 * @r, or end the run and start with it. @slot < 0: the frame lies where it cannot stay (inside a
 * message, behind another datagram's bytes), so when it does not join the run it is copied to a
 * spare slot first - every row has a slot of its own, with headroom. No syscalls.
 */
static void add_frame(struct tsn_vtep_rx *s, struct tsn_vtep_run *r, int32_t slot, uint8_t *frame, size_t len) {
  if (r->active && run_accepts(r, frame, len)) {
    run_append(s, r, frame, len);
    return;
  }
  run_finish(s, r);
  if (slot < 0 && !(frame = to_spare_slot(s, &slot, frame, len))) return;
  run_start(s, r, slot, frame, len);
}

/*
 * rx_chunks() - Split a UDP GRO message into its datagrams and coalesce TCP runs into super-frames
 * @slot:	The slot the message landed in (its first datagram's inner frame at the usual offset)
 * @base:	The message's first byte (a VXLAN header)
 * @total:	Message length
 * @seg:	Datagram size (the UDP_GRO cmsg): every datagram but the last has exactly this many bytes
 *
 * Datagrams of one TCP flow in sequence, as a tsnet-switch peer's UDP_SEGMENT sends them, become one
 * GSO super-frame built in place in the message's slot (payloads moved left over the repeated
 * headers), handed on whole; anything else is one frame per datagram, in spare slots of the burst.
 * A super-frame goes on with a partial checksum (NEEDS_CSUM), so the receiving stack does not verify
 * the datagrams' inner checksums one by one: their integrity rests on the outer UDP checksum, which
 * the kernel verified before queueing them (a tsnet-switch sender always sets it: UDP_SEGMENT
 * requires it). This is the trust the kernel's own GRO places in CHECKSUM_COMPLETE. No syscalls.
 */
static void rx_chunks(struct tsn_vtep_rx *s, int32_t slot, uint8_t *base, size_t total, size_t seg) {
  struct tsn_vtep_run r = {0};
  for (size_t off = 0; off < total; off += seg) {
    size_t clen = total - off < seg ? total - off : seg;
    uint8_t *p = base + off, *f = p + TSN_VXLAN_HLEN;
    s->status[TSN_VST_RX_GRO_DGRAMS]++;
    if (clen >= TSN_VXLAN_HLEN + 14) {
      add_frame(s, &r, off == 0 ? slot : -1, f, clen - TSN_VXLAN_HLEN);
      continue;
    }
    run_finish(s, &r);
    int32_t fslot = slot;
    uint8_t *frame = f;
    if (off > 0) {
      fslot = spare_slot(s);
      if (fslot < 0) continue;
      frame = slot_frame(s, fslot);
      memcpy(frame - TSN_VXLAN_HLEN, p, clen);
    }
    rx_row(s, fslot, frame, (int32_t)clen - TSN_VXLAN_HLEN); /* too short: the decap stage counts it truncated */
  }
  run_finish(s, &r);
}

/*
 * tsn_vtep_rx_frame() - Add one frame that arrived alone (a WireGuard datagram, decrypted where it
 * landed) to the burst, by the rules rx_chunks() applies inside one GRO message: consecutive frames
 * of one TCP flow in sequence from the same sender become one super-frame, built in the first one's
 * slot (even across messages of the burst); the rest are frames of their own, a partial inner
 * checksum handed on as partial. @slot: the frame is at that slot's usual offset, or -1 if it lies
 * elsewhere (it is copied to a spare slot unless it joins the run). @src_ip/@src_port: the sender,
 * written in front of the row (TSN_VTEP_META_*). A super-frame's inner checksums are not verified one
 * by one: each datagram's bytes were authenticated by its AEAD tag, a stronger check than the outer
 * UDP checksum rx_chunks() relies on. tsn_vtep_rx_flush() ends the burst. No syscalls.
 */
void tsn_vtep_rx_frame(struct tsn_vtep_rx *s, int32_t slot, uint8_t *frame, size_t len, uint32_t src_ip, uint16_t src_port) {
  if (src_ip != s->src_ip || src_port != s->src_port) { /* another sender: the run (and its rows) are the previous one's */
    run_finish(s, &s->run);
    s->src_ip = src_ip;
    s->src_port = src_port;
  }
  if (len >= 14) {
    add_frame(s, &s->run, slot, frame, len);
    return;
  }
  run_finish(s, &s->run);
  if (slot < 0 && !(frame = to_spare_slot(s, &slot, frame, len))) return;
  rx_row(s, slot, frame, (int32_t)len);
}

void tsn_vtep_rx_flush(struct tsn_vtep_rx *s) { run_finish(s, &s->run); }

/*
 * vxlan_at_boundary() - Does a datagram boundary of message @msg (@total bytes, datagrams of @seg)
 * hold something an RFC 7348 sender writes as a VXLAN header: the I flag set, the 24 reserved bits
 * after the flags and the 8 after the VNI zero? (Random payload matches one boundary with odds of
 * 2^-33.) No syscalls.
 */
static int vxlan_at_boundary(const uint8_t *msg, size_t total, size_t seg) {
  for (size_t off = seg; off + TSN_VXLAN_HLEN <= total; off += seg) {
    const uint8_t *p = msg + off;
    if ((p[0] & 0x08) && !p[1] && !p[2] && !p[3] && !p[7]) return 1;
  }
  return 0;
}

/*
 * rx_tunnel_gso() - A kernel VTEP's UDP tunnel GSO packet: one VXLAN header, one inner TCP super-frame
 * @frame:	The inner frame (the message's VXLAN header is the 8 bytes before it)
 * @len:	Its length: the message's less 8
 * @seg:	Its gso_size (the UDP_GRO cmsg): the inner MSS
 *
 * Over a veth (or any path that keeps GSO packets whole) a kernel VXLAN sender's 64 KB packet reaches
 * our socket unsegmented, and is handed on as the GSO super-frame it is. The only evidence is the
 * first inner header: its IP length spans the whole message. But a UDP GRO run of datagrams of @seg
 * bytes (from one outer 5-tuple: possibly several tenants' VNIs) looks the same when its first
 * datagram's sender forged that length, and reading it as one frame would deliver the other
 * datagrams, VXLAN headers and all, into the first one's VNI (issue 19, item 1). Nor can the message
 * safely be read as datagrams: a tenant behind a kernel VTEP controls its TCP payload, and could write
 * VXLAN headers of other VNIs at the boundaries. So a message whose first inner frame claims the whole
 * message while a datagram boundary holds a VXLAN header is trusted in neither reading: it is dropped
 * and counted (TSN_VST_RX_AMBIGUOUS_GRO, "vxlan-ambiguous-gro"). No syscalls.
 *
 * Return: 0 if the message was handled here (described, or dropped as ambiguous), -1 if it is not
 * a tunnel GSO packet (then it is a run of datagrams)
 */
static int rx_tunnel_gso(struct tsn_vtep_rx *s, int32_t slot, uint8_t *frame, size_t len, size_t seg) {
  struct tsn_tcp_hdrs h;
  if (tcp_parse(frame, len, &h) != 0 || len - h.hdrs <= seg) return -1;
  if (vxlan_at_boundary(frame - TSN_VXLAN_HLEN, len + TSN_VXLAN_HLEN, seg)) {
    s->status[TSN_VST_RX_AMBIGUOUS_GRO]++;
    return 0;
  }
  int32_t *d = rx_row(s, slot, frame, (int32_t)len);
  d[TSN_D_VFLAGS] = TSN_VNET_F_NEEDS_CSUM;
  d[TSN_D_GSO_TYPE] = h.v6 ? TSN_GSO_TCPV6 : TSN_GSO_TCPV4;
  d[TSN_D_GSO_SIZE] = (int32_t)seg;
  d[TSN_D_HDR_LEN] = (int32_t)h.hdrs;
  d[TSN_D_CSUM_START] = (int32_t)h.l4;
  d[TSN_D_CSUM_OFF] = 16;
  s->status[TSN_VST_RX_TUNNEL_GSO]++;
  return 0;
}

/*
 * tsn_vtep_rx_message() - Describe one received message that landed in @slot (VXLAN header just before the
 * slot's usual frame offset): a single datagram (@seg 0, or not larger than @seg), a kernel VTEP's
 * tunnel GSO packet, or a UDP GRO run of datagrams of @seg bytes each. No syscalls.
 */
void tsn_vtep_rx_message(struct tsn_vtep_rx *s, int32_t slot, size_t total, int seg) {
  uint8_t *frame = slot_frame(s, slot);
  if (seg <= 0 || total <= (size_t)seg) {
    rx_single(s, slot, frame, (int32_t)total - TSN_VXLAN_HLEN);
    return;
  }
  if (total > TSN_VXLAN_HLEN && rx_tunnel_gso(s, slot, frame, total - TSN_VXLAN_HLEN, (size_t)seg) == 0) return;
  rx_chunks(s, slot, frame - TSN_VXLAN_HLEN, total, (size_t)seg);
}
