/*
 * wg_crypto.c - WireGuard's primitives over OpenSSL libcrypto 3, and their Node-API bindings for the
 * handshake (which runs in TypeScript: it is rare) and for the known-answer tests.
 *
 * - X25519: EVP_PKEY X25519 (raw keys in and out; the scalar is clamped by X25519 itself).
 * - HASH = BLAKE2s-256: EVP_MD "BLAKE2S-256"; MAC = keyed BLAKE2s with a 16-byte output: EVP_MAC
 *   "BLAKE2SMAC" with the size parameter; HMAC = HMAC-BLAKE2s: EVP_MAC "HMAC" with that digest.
 * - AEAD = ChaCha20-Poly1305 (RFC 8439): EVP_CIPHER "ChaCha20-Poly1305", 12-byte nonce.
 * - XAEAD = XChaCha20-Poly1305: OpenSSL has no XChaCha, so the subkey is HChaCha20(key, nonce[0..16))
 *   computed here and the 12-byte nonce is 4 zero bytes || nonce[16..24), then AEAD as above.
 *
 * Algorithms are fetched once and kept. No system calls besides what libcrypto makes (getrandom for
 * RAND_bytes).
 */
#include "napi_args.h"
#include "wg_crypto.h"
#include "wg_transport.h"
#include "errors.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const EVP_CIPHER *chachapoly;
static EVP_MD *blake2s_md;
static EVP_MAC *blake2s_mac;
static EVP_MAC *hmac_mac;

const EVP_CIPHER *wg_chachapoly(void) {
  if (!chachapoly) chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  return chachapoly;
}

void wg_wipe(void *p, size_t n) { OPENSSL_cleanse(p, n); }

int wg_x25519_public(uint8_t pub[32], const uint8_t priv[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
  if (!k) return -1;
  size_t n = 32;
  int ok = EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
  EVP_PKEY_free(k);
  return ok ? 0 : -1;
}

int wg_x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
  EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
  size_t n = 32;
  int ok = ctx && peer && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, out, &n) == 1 && n == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  EVP_PKEY_free(k);
  if (!ok) return -1;
  uint8_t acc = 0; /* an all-zero result means a low-order public key: refuse it (the whitepaper's DH check) */
  for (int i = 0; i < 32; i++) acc |= out[i];
  return acc ? 0 : -1;
}

int wg_x25519_generate(uint8_t priv[32]) {
  if (RAND_priv_bytes(priv, 32) != 1) return -1;
  priv[0] &= 248; /* clamped as wg genkey writes it, so the file reads the same in wg(8) */
  priv[31] = (uint8_t)((priv[31] & 127) | 64);
  return 0;
}

int wg_blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen) {
  if (outlen == 0 || outlen > 32 || keylen > 32) return -1;
  if (keylen == 0) {
    if (outlen != 32) return -1; /* unkeyed is only ever the 32-byte HASH here */
    if (!blake2s_md) blake2s_md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
    unsigned int n = 0;
    return blake2s_md && EVP_Digest(in, inlen, out, &n, blake2s_md, NULL) == 1 && n == 32 ? 0 : -1;
  }
  if (!blake2s_mac) blake2s_mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
  if (!blake2s_mac) return -1;
  EVP_MAC_CTX *c = EVP_MAC_CTX_new(blake2s_mac);
  size_t sz = outlen, n = 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz), OSSL_PARAM_construct_end()};
  int ok = c && EVP_MAC_init(c, key, keylen, params) == 1 && EVP_MAC_update(c, in, inlen) == 1 && EVP_MAC_final(c, out, &n, outlen) == 1 && n == outlen;
  EVP_MAC_CTX_free(c);
  return ok ? 0 : -1;
}

int wg_hmac_blake2s(uint8_t out[32], const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen) {
  if (!hmac_mac) hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (!hmac_mac) return -1;
  EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac_mac);
  char digest[] = "BLAKE2S-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  size_t n = 0;
  int ok = c && EVP_MAC_init(c, key, keylen, params) == 1 && EVP_MAC_update(c, in, inlen) == 1 && EVP_MAC_final(c, out, &n, 32) == 1 && n == 32;
  EVP_MAC_CTX_free(c);
  return ok ? 0 : -1;
}

static inline uint32_t rotl(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }
static inline uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static inline void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
#define QR(a, b, c, d)             \
  a += b, d ^= a, d = rotl(d, 16); \
  c += d, b ^= c, b = rotl(b, 12); \
  a += b, d ^= a, d = rotl(d, 8);  \
  c += d, b ^= c, b = rotl(b, 7)

/*
 * wg_hchacha20() - HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 block function's 20
 * rounds over constants, key and a 16-byte nonce, without the final addition; the subkey is state
 * words 0..3 and 12..15. No syscalls.
 */
