/**
 * The native addon (native/, built by node-gyp into build/Release/tsnet_native.node), typed.
 * It owns descriptors and moves bursts of frames between them and the frame pool; decisions stay in
 * TypeScript. Loaded lazily so that code which never touches a kernel device (the emulator's logic,
 * packet views) does not need it.
 */
import { createRequire } from 'node:module';
import { DESC_STRIDE, HEADROOM, SLOT_SIZE, VNET_HDR_LEN } from '../dataplane/layout.js';

export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export interface TapOpenOptions {
  /** 12-byte virtio-net header on every frame (default true). */
  vnetHdr?: boolean;
  /** TUNSETOFFLOAD CSUM|TSO4|TSO6: 64 KB TCP super-frames cross unsegmented (default true; needs vnetHdr). */
  offload?: boolean;
  /** TUNSETPERSIST: the device outlives the descriptor (default false). */
  persist?: boolean;
}

/** Errors thrown by the addon for a failed syscall carry Node's usual metadata. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export interface NativeAddon {
  tapOpen(name: string, opts?: TapOpenOptions): { fd: number; name: string };
  tapSetPersist(fd: number, on: boolean): void;
  closeFd(fd: number): void;
  attachPool(pool: ArrayBuffer, desc: Int32Array, txIdx: Int32Array, status: Int32Array): number;
  detachPool(handle: number): void;
  rxBurst(pool: number, fd: number, vnet: number, firstSlot: number, max: number): number;
  txBurst(pool: number, fd: number, mode: number, start: number, count: number): number;
  setReadyHandler(fn: (count: number) => void, ready: Int32Array): void;
  pollStart(fd: number, port: number): void;
  pollStop(port: number): void;
  segment(frame: Uint8Array, vnet: VnetHeader): Uint8Array[];
  completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void;
  layout: { HEADROOM: number; VNET_HDR_LEN: number; SLOT_SIZE: number; DESC_STRIDE: number; TX_VNET: number; TX_GSO: number };
}

/** Indices into a pool's status vector; see native/src/pool.h. */
export const ST_SENT = 0;
export const ST_DROP_FULL = 1;
export const ST_DROP_ERR = 2;
export const ST_LAST_ERRNO = 3;
export const ST_SEGMENTS = 4;
export const ST_DROP_BAD_GSO = 5;
export const ST_CSUM_DONE = 6;
export const ST_COUNT = 8;

let loaded: NativeAddon | undefined;

export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // src/native/ and dist/native/ are both two levels below the package root.
  const addon = require('../../build/Release/tsnet_native.node') as NativeAddon;
  const l = addon.layout;
  if (l.HEADROOM !== HEADROOM || l.SLOT_SIZE !== SLOT_SIZE || l.DESC_STRIDE !== DESC_STRIDE || l.VNET_HDR_LEN !== VNET_HDR_LEN) {
    throw new Error(`native addon frame layout ${JSON.stringify(l)} does not match src/dataplane/layout.ts: rebuild with npm run build:native`);
  }
  loaded = addon;
  return addon;
}
