/**
 * The WireGuard part of the native addon: crypto primitives (native/src/wg_crypto.c, over OpenSSL
 * libcrypto 3) for the handshake, and the batched transport data path (native/src/wg_transport.c, its
 * send path in wg_tx.c).
 * Kept apart from addon.ts so the encrypted overlay is one concern with one typed boundary.
 */
import { native } from './addon.js';

export interface WireguardNative {
  /** A clamped X25519 private key from RAND_priv_bytes. */
  wgGenerateKey(): Uint8Array;
  wgX25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /** X25519(priv, pub), or null when the result is all zero (a low-order public key). */
  wgX25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** BLAKE2s: unkeyed with outLen 32 (HASH), or keyed with 1..32 bytes of output (MAC: 16). */
  wgBlake2s(data: Uint8Array, outLen: number, key?: Uint8Array | null): Uint8Array;
  wgHmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array;
  wgHChaCha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce; open returns null on a bad tag. */
  wgAeadSeal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  wgAeadOpen(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null;
  /** XChaCha20-Poly1305 with a 24-byte nonce (HChaCha20 here + OpenSSL's ChaCha20-Poly1305). */
  wgXAeadSeal(key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  wgXAeadOpen(key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null;

  wgOpen(
    localIp: string,
    port: number,
    status: Int32Array,
    vstatus: Int32Array,
    peerStats: Float64Array,
    ctrl: Uint8Array,
    opts: WgOpenOptions,
  ): { handle: number; fd: number; port: number };
  wgClose(handle: number): void;
  /** Milliseconds of CLOCK_MONOTONIC: the clock of every session timer. */
  wgClock(): number;
  wgPeerSet(handle: number, peer: number, vtepIp: number, endpointIp: number, endpointPort: number): void;
  wgPeerClear(handle: number, peer: number, remove: boolean): void;
  /** Install a session; the key arrays are wiped by the call. */
  wgInstallKeypair(handle: number, peer: number, localIndex: number, remoteIndex: number, sendKey: Uint8Array, recvKey: Uint8Array, initiator: boolean): void;
  wgSendRaw(handle: number, ip: number, port: number, message: Uint8Array): number;
  wgSendKeepalive(handle: number, peer: number): boolean;
  wgRecvBurst(pool: number, handle: number, firstSlot: number, max: number): number;
  wgSendBurst(pool: number, handle: number, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number;
  wgLayout: { STATUS_COUNT: number; PEER_STRIDE: number; MAX_PEERS: number; KP_SLOTS: number; CTRL_MAX: number; CTRL_STRIDE: number; OVERHEAD: number };
}

export interface WgOpenOptions {
  /** The inner UDP destination port of the VXLAN datagrams (4789). */
  vxlanPort: number;
  /** Largest inner IPv4 packet: the underlay MTU minus WG_OVERHEAD. */
  tunnelMtu: number;
  rekeyAfterMs: number;
  rejectAfterMs: number;
  /** Initiator's data-receive rekey: REJECT_AFTER_TIME - KEEPALIVE - REKEY_TIMEOUT. */
  rekeyOnRxMs: number;
  netns?: string;
}

/** Device counters; see native/src/wg_layout.h. */
export const WST_RX_BAD_MAC = 0;
export const WST_RX_REPLAY = 1;
export const WST_RX_NO_SESSION = 2;
export const WST_RX_MALFORMED = 3;
export const WST_RX_BAD_INNER = 4;
export const WST_RX_KEEPALIVE = 5;
export const WST_RX_CTRL = 6;
export const WST_RX_CTRL_LOST = 7;
export const WST_TX_NO_SESSION = 8;
export const WST_TX_UNKNOWN_PEER = 9;
export const WST_ATTENTION = 10;
export const WST_RX_BACKLOG = 11;
export const WST_COUNT = 12;

/** Per-peer stats rows. */
export const WPS_RX_BYTES = 0;
export const WPS_TX_BYTES = 1;
export const WPS_LAST_RX = 2;
export const WPS_LAST_TX = 3;
export const WPS_LAST_DATA_RX = 4;
export const WPS_LAST_DATA_TX = 5;
export const WPS_EP_IP = 6;
export const WPS_EP_PORT = 7;
export const WPS_FLAGS = 8;
export const WPS_TX_COUNTER = 9;
export const WPS_RX_PACKETS = 10;
export const WPS_TX_PACKETS = 11;
export const WPS_CUR_SLOT = 12;
export const WPS_PREV_SLOT = 13;
export const WPS_NEXT_SLOT = 14;
export const WPS_CUR_BORN = 15;
export const WPS_STAGED = 16;
export const WPS_STRIDE = 17;

export const WPF_NEED_HANDSHAKE = 1;
export const WPF_REKEY = 2;
export const WPF_CONFIRMED = 4;

export const WG_MAX_PEERS = 256;
export const WG_KP_SLOTS = 1024;
export const WG_CTRL_MAX = 64;
export const WG_CTRL_STRIDE = 160;
/** Outer IPv4 + UDP + transport header + tag. */
export const WG_OVERHEAD = 60;

export function wgNative(): WireguardNative {
  const n = native() as unknown as WireguardNative;
  const l = n.wgLayout;
  if (!l || l.STATUS_COUNT !== WST_COUNT || l.PEER_STRIDE !== WPS_STRIDE || l.MAX_PEERS !== WG_MAX_PEERS || l.KP_SLOTS !== WG_KP_SLOTS || l.CTRL_STRIDE !== WG_CTRL_STRIDE || l.OVERHEAD !== WG_OVERHEAD) {
    throw new Error(`native WireGuard layout ${JSON.stringify(l)} does not match src/native/wireguard-addon.ts: rebuild with npm run build:native`);
  }
  return n;
}
