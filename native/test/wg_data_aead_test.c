/*
 * wg_data_aead_test.c - the transport data path's ChaCha20-Poly1305 (native/src/wg_data_aead.c) against
 * OpenSSL's combined EVP "ChaCha20-Poly1305" (an independent implementation of RFC 8439 section 2.8
 * inside libcrypto) and RFC 8439's own ChaCha20 vector, plus what the data path relies on:
 *   - seal: ciphertext and tag equal the combined cipher's with WireGuard's nonce (0^32 || counter LE)
 *     and no associated data, for every length 0..2100 and counters 0, 1, 2^32 + 5, 2^60 - 1; the
 *     WG_AEAD_BLOCK bytes before the message are put back; nothing is written past tag + WG_AEAD_SLACK;
 *   - open: round trip; a flipped bit anywhere in ciphertext or tag, a wrong counter or a wrong key is
 *     refused and leaves the message untouched;
 *   - the keystream itself: RFC 8439 section 2.4.2 (the Poly1305 key block of 2.6.2 is block 0).
 *
 *   cc -g -fsanitize=address,undefined -Wall native/test/wg_data_aead_test.c native/src/wg_data_aead.c -lcrypto -o /tmp/t && /tmp/t
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/wg_data_aead.h"
#include "check.h"

#define MAXLEN 2100

/* The reference: OpenSSL's combined AEAD, out of place. */
static void reference_seal(const uint8_t key[32], uint64_t ctr, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]) {
  uint8_t nonce[12] = {0};
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int n = 0, ok = EVP_EncryptInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce) == 1 && (len == 0 || EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1) &&
                  EVP_EncryptFinal_ex(c, out + len, &n) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
  CHECK(ok, "reference cipher failed");
  EVP_CIPHER_CTX_free(c);
}

static uint32_t rng = 0x12345678;
static uint8_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
  return (uint8_t)rng;
}

int main(void) {
  uint8_t key[32], key2[32];
  for (int i = 0; i < 32; i++) key[i] = rnd(), key2[i] = rnd();
  EVP_CIPHER_CTX *c = wg_data_key(key), *c2 = wg_data_key(key2);
  EVP_MAC_CTX *m = wg_data_mac();
  CHECK(c && c2 && m, "contexts");
  static uint8_t plain[MAXLEN], want[MAXLEN], buf[WG_AEAD_BLOCK + MAXLEN + 16 + WG_AEAD_SLACK + 64], keep[sizeof buf], scratch[MAXLEN + 2 * WG_AEAD_BLOCK];
  const uint64_t counters[] = {0, 1, (1ull << 32) + 5, (1ull << 60) - 1};

  /* 1. Seal equals the reference; the surroundings are as promised. */
  int sealed_ok = 1, around_ok = 1;
  for (size_t len = 0; len <= MAXLEN; len++) {
    for (size_t ci = 0; ci < sizeof counters / sizeof counters[0]; ci++) {
      uint64_t ctr = counters[ci];
      for (size_t i = 0; i < len; i++) plain[i] = rnd();
      uint8_t wtag[16];
      reference_seal(key, ctr, plain, len, want, wtag);
      for (size_t i = 0; i < sizeof buf; i++) buf[i] = rnd();
      uint8_t *p = buf + WG_AEAD_BLOCK;
      memcpy(p, plain, len);
      memcpy(keep, buf, sizeof buf);
      int r = wg_data_seal(c, m, ctr, p, len);
      if (r != 0 || memcmp(p, want, len) != 0 || memcmp(p + len, wtag, 16) != 0) sealed_ok = 0;
      if (memcmp(buf, keep, WG_AEAD_BLOCK) != 0) around_ok = 0;                               /* the key block's bytes put back */
      size_t past = WG_AEAD_BLOCK + len + 16 + WG_AEAD_SLACK;                                  /* nothing beyond the slack */
      if (memcmp(buf + past, keep + past, sizeof buf - past) != 0) around_ok = 0;
    }
  }
  CHECK(sealed_ok, "seal differs from EVP ChaCha20-Poly1305 for some length 0..%d", MAXLEN);
  CHECK(around_ok, "seal touched memory outside [p - WG_AEAD_BLOCK, p + len + 16 + WG_AEAD_SLACK) or did not restore the key block's bytes");

  /* 2. Open: round trip, and every refusal leaves the ciphertext as it was. */
  int open_ok = 1, refuse_ok = 1;
  for (size_t len = 0; len <= MAXLEN; len += (len < 130 ? 1 : 37)) {
    uint64_t ctr = counters[len % 4];
    for (size_t i = 0; i < len; i++) plain[i] = rnd();
    uint8_t *p = buf + WG_AEAD_BLOCK;
    memcpy(p, plain, len);
    CHECK(wg_data_seal(c, m, ctr, p, len) == 0, "seal %zu", len);
    memcpy(keep, p, len + 16);
    /* a flipped bit in each of a few positions of the ciphertext and in every tag byte */
    size_t spots[] = {0, len / 2, len ? len - 1 : 0, len, len + 7, len + 15};
    for (size_t s = 0; s < sizeof spots / sizeof spots[0]; s++) {
      if (spots[s] >= len + 16 || (spots[s] < len && len == 0)) continue;
      p[spots[s]] ^= 0x20;
      if (wg_data_open(c, m, ctr, p, len, scratch) != -1) refuse_ok = 0;
      p[spots[s]] ^= 0x20;
      if (memcmp(p, keep, len + 16) != 0) refuse_ok = 0;
    }
    if (wg_data_open(c, m, ctr + 1, p, len, scratch) != -1 || wg_data_open(c2, m, ctr, p, len, scratch) != -1) refuse_ok = 0;
    if (memcmp(p, keep, len + 16) != 0) refuse_ok = 0;
    if (wg_data_open(c, m, ctr, p, len, scratch) != 0 || memcmp(p, plain, len) != 0) open_ok = 0;
  }
  CHECK(open_ok, "open did not give back the plaintext");
  CHECK(refuse_ok, "a tampered message, a wrong counter or a wrong key was accepted, or a refusal changed the message");

  /* 3. RFC 8439 section 2.4.2: ChaCha20 with the key 00..1f, nonce 00:00:00:00:00:00:00:4a:00:00:00:00
   * and block counter 1 starts the sunscreen text's ciphertext with 6e 2e 35 9a 25 68 f9 80. Our nonce
   * is 0^32 || counter LE, so that nonce is counter 0x4a000000; block 1 is where a message starts. */
  uint8_t k0[32];
  for (int i = 0; i < 32; i++) k0[i] = (uint8_t)i;
  EVP_CIPHER_CTX *c0 = wg_data_key(k0);
  const char *text = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
  size_t tl = strlen(text);
  uint8_t *p = buf + WG_AEAD_BLOCK;
  memcpy(p, text, tl);
  CHECK(c0 && wg_data_seal(c0, m, 0x4a000000ull, p, tl) == 0, "seal the RFC text");
  const uint8_t rfc[16] = {0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80, 0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81};
  const uint8_t rfc_end[2] = {0x87, 0x4d}; /* the ciphertext's last two bytes */
  CHECK(memcmp(p, rfc, 16) == 0, "RFC 8439 2.4.2 ciphertext start");
  CHECK(memcmp(p + tl - 2, rfc_end, 2) == 0, "RFC 8439 2.4.2 ciphertext end");

  EVP_CIPHER_CTX_free(c);
  EVP_CIPHER_CTX_free(c2);
  EVP_CIPHER_CTX_free(c0);
  wg_data_mac_free(m);
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
