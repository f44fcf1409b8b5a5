// wg-crypto: the primitives of native/src/wg_crypto.c against published known answers: RFC 8439
// section 2.8.2 (ChaCha20-Poly1305), RFC 7748 section 6.1 (X25519), the BLAKE2 reference KATs
// (blake2s-kat.txt; "abc" from RFC 7693 appendix B), draft-irtf-cfrg-xchacha-03 sections 2.2.1 and
// A.3.1 (HChaCha20, XChaCha20-Poly1305). HMAC-BLAKE2s has no published vector: its answer was computed
// with Python's hmac + hashlib.blake2s, an implementation that shares nothing with OpenSSL's.
import { describe, expect, it } from 'vitest';
import { wgNative } from '../../../src/native/wireguard-addon.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[\s:]/g, ''), 'hex'));
const toHex = (b: Uint8Array | null) => (b === null ? 'null' : Buffer.from(b).toString('hex'));
const range = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);
const n = wgNative();

const SUNSCREEN = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
const AAD = hex('50515253c0c1c2c3c4c5c6c7');

describe('ChaCha20-Poly1305 (RFC 8439 2.8.2)', () => {
  const key = range(0x80, 32);
  const nonce = hex('07000000 40414243 44454647');
  const sealed =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  it('seals to the RFC ciphertext and tag', () => {
    expect(toHex(n.wgAeadSeal(key, nonce, SUNSCREEN, AAD))).toBe(sealed);
  });
  it('opens it back, and refuses a flipped bit anywhere or other additional data', () => {
    expect(Buffer.from(n.wgAeadOpen(key, nonce, hex(sealed), AAD)!).toString()).toBe(Buffer.from(SUNSCREEN).toString());
    for (const at of [0, 57, SUNSCREEN.length, SUNSCREEN.length + 15]) {
      const bad = hex(sealed);
      bad[at] ^= 1;
      expect(n.wgAeadOpen(key, nonce, bad, AAD)).toBeNull();
    }
    expect(n.wgAeadOpen(key, nonce, hex(sealed), new Uint8Array(0))).toBeNull();
    expect(n.wgAeadOpen(key, nonce, new Uint8Array(15), AAD)).toBeNull();
  });
  it('seals an empty message to a bare tag that opens to nothing (a keepalive)', () => {
    const tag = n.wgAeadSeal(key, new Uint8Array(12), new Uint8Array(0), new Uint8Array(0));
    expect(tag.length).toBe(16);
    expect(n.wgAeadOpen(key, new Uint8Array(12), tag, new Uint8Array(0))?.length).toBe(0);
  });
});

describe('X25519 (RFC 7748 6.1)', () => {
  const alicePriv = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPriv = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  it('derives both public keys and the same shared secret from either side', () => {
    expect(toHex(n.wgX25519PublicKey(alicePriv))).toBe(alicePub);
    expect(toHex(n.wgX25519PublicKey(bobPriv))).toBe(bobPub);
    expect(toHex(n.wgX25519(alicePriv, hex(bobPub)))).toBe(shared);
    expect(toHex(n.wgX25519(bobPriv, hex(alicePub)))).toBe(shared);
  });
  it('refuses a low-order public key (all-zero result)', () => {
    expect(n.wgX25519(alicePriv, new Uint8Array(32))).toBeNull();
  });
  it('generates clamped private keys that differ', () => {
    const a = n.wgGenerateKey();
    const b = n.wgGenerateKey();
    expect(toHex(a)).not.toBe(toHex(b));
    expect(a[0] & 7).toBe(0);
    expect(a[31] & 0xc0).toBe(0x40);
  });
  it('names a wrong-sized key', () => {
    expect(() => n.wgX25519PublicKey(new Uint8Array(31))).toThrow(/private key must be a Uint8Array of 32 bytes/);
  });
});

describe('BLAKE2s', () => {
  it('HASH: "abc" and "" (RFC 7693 appendix B, blake2s-kat.txt)', () => {
    expect(toHex(n.wgBlake2s(new TextEncoder().encode('abc'), 32))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
    expect(toHex(n.wgBlake2s(new Uint8Array(0), 32))).toBe('69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9');
  });
  it('keyed (blake2s-kat.txt, key 00..1f): empty input, and 16-byte output as MAC uses', () => {
    expect(toHex(n.wgBlake2s(new Uint8Array(0), 32, range(0, 32)))).toBe('48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49');
    expect(toHex(n.wgBlake2s(new Uint8Array(0), 16, range(0, 32)))).toBe('9536f9b267655743dee97b8a670f9f53');
  });
  it('HMAC-BLAKE2s', () => {
    const msg = new TextEncoder().encode('WireGuard v1 zx2c4 Jason@zx2c4.com');
    expect(toHex(n.wgHmacBlake2s(range(0, 32), msg))).toBe('b9f2e5767a6cdfa821d56eb9a1d60bd7604e1f6eaa167773dd4580ccb475d570');
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)', () => {
  it('HChaCha20 (2.2.1)', () => {
    expect(toHex(n.wgHChaCha20(range(0, 32), hex('000000090000004a0000000031415927')))).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });
  it('AEAD (A.3.1), and a bad tag refused', () => {
    const key = range(0x80, 32);
    const nonce = range(0x40, 24);
    const sealed = n.wgXAeadSeal(key, nonce, SUNSCREEN, AAD);
    expect(toHex(sealed)).toBe(
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
        'c0875924c1c7987947deafd8780acf49',
    );
    expect(Buffer.from(n.wgXAeadOpen(key, nonce, sealed, AAD)!).toString()).toBe(Buffer.from(SUNSCREEN).toString());
    sealed[3] ^= 0x80;
    expect(n.wgXAeadOpen(key, nonce, sealed, AAD)).toBeNull();
  });
});
