/*
 * tx_offload.h - what every transmit path (burst.c, af_packet.c, vtep_tx.c, wg_tx.c) does with a row's
 * virtio-net fields: read them out of the descriptor, and, for an egress that takes neither GSO
 * super-frames nor partial checksums, decide whether the frame must be segmented or can go once its
 * checksum is completed. One copy, so the four paths cannot drift apart. No Node-API, no syscalls.
 */
#ifndef TSN_TX_OFFLOAD_H
#define TSN_TX_OFFLOAD_H
#include "gso.h"
#include "layout.h"
#include "tx_status.h"
#include <stddef.h>
#include <stdint.h>

/* The virtio-net fields of descriptor row @d (the inverse of TSN_DESC_SET_VNET). */
static inline void tsn_desc_vnet(const int32_t *d, struct tsn_vnet *vh) {
  vh->flags = (uint8_t)d[TSN_D_VFLAGS];
  vh->gso_type = (uint8_t)d[TSN_D_GSO_TYPE];
  vh->hdr_len = (uint16_t)d[TSN_D_HDR_LEN];
  vh->gso_size = (uint16_t)d[TSN_D_GSO_SIZE];
  vh->csum_start = (uint16_t)d[TSN_D_CSUM_START];
  vh->csum_offset = (uint16_t)d[TSN_D_CSUM_OFF];
}

enum {
  TSN_TXO_SEND,    /* the frame goes as it is */
  TSN_TXO_SEGMENT, /* a GSO super-frame: the caller cuts it (tsn_gso_segment) */
  TSN_TXO_DROPPED  /* its partial checksum could not be completed: counted TSN_TXS_DROP_BAD_GSO */
};

/*
 * tsn_tx_offload() - Ready the frame of row @d (@frame, @len bytes, @vh read from the row) for an
 * egress that takes neither GSO nor partial checksums. A partial checksum is completed in place
 * (counted TSN_TXS_CSUM_DONE) and the row and @vh then say DATA_VALID: the frame's other egresses of a
 * flood send it as it is. Counts in status vector @st.
 * Return: TSN_TXO_SEND, TSN_TXO_SEGMENT or TSN_TXO_DROPPED
 */
static inline int tsn_tx_offload(int32_t *d, uint8_t *frame, size_t len, struct tsn_vnet *vh, int32_t *st) {
  if ((vh->gso_type & ~TSN_GSO_ECN) != TSN_GSO_NONE) return TSN_TXO_SEGMENT;
  if (!(vh->flags & TSN_VNET_F_NEEDS_CSUM)) return TSN_TXO_SEND;
  if (tsn_csum_complete(frame, len, vh->csum_start, vh->csum_offset) < 0) {
    st[TSN_TXS_DROP_BAD_GSO]++;
    return TSN_TXO_DROPPED;
  }
  st[TSN_TXS_CSUM_DONE]++;
  vh->flags = (uint8_t)((vh->flags & ~TSN_VNET_F_NEEDS_CSUM) | TSN_VNET_F_DATA_VALID);
  vh->csum_start = vh->csum_offset = 0;
  d[TSN_D_VFLAGS] = vh->flags;
  d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
  return TSN_TXO_SEND;
}

#endif
