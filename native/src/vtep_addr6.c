/* vtep_addr6.c - numbering an IPv6 VTEP's remote addresses (see vtep_addr6.h). No syscalls. */
#include "vtep_addr6.h"
#include <string.h>

static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Multiply-xorshift over the four words: underlay addresses often differ only in their last bytes. */
static uint32_t hash6(const uint8_t *a) {
  uint32_t h = rd32(a) * 0x9e3779b1u;
  h = (h ^ (h >> 15) ^ rd32(a + 4)) * 0x85ebca77u;
  h = (h ^ (h >> 13) ^ rd32(a + 8)) * 0xc2b2ae3du;
  h = (h ^ (h >> 16) ^ rd32(a + 12)) * 0x27d4eb2fu;
  return h ^ (h >> 15);
}

/* The slot holding @a, or the empty slot where it would go. */
static uint32_t probe(const tsn_vtep6_table *t, const uint8_t *a) {
  uint32_t s = hash6(a) & (TSN_VTEP6_SLOTS - 1);
  while (t->slot[s] != 0 && memcmp(t->addr[t->slot[s] - 1], a, 16) != 0) s = (s + 1) & (TSN_VTEP6_SLOTS - 1);
  return s;
}

uint32_t tsn_vtep6_find(const tsn_vtep6_table *t, const uint8_t *a) {
  if (t->last != 0 && memcmp(t->addr[t->last - 1], a, 16) == 0) return t->last;
  return t->slot[probe(t, a)];
}

uint32_t tsn_vtep6_number(tsn_vtep6_table *t, const uint8_t *a) {
  if (t->last != 0 && memcmp(t->addr[t->last - 1], a, 16) == 0) return t->last;
  uint32_t s = probe(t, a);
  if (t->slot[s] == 0) {
    if (t->n >= TSN_VTEP6_MAX) {
      t->refused++;
      return 0;
    }
    memcpy(t->addr[t->n], a, 16);
    t->slot[s] = (uint16_t)++t->n;
  }
  t->last = t->slot[s];
  return t->last;
}