void wg_hchacha20(uint8_t out[32], const uint8_t key[32], const uint8_t nonce[16]) {
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; i++) x[4 + i] = le32(key + 4 * i);
  for (int i = 0; i < 4; i++) x[12 + i] = le32(nonce + 4 * i);
  for (int r = 0; r < 10; r++) {
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 4; i++) put_le32(out + 4 * i, x[i]);
  for (int i = 0; i < 4; i++) put_le32(out + 16 + 4 * i, x[12 + i]);
  wg_wipe(x, sizeof x);
}

static int aead(int enc, uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  const EVP_CIPHER *c = wg_chachapoly();
  if (!c || inlen > INT32_MAX) return -1;
  size_t body = enc ? inlen : inlen - WG_TAG_LEN;
  if (!enc && inlen < WG_TAG_LEN) return -1;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, ok = ctx && EVP_CipherInit_ex(ctx, c, NULL, key, nonce, enc) == 1;
  if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, WG_TAG_LEN, (void *)(in + body)) == 1;
  if (ok && adlen) ok = EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) == 1;
  if (ok && body) ok = EVP_CipherUpdate(ctx, out, &n, in, (int)body) == 1;
  if (ok) ok = EVP_CipherFinal_ex(ctx, out + body, &n) == 1;
  if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, WG_TAG_LEN, out + body) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok && !enc && body) wg_wipe(out, body); /* never hand out unauthenticated plaintext */
  return ok ? 0 : -1;
}

int wg_aead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  return aead(1, out, key, nonce, in, inlen, ad, adlen);
}
int wg_aead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  return aead(0, out, key, nonce, in, inlen, ad, adlen);
}

static int xaead(int enc, uint8_t *out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  uint8_t sub[32], n12[12] = {0};
  wg_hchacha20(sub, key, nonce);
  memcpy(n12 + 4, nonce + 16, 8);
  int r = aead(enc, out, sub, n12, in, inlen, ad, adlen);
  wg_wipe(sub, sizeof sub);
  return r;
}
int wg_xaead_seal(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  return xaead(1, out, key, nonce, in, inlen, ad, adlen);
}
int wg_xaead_open(uint8_t *out, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in, size_t inlen, const uint8_t *ad, size_t adlen) {
  return xaead(0, out, key, nonce, in, inlen, ad, adlen);
}

/* ---- Node-API bindings: Uint8Array in, a new Uint8Array (or null) out ---- */

struct bytes {
  uint8_t *p;
  size_t n;
};

static napi_value new_bytes(napi_env env, size_t n, uint8_t **data) {
  napi_value ab, arr;
  void *p = NULL;
  if (napi_create_arraybuffer(env, n, &p, &ab) != napi_ok) return NULL;
  napi_create_typedarray(env, napi_uint8_array, n, ab, 0, &arr);
  *data = p;
  return arr;
}

static napi_value null_value(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

static napi_value crypto_fail(napi_env env, const char *what) {
  tsn_throw_code(env, "ERR_CRYPTO", what);
  return NULL;
}

/* wgGenerateKey() -> Uint8Array(32): a clamped X25519 private key from RAND_priv_bytes. */
static napi_value js_generate(napi_env env, napi_callback_info info) {
  uint8_t *out;
  napi_value r = new_bytes(env, 32, &out);
  if (!r || wg_x25519_generate(out)) return crypto_fail(env, "wgGenerateKey: RAND_priv_bytes failed");
  return r;
}

/* wgX25519PublicKey(priv32) -> Uint8Array(32). */
static napi_value js_public(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct bytes k;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || tsn_arg_u8(env, argv[0], "private key", 32, &k.p, &k.n)) return NULL;
  uint8_t *out;
  napi_value r = new_bytes(env, 32, &out);
  if (!r || wg_x25519_public(out, k.p)) return crypto_fail(env, "wgX25519PublicKey: EVP_PKEY X25519 failed");
  return r;
}

/* wgX25519(priv32, pub32) -> Uint8Array(32), or null for a low-order public key. */
static napi_value js_x25519(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct bytes k, p;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || tsn_arg_u8(env, argv[0], "private key", 32, &k.p, &k.n) || tsn_arg_u8(env, argv[1], "public key", 32, &p.p, &p.n)) return NULL;
  uint8_t *out;
  napi_value r = new_bytes(env, 32, &out);
  if (!r) return NULL;
  return wg_x25519(out, k.p, p.p) ? null_value(env) : r;
}

