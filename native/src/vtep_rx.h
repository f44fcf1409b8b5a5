/*
 * vtep_rx.h - decoding the messages a VTEP's receive socket returns into descriptor rows (vtep_rx.c).
 * No Node-API here: udp_vtep.c calls it after recvmmsg (and for vtepRxInject), native/test calls it directly.
 */
#ifndef TSN_VTEP_RX_H
#define TSN_VTEP_RX_H
#include "gso.h"
#include "layout.h"
#include <stddef.h>
#include <stdint.h>

/* A run of frames of one TCP flow being coalesced into one super-frame at @dst (vtep_rx.c). */
struct tsn_vtep_run {
  int active;
  int32_t slot;
  uint8_t *dst;   /* the frame being built; its VXLAN header is at dst - 8 */
  size_t len;     /* bytes of it so far */
  struct tsn_tcp_hdrs h;
  size_t mss;     /* payload of the first frame: every frame but the last carries exactly this */
  uint32_t next_seq;
  int chunks;
};

/* Receive-side state of one burst: where the pool and descriptors are, which slots the burst may use. */
struct tsn_vtep_rx {
  uint8_t *base;     /* pool bytes (slots of TSN_SLOT_SIZE) */
  int32_t *desc;     /* descriptor rows, TSN_DESC_STRIDE int32s each, indexed like the slots */
  int32_t *status;   /* the VTEP's status vector (receive counters, TSN_VST_*) */
  int32_t first;     /* first slot (and descriptor row) of the burst */
  int32_t nrow;      /* frames (descriptor rows) written so far, in arrival order */
  int32_t spare;     /* next free slot for extra frames of a coalesced message */
  int32_t end;       /* one past the last slot the burst may use */
  uint32_t src_ip;   /* sender of the current message, host order */
  uint16_t src_port;
  struct tsn_vtep_run run; /* tsn_vtep_rx_frame's run across the burst (zero it with the rest) */
};

/* A slot's usual frame offset: a received message's VXLAN header is the 8 bytes before it. */
static inline uint8_t *tsn_vtep_slot_frame(uint8_t *base, int32_t slot) { return base + (size_t)slot * TSN_SLOT_SIZE + TSN_HEADROOM; }

/*
 * tsn_vtep_rx_message() - Describe one received message of @total bytes that landed in @slot (VXLAN
 * header just before the slot's usual frame offset); @seg is the UDP_GRO cmsg's datagram size, 0 for
 * a single datagram. Rows go to @s->desc from @s->first + @s->nrow on. No syscalls.
 */
void tsn_vtep_rx_message(struct tsn_vtep_rx *s, int32_t slot, size_t total, int seg);

/*
 * tsn_vtep_rx_frame() - Add a frame that arrived alone (@len bytes at @frame, VXLAN header in front;
 * at @slot's usual offset, or @slot -1 if it lies elsewhere) from sender @src_ip:@src_port, coalescing
 * TCP segments of one flow and sender into super-frames; tsn_vtep_rx_flush() ends the burst (@s->nrow
 * is then its rows). No syscalls.
 */
void tsn_vtep_rx_frame(struct tsn_vtep_rx *s, int32_t slot, uint8_t *frame, size_t len, uint32_t src_ip, uint16_t src_port);
void tsn_vtep_rx_flush(struct tsn_vtep_rx *s);

#endif
