/*
 * wg_crypto.h - the primitives WireGuard's protocol is built from, over OpenSSL libcrypto 3:
 * X25519, BLAKE2s (hash, keyed MAC, HMAC), ChaCha20-Poly1305 and XChaCha20-Poly1305.
 *
 * OpenSSL 3 has X25519, BLAKE2S-256 (EVP_MD), BLAKE2SMAC (EVP_MAC) and ChaCha20-Poly1305; it lacks
 * XChaCha20-Poly1305, which the cookie reply needs, so that one is HChaCha20 (here, from its
 * definition in draft-irtf-cfrg-xchacha) in front of OpenSSL's ChaCha20-Poly1305.
 */
#ifndef TSN_WG_CRYPTO_H
#define TSN_WG_CRYPTO_H
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define WG_KEY_LEN 32
#define WG_TAG_LEN 16

/* Fetched once; NULL if this OpenSSL lacks the algorithm (then every call below fails). */
const EVP_CIPHER *wg_chachapoly(void);

/* 0 on success; -1 on failure (or, for wg_x25519, an all-zero shared secret: a low-order point). */
int wg_x25519_public(uint8_t pub[32], const uint8_t priv[32]);
int wg_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);
int wg_x25519_generate(uint8_t priv[32]);
int wg_blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen);
int wg_hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen);
void wg_hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t nonce[16]);
/* out gets inlen + 16 bytes (seal) or inlen - 16 bytes (open); open returns -1 on a bad tag. */
int wg_aead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen);
int wg_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen);
int wg_xaead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen);
int wg_xaead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen);
void wg_wipe(void *p, size_t n);

#endif
