/**
 * WireGuard's handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as the whitepaper (section 5.4) and
 * wireguard.com/protocol write it, over the addon's primitives (native/src/wg_crypto.c). It runs in
 * TypeScript because it is rare (one per peer every two minutes); the transport keys it derives go to
 * the C data path.
 *
 *   initiation (148 bytes): type 1 | 3 reserved | sender LE | ephemeral 32 | static 32+16 | timestamp 12+16 | mac1 16 | mac2 16
 *   response    (92 bytes): type 2 | 3 reserved | sender LE | receiver LE | ephemeral 32 | empty 0+16 | mac1 16 | mac2 16
 *   cookie      (64 bytes): type 3 | 3 reserved | receiver LE | nonce 24 | cookie 16+16
 *
 * The preshared key Q is all zeros (no `preshared-key` is configured). Every function here is pure
 * apart from randomness (ephemeral keys) and the clock (TAI64N): the caller owns the state.
 */
import { randomBytes } from 'node:crypto';
import { wgNative } from '../../native/wireguard-addon.js';

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const LABEL_MAC1 = 'mac1----';
export const LABEL_COOKIE = 'cookie--';

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE = 3;
export const INITIATION_LEN = 148;
export const RESPONSE_LEN = 92;
export const COOKIE_LEN = 64;

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);
const ZERO_NONCE = new Uint8Array(12);
const PSK = new Uint8Array(32);

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const HASH = (data: Uint8Array): Uint8Array => wgNative().wgBlake2s(data, 32);
export const MAC = (key: Uint8Array, data: Uint8Array): Uint8Array => wgNative().wgBlake2s(data, 16, key);
const HMAC = (key: Uint8Array, data: Uint8Array): Uint8Array => wgNative().wgHmacBlake2s(key, data);

/** KDF_n (the whitepaper's HKDF over HMAC-BLAKE2s): n 32-byte outputs. */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const t0 = HMAC(key, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = EMPTY;
  for (let i = 1; i <= n; i++) {
    prev = HMAC(t0, cat(prev, Uint8Array.of(i)));
    out.push(prev);
  }
  return out;
}

function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const r = wgNative().wgX25519(priv, pub);
  if (!r) throw new HandshakeError('bad-mac', 'a low-order public key (X25519 gave all zeros)');
  return r;
}

function aeadSeal(key: Uint8Array, plain: Uint8Array, ad: Uint8Array): Uint8Array {
  return wgNative().wgAeadSeal(key, ZERO_NONCE, plain, ad);
}

function aeadOpen(key: Uint8Array, sealed: Uint8Array, ad: Uint8Array, what: string): Uint8Array {
  const r = wgNative().wgAeadOpen(key, ZERO_NONCE, sealed, ad);
  if (!r) throw new HandshakeError('bad-mac', `${what} did not authenticate`);
  return r;
}

