/*
 * wg_data_aead.h - the transport data path's ChaCha20-Poly1305 (RFC 8439 section 2.8, WireGuard's AEAD with
 * an empty associated data and the nonce 0^32 || counter LE), composed from OpenSSL's ChaCha20 and
 * Poly1305 so that a message costs one ChaCha20 call (wg_data_aead.c says why). The handshake keeps the
 * combined EVP AEAD (wg_crypto.c): it needs associated data and is rare.
 */
#ifndef TSN_WG_DATA_AEAD_H
#define TSN_WG_DATA_AEAD_H
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define WG_AEAD_BLOCK 64 /* a ChaCha20 block: the Poly1305 key is the keystream's first */
/* Bytes around a sealed message that wg_data_seal() may touch: WG_AEAD_BLOCK before it (restored), and up to this after its tag (clobbered). */
#define WG_AEAD_SLACK 64

/* A ChaCha20 context keyed with @key (32 bytes), the counter and nonce set per message; NULL on failure. */
EVP_CIPHER_CTX *wg_data_key(const uint8_t key[32]);
/* The Poly1305 context a device shares between its messages (one thread); NULL on failure. */
EVP_MAC_CTX *wg_data_mac(void);
void wg_data_mac_free(EVP_MAC_CTX *m);

/*
 * wg_data_seal() - Encrypt @len bytes at @p in place with @c's key and @counter and write the 16-byte
 * tag at @p + @len. Uses the WG_AEAD_BLOCK bytes before @p as the Poly1305 key block (saved and put
 * back) and may write garbage up to WG_AEAD_SLACK bytes past the tag: both must be writable memory.
 * Returns 0, or -1 on a libcrypto failure (the message is then garbage). No syscalls.
 */
int wg_data_seal(EVP_CIPHER_CTX *c, EVP_MAC_CTX *m, uint64_t counter, uint8_t *p, size_t len);

/*
 * wg_data_open() - Authenticate @len bytes of ciphertext at @p and the tag after them, and only if the
 * tag verifies write the plaintext over the ciphertext. @scratch holds at least @len + 2 *
 * WG_AEAD_BLOCK bytes (the keystream is made there, never in the packet). Returns 0, or -1 (bad tag or a
 * libcrypto failure; @p is unchanged). No syscalls.
 */
int wg_data_open(EVP_CIPHER_CTX *c, EVP_MAC_CTX *m, uint64_t counter, uint8_t *p, size_t len, uint8_t *scratch);

#endif
