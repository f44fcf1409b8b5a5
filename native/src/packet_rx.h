/*
 * packet_rx.h - describing one frame an uplink's AF_PACKET socket returned (packet_rx.c). No Node-API:
 * af_packet.c calls it after recvmmsg, the fuzzer under native/test calls it directly.
 */
#ifndef TSN_PACKET_RX_H
#define TSN_PACKET_RX_H
#include <linux/if_packet.h>
#include <stddef.h>
#include <stdint.h>

/*
 * tsn_packet_rx_describe() - Fill descriptor row @d for a frame read to @frame - @hdr (@got bytes:
 * a @hdr-byte virtio-net header, 0 or 12, then the frame), at pool offset @off. The 802.1Q tag the
 * kernel stripped into @aux (may be NULL) is put back in the 4 headroom bytes before @frame.
 * Return: 1 if a tag was put back, else 0. No syscalls.
 */
int tsn_packet_rx_describe(uint8_t *frame, size_t got, size_t hdr, const struct tpacket_auxdata *aux, int32_t *d, int32_t off);

#endif