/** Why a handshake message was refused; `reason` maps onto the wg-* drop reasons. */
export class HandshakeError extends Error {
  constructor(
    readonly reason: 'bad-mac' | 'unknown-peer' | 'replay' | 'no-session' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

const C0 = HASH(enc.encode(CONSTRUCTION));
const H0 = HASH(cat(C0, enc.encode(IDENTIFIER)));

export interface StaticIdentity {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** HASH(LABEL_MAC1 || pub): the key of mac1 for messages to the owner of `pub`. */
export const mac1Key = (pub: Uint8Array): Uint8Array => HASH(cat(enc.encode(LABEL_MAC1), pub));
/** HASH(LABEL_COOKIE || pub): the key of cookie replies from the owner of `pub`. */
export const cookieKey = (pub: Uint8Array): Uint8Array => HASH(cat(enc.encode(LABEL_COOKIE), pub));

/** TAI64N of now: 8 bytes big-endian 2^62 + 10 + seconds, 4 bytes big-endian nanoseconds. */
export function tai64n(nowMs = Date.now()): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  const secs = BigInt(Math.floor(nowMs / 1000)) + 0x400000000000000an;
  v.setBigUint64(0, secs);
  v.setUint32(8, Math.floor(nowMs % 1000) * 1e6);
  return out;
}

function u32le(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}
function putU32le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** The message's type byte, checked with its length; null for anything else. */
export function messageType(msg: Uint8Array): number | null {
  if (msg.length < 4 || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return null;
  const t = msg[0];
  if ((t === MSG_INITIATION && msg.length === INITIATION_LEN) || (t === MSG_RESPONSE && msg.length === RESPONSE_LEN) || (t === MSG_COOKIE && msg.length === COOKIE_LEN)) return t;
  return null;
}

export const senderIndex = (msg: Uint8Array): number => u32le(msg, 4);
/** The receiver index of a response (offset 8) or a cookie reply (offset 4). */
export const receiverIndex = (msg: Uint8Array): number => (msg[0] === MSG_RESPONSE ? u32le(msg, 8) : u32le(msg, 4));

/** Fill in mac1 (and mac2 from a cookie, else zeros) of a message whose macs are its last 32 bytes. */
export function writeMacs(msg: Uint8Array, peerPublic: Uint8Array, cookie: Uint8Array | null): void {
  const m1 = msg.length - 32;
  msg.set(MAC(mac1Key(peerPublic), msg.subarray(0, m1)), m1);
  msg.set(cookie ? MAC(cookie, msg.subarray(0, m1 + 16)) : new Uint8Array(16), m1 + 16);
}

/** Does mac1 verify under our own public key? (Checked before anything costly.) */
export function mac1Valid(msg: Uint8Array, ourMac1Key: Uint8Array): boolean {
  const m1 = msg.length - 32;
  return timingSafeEqual(MAC(ourMac1Key, msg.subarray(0, m1)), msg.subarray(m1, m1 + 16));
}

export function mac2Valid(msg: Uint8Array, cookie: Uint8Array): boolean {
  const m2 = msg.length - 16;
  return timingSafeEqual(MAC(cookie, msg.subarray(0, m2)), msg.subarray(m2));
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** The initiator's state between sending an initiation and consuming the response. */
export interface InitiatorState {
  localIndex: number;
  peerPublic: Uint8Array;
  ephemeralPrivate: Uint8Array;
  chainingKey: Uint8Array;
  hash: Uint8Array;
  /** mac1 of the initiation sent: the additional data of a cookie reply to it. */
  mac1: Uint8Array;
}

export interface Session {
  localIndex: number;
  remoteIndex: number;
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  initiator: boolean;
}

/** Build a handshake initiation to `peerPublic`, sender index `localIndex`; mac2 from `cookie` if we hold one. */
export function createInitiation(me: StaticIdentity, peerPublic: Uint8Array, localIndex: number, cookie: Uint8Array | null, nowMs = Date.now()): { message: Uint8Array; state: InitiatorState } {
  const n = wgNative();
  let c = C0;
  let h = HASH(cat(H0, peerPublic));
  const ePriv = n.wgGenerateKey();
  const ePub = n.wgX25519PublicKey(ePriv);
  [c] = kdf(1, c, ePub);
  h = HASH(cat(h, ePub));
  let k: Uint8Array;
  [c, k] = kdf(2, c, dh(ePriv, peerPublic));
  const encStatic = aeadSeal(k, me.publicKey, h);
  h = HASH(cat(h, encStatic));
  [c, k] = kdf(2, c, dh(me.privateKey, peerPublic));
  const encTime = aeadSeal(k, tai64n(nowMs), h);
  h = HASH(cat(h, encTime));
  const msg = new Uint8Array(INITIATION_LEN);
  msg[0] = MSG_INITIATION;
  putU32le(msg, 4, localIndex);
  msg.set(ePub, 8);
  msg.set(encStatic, 40);
  msg.set(encTime, 88);
  writeMacs(msg, peerPublic, cookie);
  return { message: msg, state: { localIndex, peerPublic, ephemeralPrivate: ePriv, chainingKey: c, hash: h, mac1: msg.slice(116, 132) } };
}

/** What the responder learns from a valid initiation (mac1 already checked by the caller). */
export interface ConsumedInitiation {
  peerPublic: Uint8Array;
  remoteIndex: number;
  /** TAI64N, compared byte-wise with the last one from this peer (replay protection). */
  timestamp: Uint8Array;
  ephemeralPublic: Uint8Array;
  chainingKey: Uint8Array;
  hash: Uint8Array;
}

/** Open an initiation to us: the initiator's static key (who it is) and timestamp. Throws HandshakeError. */
export function consumeInitiation(me: StaticIdentity, msg: Uint8Array): ConsumedInitiation {
  let c = C0;
  let h = HASH(cat(H0, me.publicKey));
  const ePub = msg.slice(8, 40);
  [c] = kdf(1, c, ePub);
  h = HASH(cat(h, ePub));
  let k: Uint8Array;
  [c, k] = kdf(2, c, dh(me.privateKey, ePub));
  const encStatic = msg.subarray(40, 88);
  const peerPublic = aeadOpen(k, encStatic, h, 'the initiation\'s static key');
  h = HASH(cat(h, encStatic));
  [c, k] = kdf(2, c, dh(me.privateKey, peerPublic));
  const encTime = msg.subarray(88, 116);
  const timestamp = aeadOpen(k, encTime, h, 'the initiation\'s timestamp');
  h = HASH(cat(h, encTime));
  return { peerPublic, remoteIndex: senderIndex(msg), timestamp, ephemeralPublic: ePub, chainingKey: c, hash: h };
}

/**
 * Build the response to a consumed initiation; returns it and the responder's session, and with
 * `keepEphemeral` a copy of the responder's ephemeral private key (for a Wireshark key log only).
 */
export function createResponse(init: ConsumedInitiation, localIndex: number, cookie: Uint8Array | null, keepEphemeral = false): { message: Uint8Array; session: Session; ephemeralPrivate?: Uint8Array } {
  const n = wgNative();
  let c = init.chainingKey;
  let h = init.hash;
  const ePriv = n.wgGenerateKey();
  const ePub = n.wgX25519PublicKey(ePriv);
  [c] = kdf(1, c, ePub);
  h = HASH(cat(h, ePub));
  [c] = kdf(1, c, dh(ePriv, init.ephemeralPublic));
  [c] = kdf(1, c, dh(ePriv, init.peerPublic));
  let t: Uint8Array;
  let k: Uint8Array;
  [c, t, k] = kdf(3, c, PSK);
  h = HASH(cat(h, t));
  const empty = aeadSeal(k, EMPTY, h);
  h = HASH(cat(h, empty));
  const msg = new Uint8Array(RESPONSE_LEN);
  msg[0] = MSG_RESPONSE;
  putU32le(msg, 4, localIndex);
  putU32le(msg, 8, init.remoteIndex);
  msg.set(ePub, 12);
  msg.set(empty, 44);
  writeMacs(msg, init.peerPublic, cookie);
  const [recvKey, sendKey] = kdf(2, c, EMPTY);
  const kept = keepEphemeral ? ePriv.slice() : undefined;
  ePriv.fill(0);
  return { message: msg, session: { localIndex, remoteIndex: init.remoteIndex, sendKey, recvKey, initiator: false }, ...(kept ? { ephemeralPrivate: kept } : {}) };
}

/** Consume the response to our initiation (mac1 checked by the caller): the initiator's session. */
export function consumeResponse(me: StaticIdentity, st: InitiatorState, msg: Uint8Array): Session {
  let c = st.chainingKey;
  let h = st.hash;
  const ePub = msg.slice(12, 44);
  [c] = kdf(1, c, ePub);
  h = HASH(cat(h, ePub));
  [c] = kdf(1, c, dh(st.ephemeralPrivate, ePub));
  [c] = kdf(1, c, dh(me.privateKey, ePub));
  let t: Uint8Array;
  let k: Uint8Array;
  [c, t, k] = kdf(3, c, PSK);
  h = HASH(cat(h, t));
  aeadOpen(k, msg.subarray(44, 60), h, 'the response');
  const [sendKey, recvKey] = kdf(2, c, EMPTY);
  st.ephemeralPrivate.fill(0);
  return { localIndex: st.localIndex, remoteIndex: senderIndex(msg), sendKey, recvKey, initiator: true };
}

/** A cookie reply to a message whose sender index and mac1 are given: the cookie is MAC(secret, source). */
export function createCookieReply(me: StaticIdentity, receiver: number, mac1: Uint8Array, cookie: Uint8Array): Uint8Array {
  const msg = new Uint8Array(COOKIE_LEN);
  msg[0] = MSG_COOKIE;
  putU32le(msg, 4, receiver);
  const nonce = new Uint8Array(randomBytes(24));
  msg.set(nonce, 8);
  msg.set(wgNative().wgXAeadSeal(cookieKey(me.publicKey), nonce, cookie, mac1), 32);
  return msg;
}

/** The cookie in a reply from `peerPublic` to our message with `mac1`; throws on a bad tag. */
export function consumeCookieReply(peerPublic: Uint8Array, mac1: Uint8Array, msg: Uint8Array): Uint8Array {
  const r = wgNative().wgXAeadOpen(cookieKey(peerPublic), msg.subarray(8, 32), msg.subarray(32, 64), mac1);
  if (!r) throw new HandshakeError('bad-mac', 'the cookie reply did not authenticate');
  return r;
}
