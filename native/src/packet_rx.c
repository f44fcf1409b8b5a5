/*
 * packet_rx.c - one frame from an uplink's AF_PACKET socket into its descriptor row (see af_packet.c
 * for the socket). The virtio-net header (PACKET_VNET_HDR) is parsed into the row as rxBurst does for
 * a TAP; a read shorter than it gets length -1 (the ingress stage counts it). The kernel strips an
 * 802.1Q tag into PACKET_AUXDATA before a packet socket sees the frame; it is put back, so a tagged
 * frame is never delivered untagged, moving the frame start 4 bytes into the headroom and the
 * checksum start and header length with it. No Node-API, no syscalls.
 */
#include "packet_rx.h"
#include "gso.h"
#include "layout.h"
#include "wire.h"
#include <linux/if_ether.h>
#include <string.h>

int tsn_packet_rx_describe(uint8_t *frame, size_t got, size_t hdr, const struct tpacket_auxdata *aux, int32_t *d, int32_t off) {
  d[TSN_D_OFF] = off;
  if (got < hdr) {
    d[TSN_D_LEN] = -1;
    d[TSN_D_VFLAGS] = d[TSN_D_GSO_TYPE] = d[TSN_D_HDR_LEN] = d[TSN_D_GSO_SIZE] = d[TSN_D_CSUM_START] = d[TSN_D_CSUM_OFF] = 0;
    return 0;
  }
  int tagged = 0;
  d[TSN_D_LEN] = (int32_t)(got - hdr);
  struct tsn_vnet vh = {0};
  if (hdr) {
    uint8_t tmp[TSN_VNET_HDR_LEN] = {0};
    memcpy(tmp, frame - hdr, hdr < TSN_VNET_HDR_LEN ? hdr : TSN_VNET_HDR_LEN);
    tsn_vnet_parse(tmp, &vh);
  }
  if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID) && d[TSN_D_LEN] >= 12) {
    /* Put the tag back between the MACs and the ethertype: 4 bytes of headroom. */
    uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) && aux->tp_vlan_tpid ? aux->tp_vlan_tpid : ETH_P_8021Q;
    memmove(frame - 4, frame, 12);
    tsn_wr16(frame + 8, tpid);
    tsn_wr16(frame + 10, aux->tp_vlan_tci);
    d[TSN_D_OFF] -= 4;
    d[TSN_D_LEN] += 4;
    if (vh.flags & TSN_VNET_F_NEEDS_CSUM) vh.csum_start += 4;
    if (vh.hdr_len) vh.hdr_len += 4;
    tagged = 1;
  }
  TSN_DESC_SET_VNET(d, &vh);
  return tagged;
}
