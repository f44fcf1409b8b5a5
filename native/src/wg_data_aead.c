/*
 * wg_data_aead.c - ChaCha20-Poly1305 for transport messages, one ChaCha20 call per message.
 *
 * Why not OpenSSL's combined "ChaCha20-Poly1305": for each message it makes three ChaCha20 calls (the
 * Poly1305 key block, the whole blocks, the trailing partial block), each behind a provider dispatch,
 * and a perf profile of the encrypted overlay put about half of its ChaCha20 time in the two short
 * ones. Here the key block and the message are one contiguous run of whole blocks through the
 * "ChaCha20" cipher with block counter 0 (RFC 8439 section 2.6: the key is block 0, the message
 * starts at block 1), then "POLY1305" over the ciphertext and the lengths (section 2.8). Measured in a
 * C loop on this machine, 1440-byte messages: seal 0.93 -> 0.60 us, open 0.97 -> 0.64 us. Both
 * primitives are still libcrypto's; native/test/wg_data_aead_test.c checks this against RFC 8439's test
 * vector and the combined EVP cipher.
 *
 * No syscalls.
 */
#include "wg_data_aead.h"
#include <openssl/crypto.h>
#include <string.h>

static EVP_CIPHER *chacha20;
static EVP_MAC *poly1305;

EVP_CIPHER_CTX *wg_data_key(const uint8_t key[32]) {
  if (!chacha20) chacha20 = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
  EVP_CIPHER_CTX *c = chacha20 ? EVP_CIPHER_CTX_new() : NULL;
  uint8_t iv[16] = {0};
  if (c && EVP_EncryptInit_ex(c, chacha20, NULL, key, iv) == 1) return c;
  EVP_CIPHER_CTX_free(c);
  return NULL;
}

EVP_MAC_CTX *wg_data_mac(void) {
  if (!poly1305) poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  return poly1305 ? EVP_MAC_CTX_new(poly1305) : NULL;
}

void wg_data_mac_free(EVP_MAC_CTX *m) { EVP_MAC_CTX_free(m); }

/* Run the keystream from block 0 of @counter's nonce over @n bytes at @buf (a multiple of 64), in place. */
static int keystream(EVP_CIPHER_CTX *c, uint64_t counter, uint8_t *buf, size_t n) {
  /* OpenSSL's ChaCha20 IV: the 32-bit block counter LE, then the 96-bit nonce (0^32 || counter LE). */
  uint8_t iv[16] = {0};
  for (int i = 0; i < 8; i++) iv[8 + i] = (uint8_t)(counter >> (8 * i));
  int out = 0;
  return n <= INT32_MAX && EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) == 1 && EVP_EncryptUpdate(c, buf, &out, buf, (int)n) == 1 ? 0 : -1;
}

/* The Poly1305 tag of @ct (@len bytes) under the one-time key @key: ciphertext, its padding to 16, then the lengths (no AAD). */
static int tag_of(EVP_MAC_CTX *m, const uint8_t key[32], const uint8_t *ct, size_t len, uint8_t tag[16]) {
  static const uint8_t zero[16];
  uint8_t lens[16] = {0};
  for (int i = 0; i < 8; i++) lens[8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
  size_t got = 0;
  return EVP_MAC_init(m, key, 32, NULL) == 1 && (len == 0 || EVP_MAC_update(m, ct, len) == 1) && (len % 16 == 0 || EVP_MAC_update(m, zero, 16 - len % 16) == 1) &&
                 EVP_MAC_update(m, lens, 16) == 1 && EVP_MAC_final(m, tag, &got, 16) == 1 && got == 16
             ? 0
             : -1;
}

static size_t whole_blocks(size_t len) { return (WG_AEAD_BLOCK + len + WG_AEAD_BLOCK - 1) & ~(size_t)(WG_AEAD_BLOCK - 1); }

int wg_data_seal(EVP_CIPHER_CTX *c, EVP_MAC_CTX *m, uint64_t counter, uint8_t *p, size_t len) {
  uint8_t *run = p - WG_AEAD_BLOCK, saved[WG_AEAD_BLOCK], key[32];
  memcpy(saved, run, WG_AEAD_BLOCK);
  memset(run, 0, WG_AEAD_BLOCK);
  int r = keystream(c, counter, run, whole_blocks(len)); /* the bytes past @len up to a whole block: scratch (WG_AEAD_SLACK) */
  memcpy(key, run, 32);
  memcpy(run, saved, WG_AEAD_BLOCK);
  if (r == 0) r = tag_of(m, key, p, len, p + len);
  OPENSSL_cleanse(key, sizeof key);
  return r;
}

int wg_data_open(EVP_CIPHER_CTX *c, EVP_MAC_CTX *m, uint64_t counter, uint8_t *p, size_t len, uint8_t *scratch) {
  size_t n = whole_blocks(len);
  memset(scratch, 0, WG_AEAD_BLOCK);
  memcpy(scratch + WG_AEAD_BLOCK, p, len);
  uint8_t tag[16];
  int r = keystream(c, counter, scratch, n);
  if (r == 0) r = tag_of(m, scratch, p, len, tag);
  if (r == 0 && CRYPTO_memcmp(tag, p + len, 16) != 0) r = -1;
  if (r == 0) memcpy(p, scratch + WG_AEAD_BLOCK, len);
  OPENSSL_cleanse(scratch, WG_AEAD_BLOCK); /* the one-time key; the plaintext left there is in the packet now anyway */
  return r;
}
