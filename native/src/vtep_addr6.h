/*
 * vtep_addr6.h - an IPv6 VTEP's remote addresses as small numbers (vtep_addr6.c). No Node-API here.
 *
 * The data plane carries a remote VTEP as one uint32 everywhere: FDB entries, the flood peers, the
 * destination of each row sent, the sender written in front of each frame received. For an IPv4
 * VTEP that number is the address itself. An IPv6 VTEP numbers its remote addresses instead: 1, 2,
 * ... in the order first seen (a configured peer, a static FDB entry, a datagram's sender), never
 * reused while the VTEP is open, so a number in the FDB always means the address it was learned
 * with; 0 stays "none" (flood to every peer). The IPv4 path never touches this table.
 *
 * Full (TSN_VTEP6_MAX addresses): a new sender is numbered 0 (its frames are delivered, its MACs
 * learned with an unknown VTEP, so frames to them go to every peer) and counted in `refused`.
 */
#ifndef TSN_VTEP_ADDR6_H
#define TSN_VTEP_ADDR6_H
#include <stdint.h>

#define TSN_VTEP6_MAX 16384u   /* remote addresses per VTEP: 256 KiB of them */
#define TSN_VTEP6_SLOTS 32768u /* hash slots, a power of two, twice the addresses: probes stay short */

typedef struct {
  uint8_t addr[TSN_VTEP6_MAX][16]; /* by number - 1 */
  uint16_t slot[TSN_VTEP6_SLOTS];  /* number in that slot, 0 = empty (linear probing, never deleted) */
  uint32_t n;                      /* numbers given out */
  uint32_t last;                   /* the number found last: a burst's datagrams mostly share a sender */
  uint32_t refused;                /* new addresses turned away because the table was full */
} tsn_vtep6_table;

/* The number of @a (16 bytes, network order), numbering it if it is new; 0 when the table is full. No syscalls. */
uint32_t tsn_vtep6_number(tsn_vtep6_table *t, const uint8_t *a);

/* The number of @a if it has one, else 0; never numbers it. No syscalls. */
uint32_t tsn_vtep6_find(const tsn_vtep6_table *t, const uint8_t *a);

/* The address numbered @n, or NULL when no address has that number. */
static inline const uint8_t *tsn_vtep6_addr(const tsn_vtep6_table *t, uint32_t n) {
  return n >= 1 && n <= t->n ? t->addr[n - 1] : (const uint8_t *)0;
}

#endif
