/*
 * gso.h - checksum completion and TCP segmentation (GSO) for frames that carry
 * a virtio-net header.
 *
 * A TAP opened with IFF_VNET_HDR and TUNSETOFFLOAD(CSUM|TSO4|TSO6) hands us TCP
 * "super-frames" of up to 64 KiB with a partial checksum (NEEDS_CSUM) and a
 * gso_size. A port that can take them (another such TAP) gets them as they are;
 * any other port (no vnet header, pcap, VXLAN socket) gets them cut into
 * gso_size frames here, with every length, id, sequence number and checksum
 * fixed the way the kernel's software GSO fixes them (tcp_gso_segment,
 * inet_gso_segment, ipv6_gso_segment).
 *
 * No system calls are made by anything in this file.
 */
#ifndef TSN_GSO_H
#define TSN_GSO_H

#include <stdint.h>
#include <stddef.h>

/* Parsed struct virtio_net_hdr (host byte order). num_buffers is not kept. */
struct tsn_vnet {
  uint8_t flags;        /* TSN_VNET_F_NEEDS_CSUM | TSN_VNET_F_DATA_VALID */
  uint8_t gso_type;     /* TSN_GSO_NONE/TCPV4/UDP/TCPV6, | TSN_GSO_ECN */
  uint16_t hdr_len;     /* a hint only: the kernel fills it with skb_headlen() */
  uint16_t gso_size;    /* MSS: TCP payload bytes per segment */
  uint16_t csum_start;  /* from the first byte of the Ethernet frame */
  uint16_t csum_offset; /* from csum_start to the checksum field */
};

/* Where the headers of a TCP/IP frame are (tsn_tcp_parse), offsets from the frame's first byte. */
struct tsn_tcp_hdrs {
  size_t l3;   /* IP header */
  size_t l4;   /* TCP header */
  size_t hdrs; /* payload: the end of the TCP header, options included */
  size_t end;  /* end of the IP datagram (Ethernet padding after it excluded) */
  int v6;
};
/* TCP header: flag bits (byte 13) and the checksum field's offset, for every file that reads or builds one. */
#define TSN_TCP_FIN 0x01
#define TSN_TCP_SYN 0x02
#define TSN_TCP_RST 0x04
#define TSN_TCP_PSH 0x08
#define TSN_TCP_URG 0x20
#define TSN_TCP_CWR 0x80
#define TSN_TCP_HLEN_MIN 20
#define TSN_TCP_CSUM_OFF 16

#define TSN_TCP_EXACT 1u   /* the IP datagram must end exactly where the frame ends */
#define TSN_TCP_EXTHDRS 2u /* IPv6 hop-by-hop / destination options may precede TCP */

int tsn_tcp_parse(const uint8_t *frame, size_t len, unsigned flags, struct tsn_tcp_hdrs *h);

int tsn_csum_complete(uint8_t *frame, size_t len, uint16_t csum_start, uint16_t csum_offset);

/* Called once per segment; seg is valid only during the call. Return < 0 to
 * stop segmentation (that value is then returned by tsn_gso_segment()). */
typedef int (*tsn_emit_fn)(void *ctx, const uint8_t *seg, size_t len);

int tsn_gso_segment(const uint8_t *frame, size_t len, const struct tsn_vnet *vh, uint8_t *scratch,
                    size_t scratch_len, tsn_emit_fn emit, void *ctx);

/* Segments tsn_gso_segment() would emit for this frame, or -EINVAL (as it would return). */
int tsn_gso_count_segments(const uint8_t *frame, size_t len, const struct tsn_vnet *vh);

void tsn_vnet_parse(const uint8_t *p, struct tsn_vnet *out);

/* Copy virtio-net fields into a descriptor row (TSN_D_* of layout.h; the caller includes it). */
#define TSN_DESC_SET_VNET(d, vh)              \
  do {                                        \
    (d)[TSN_D_VFLAGS] = (vh)->flags;          \
    (d)[TSN_D_GSO_TYPE] = (vh)->gso_type;     \
    (d)[TSN_D_HDR_LEN] = (vh)->hdr_len;       \
    (d)[TSN_D_GSO_SIZE] = (vh)->gso_size;     \
    (d)[TSN_D_CSUM_START] = (vh)->csum_start; \
    (d)[TSN_D_CSUM_OFF] = (vh)->csum_offset;  \
  } while (0)
void tsn_vnet_write(uint8_t *p, const struct tsn_vnet *vh);

/* Lower-level helpers, exported for the burst code and the tests. */
uint64_t tsn_csum_partial(const void *buf, size_t len, uint64_t sum);
uint16_t tsn_csum_fold(uint64_t sum);

/* Worst-case header bytes tsn_gso_segment() copies into every segment:
 * Ethernet + one VLAN tag + IPv6 with extension headers (bounded by the parser)
 * or IPv4 with options, + TCP with options. scratch of
 * TSN_GSO_MAX_HDR + gso_size bytes is always enough. */
#define TSN_GSO_MAX_HDR 512

#endif /* TSN_GSO_H */
