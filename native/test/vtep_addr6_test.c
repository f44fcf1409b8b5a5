/*
 * vtep_addr6_test.c - standalone tests for an IPv6 VTEP's address numbering (native/src/vtep_addr6.c):
 * numbers from 1 in first-seen order, the same number for the same address, lookups that never
 * number, addresses that differ in one byte apart, and a full table refusing (and counting) new ones
 * while the known ones keep their numbers. No Node, no root; test/unit/native-c.test.ts runs it under
 * ASan/UBSan:
 *
 *   gcc -g -fsanitize=address,undefined -Wall native/test/vtep_addr6_test.c native/src/vtep_addr6.c -o /tmp/t && /tmp/t
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/vtep_addr6.h"

#include "check.h"

/* fd00::<hi>:<lo>, or with @scatter the index spread over every byte (to exercise all words of the hash). */
static void addr(uint8_t *a, uint32_t i, int scatter) {
  memset(a, 0, 16);
  a[0] = 0xfd;
  if (scatter) {
    for (int k = 1; k < 16; k++) a[k] = (uint8_t)((i * 2654435761u) >> (k % 4 * 8));
    a[15] = (uint8_t)i;
    a[14] = (uint8_t)(i >> 8);
  } else {
    a[12] = (uint8_t)(i >> 24);
    a[13] = (uint8_t)(i >> 16);
    a[14] = (uint8_t)(i >> 8);
    a[15] = (uint8_t)i;
  }
}

int main(void) {
  tsn_vtep6_table *t = calloc(1, sizeof *t);
  if (!t) return 2;
  uint8_t a[16], b[16];
  addr(a, 1, 0);
  addr(b, 2, 0);
  CHECK(tsn_vtep6_find(t, a) == 0, "an empty table finds nothing");
  CHECK(tsn_vtep6_addr(t, 0) == NULL && tsn_vtep6_addr(t, 1) == NULL, "no address has a number yet");
  CHECK(tsn_vtep6_number(t, a) == 1, "the first address is 1");
  CHECK(tsn_vtep6_number(t, b) == 2, "the second is 2");
  CHECK(tsn_vtep6_number(t, a) == 1 && tsn_vtep6_number(t, b) == 2, "numbers are stable");
  CHECK(tsn_vtep6_find(t, b) == 2 && tsn_vtep6_find(t, a) == 1, "find sees both");
  CHECK(memcmp(tsn_vtep6_addr(t, 2), b, 16) == 0, "number 2 is the second address");
  CHECK(tsn_vtep6_addr(t, 3) == NULL, "3 is nobody's");
  uint8_t c[16];
  memcpy(c, a, 16);
  c[0] ^= 0x01; /* differs in the first byte only */
  CHECK(tsn_vtep6_find(t, c) == 0 && tsn_vtep6_number(t, c) == 3, "an address differing in its first byte is another");

  /* Fill it: every address keeps its number, then new ones are refused and counted. */
  for (uint32_t i = 4; i <= TSN_VTEP6_MAX; i++) {
    addr(a, i, 1);
    if (tsn_vtep6_number(t, a) != i) {
      CHECK(0, "address %u got another number", i);
      break;
    }
  }
  CHECK(t->n == TSN_VTEP6_MAX, "full at %u, has %u", TSN_VTEP6_MAX, t->n);
  addr(a, TSN_VTEP6_MAX + 1, 1);
  CHECK(tsn_vtep6_number(t, a) == 0 && t->refused == 1, "a full table numbers no new address, and counts it");
  CHECK(tsn_vtep6_find(t, a) == 0, "the refused address has no number");
  int ok = 1;
  for (uint32_t i = 4; i <= TSN_VTEP6_MAX; i++) {
    addr(a, i, 1);
    if (tsn_vtep6_find(t, a) != i || memcmp(tsn_vtep6_addr(t, i), a, 16) != 0) ok = 0;
  }
  CHECK(ok, "every address of a full table is found by its number, and the number gives it back");
  addr(b, 2, 0);
  CHECK(tsn_vtep6_number(t, b) == 2 && t->refused == 1, "a known address still has its number when full");
  free(t);
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
