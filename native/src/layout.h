/*
 * layout.h - the frame pool and descriptor layout shared with TypeScript.
 *
 * Must match src/dataplane/layout.ts field for field. One big pool of fixed-size
 * slots lives in a JS-owned ArrayBuffer; a frame is described by a row of int32s
 * in a descriptor vector (also JS-owned), never by an object.
 *
 *   slot:  [ headroom (HEADROOM bytes) | frame ... up to FRAME_MAX ]
 *
 * The frame starts HEADROOM bytes into its slot, so an encapsulation (VXLAN: 50
 * bytes) is a smaller offset plus header writes. The virtio-net header is read
 * into the 12 bytes just before the frame and parsed into the descriptor; on
 * transmit it is rebuilt from the descriptor into the 12 bytes before the
 * (possibly moved) frame start, so one read() and one write() move a frame.
 */
#ifndef TSN_LAYOUT_H
#define TSN_LAYOUT_H

#define TSN_HEADROOM 256
#define TSN_VNET_HDR_LEN 12           /* struct virtio_net_hdr_mrg_rxbuf */
#define TSN_FRAME_MAX (14 + 4 + 65535) /* Ethernet + one 802.1Q tag + max IP packet */
#define TSN_SLOT_SIZE 67584           /* 66 KiB: HEADROOM + FRAME_MAX, rounded up */

/* Descriptor row: TSN_DESC_STRIDE int32s per frame. */
#define TSN_D_OFF 0        /* byte offset of the frame's first byte in the pool */
#define TSN_D_LEN 1        /* frame length in bytes (without the virtio-net header) */
#define TSN_D_PORT 2       /* ingress port id (set by JS) */
#define TSN_D_OUT 3        /* forwarding decision (set by JS, see layout.ts) */
#define TSN_D_VFLAGS 4     /* virtio_net_hdr.flags (NEEDS_CSUM=1, DATA_VALID=2) */
#define TSN_D_GSO_TYPE 5   /* virtio_net_hdr.gso_type (NONE=0, TCPV4=1, UDP=3, TCPV6=4, ECN=0x80) */
#define TSN_D_HDR_LEN 6    /* virtio_net_hdr.hdr_len */
#define TSN_D_GSO_SIZE 7   /* virtio_net_hdr.gso_size (MSS) */
#define TSN_D_CSUM_START 8 /* virtio_net_hdr.csum_start, from the frame's first byte */
#define TSN_D_CSUM_OFF 9   /* virtio_net_hdr.csum_offset, from csum_start */
#define TSN_D_SLOT 10      /* slot index the frame lives in */
#define TSN_D_AUX 11       /* free for stages (e.g. network id) */
#define TSN_DESC_STRIDE 12

/* virtio-net header values (linux/virtio_net.h) */
#define TSN_VNET_F_NEEDS_CSUM 1
#define TSN_VNET_F_DATA_VALID 2
#define TSN_GSO_NONE 0
#define TSN_GSO_TCPV4 1
#define TSN_GSO_UDP 3
#define TSN_GSO_TCPV6 4
#define TSN_GSO_ECN 0x80

#endif
