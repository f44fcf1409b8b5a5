/* flow_hash.c - the flow hash of a frame (flow_hash.h). No syscalls. */
#include "flow_hash.h"
#include "wire.h"

#define ETH_HLEN_ 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

static inline uint32_t mix32(uint32_t h) { /* murmur3's finalizer */
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* Protocols whose first 4 bytes are the two ports. */
static inline int has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

uint32_t tsn_flow_hash(const uint8_t *f, size_t len) {
  uint32_t h = 0x9e3779b9u;
  size_t l3 = ETH_HLEN_;
  if (len < ETH_HLEN_) return h;
  uint16_t et = tsn_rd16(f + 12);
  if ((et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) && len >= ETH_HLEN_ + 4) {
    et = tsn_rd16(f + 16);
    l3 = ETH_HLEN_ + 4;
  }
  if (et == ETHERTYPE_IPV4 && len >= l3 + 20) {
    const uint8_t *ip = f + l3;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    uint8_t proto = ip[9];
    h = mix32(h ^ tsn_rd32(ip + 12)) ^ tsn_rd32(ip + 16);
    h = mix32(h ^ proto);
    int frag = (tsn_rd16(ip + 6) & 0x3fff) != 0;
    if (!frag && has_ports(proto) && ihl >= 20 && len >= l3 + ihl + 4) h ^= tsn_rd32(ip + ihl);
    return mix32(h);
  }
  if (et == ETHERTYPE_IPV6 && len >= l3 + 40) {
    const uint8_t *ip = f + l3;
    for (int i = 8; i < 40; i += 4) h = mix32(h ^ tsn_rd32(ip + i));
    uint8_t nh = ip[6];
    h = mix32(h ^ nh);
    if (has_ports(nh) && len >= l3 + 44) h ^= tsn_rd32(ip + 40);
    return mix32(h);
  }
  h = mix32(h ^ tsn_rd32(f)) ^ tsn_rd32(f + 4);
  h = mix32(h ^ tsn_rd32(f + 8));
  return mix32(h ^ et);
}