/* wgBlake2s(data, outLen, key?) -> Uint8Array(outLen): unkeyed (outLen 32) or keyed BLAKE2s. */
static napi_value js_blake2s(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  struct bytes d, k = {0};
  int32_t outlen;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || tsn_arg_u8(env, argv[0], "data", 0, &d.p, &d.n) || napi_get_value_int32(env, argv[1], &outlen) != napi_ok || outlen < 1 || outlen > 32) {
    tsn_throw_code(env, "ERR_INVALID_ARG_VALUE", "wgBlake2s(data, outLen 1..32, key?)");
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc >= 3) napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && t != napi_null && tsn_arg_u8(env, argv[2], "key", 0, &k.p, &k.n)) return NULL;
  uint8_t *out;
  napi_value r = new_bytes(env, (size_t)outlen, &out);
  if (!r || wg_blake2s(out, (size_t)outlen, k.p, k.n, d.p, d.n)) return crypto_fail(env, "wgBlake2s: BLAKE2s failed (an unkeyed hash is 32 bytes; a key at most 32)");
  return r;
}

/* wgHmacBlake2s(key, data) -> Uint8Array(32). */
static napi_value js_hmac(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct bytes k, d;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || tsn_arg_u8(env, argv[0], "key", 0, &k.p, &k.n) || tsn_arg_u8(env, argv[1], "data", 0, &d.p, &d.n)) return NULL;
  uint8_t *out;
  napi_value r = new_bytes(env, 32, &out);
  if (!r || wg_hmac_blake2s(out, k.p, k.n, d.p, d.n)) return crypto_fail(env, "wgHmacBlake2s: HMAC failed");
  return r;
}

/* wgHChaCha20(key32, nonce16) -> Uint8Array(32). */
static napi_value js_hchacha(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct bytes k, n;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || tsn_arg_u8(env, argv[0], "key", 32, &k.p, &k.n) || tsn_arg_u8(env, argv[1], "nonce", 16, &n.p, &n.n)) return NULL;
  uint8_t *out;
  napi_value r = new_bytes(env, 32, &out);
  if (!r) return NULL;
  wg_hchacha20(out, k.p, n.p);
  return r;
}

/* The four AEAD calls: (key32, nonce12|24, data, ad) -> sealed (+16) or opened (-16) bytes, or null on a bad tag. */
static napi_value js_aead(napi_env env, napi_callback_info info, int enc, int x) {
  size_t argc = 4;
  napi_value argv[4];
  struct bytes k, n, d, a;
  TSN_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4 || tsn_arg_u8(env, argv[0], "key", 32, &k.p, &k.n) || tsn_arg_u8(env, argv[1], "nonce", x ? 24 : 12, &n.p, &n.n) || tsn_arg_u8(env, argv[2], "data", 0, &d.p, &d.n) ||
      tsn_arg_u8(env, argv[3], "additional data", 0, &a.p, &a.n))
    return NULL;
  if (!enc && d.n < WG_TAG_LEN) return null_value(env);
  uint8_t *out;
  napi_value r = new_bytes(env, enc ? d.n + WG_TAG_LEN : d.n - WG_TAG_LEN, &out);
  if (!r) return NULL;
  int rc = x ? (enc ? wg_xaead_seal : wg_xaead_open)(out, k.p, n.p, d.p, d.n, a.p, a.n) : (enc ? wg_aead_seal : wg_aead_open)(out, k.p, n.p, d.p, d.n, a.p, a.n);
  if (rc) return enc ? crypto_fail(env, "AEAD seal failed") : null_value(env);
  return r;
}
static napi_value js_aead_seal(napi_env env, napi_callback_info info) { return js_aead(env, info, 1, 0); }
static napi_value js_aead_open(napi_env env, napi_callback_info info) { return js_aead(env, info, 0, 0); }
static napi_value js_xaead_seal(napi_env env, napi_callback_info info) { return js_aead(env, info, 1, 1); }
static napi_value js_xaead_open(napi_env env, napi_callback_info info) { return js_aead(env, info, 0, 1); }

napi_value tsn_wg_crypto_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"wgGenerateKey", NULL, js_generate, NULL, NULL, NULL, napi_default, NULL},
      {"wgX25519PublicKey", NULL, js_public, NULL, NULL, NULL, napi_default, NULL},
      {"wgX25519", NULL, js_x25519, NULL, NULL, NULL, napi_default, NULL},
      {"wgBlake2s", NULL, js_blake2s, NULL, NULL, NULL, napi_default, NULL},
      {"wgHmacBlake2s", NULL, js_hmac, NULL, NULL, NULL, napi_default, NULL},
      {"wgHChaCha20", NULL, js_hchacha, NULL, NULL, NULL, napi_default, NULL},
      {"wgAeadSeal", NULL, js_aead_seal, NULL, NULL, NULL, napi_default, NULL},
      {"wgAeadOpen", NULL, js_aead_open, NULL, NULL, NULL, napi_default, NULL},
      {"wgXAeadSeal", NULL, js_xaead_seal, NULL, NULL, NULL, napi_default, NULL},
      {"wgXAeadOpen", NULL, js_xaead_open, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
