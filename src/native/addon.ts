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
  /**
   * Make (or re-attach to) the device inside this network namespace, given as a path
   * (/var/run/netns/NAME, /proc/PID/ns/net). The descriptor keeps working from ours. A missing path
   * throws ENOENT naming it.
   */
  netns?: string;
}

/** Attributes nlLinkSet() changes; absent ones are left alone. */
export interface NlLinkAttrs {
  /** New interface name (1 to 15 bytes). */
  name?: string;
  /** 'aa:bb:cc:dd:ee:ff'. */
  mac?: string;
  mtu?: number;
  /** IFF_UP on or off. */
  up?: boolean;
}

export interface NlLinkInfo {
  index: number;
  name: string;
  /** 'aa:bb:cc:dd:ee:ff'; '' for a link without a hardware address. */
  mac: string;
  mtu: number;
  up: boolean;
  carrier: boolean;
  /** IFLA_INFO_KIND: 'tun', 'veth', 'bridge', ...; absent for loopback and most physical NICs. */
  kind?: string;
}

export interface NlAddr {
  index: number;
  address: string;
  prefixLen: number;
}

/** A route to add or delete (main table). Adding needs a gateway, an ifindex, or both. */
export interface NlRoute {
  /** Destination network; '0.0.0.0' with prefixLen 0 for the default route. */
  dst: string;
  prefixLen: number;
  gateway?: string;
  ifindex?: number;
}

export interface NlRouteEntry {
  dst: string;
  prefixLen: number;
  gateway?: string;
  ifindex?: number;
  table: number;
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
  /**
   * rtnetlink (native/src/netlink.c). A socket acts in the namespace it was opened in; close it with
   * closeFd(). Kernel refusals throw a NativeError whose code is the errno name and whose syscall is
   * the request ('RTM_NEWADDR', ...); bad arguments throw code ERR_INVALID_ARG_VALUE / _TYPE.
   */
  nlOpen(netnsPath?: string | null): number;
  /** 0 if there is no such link. */
  nlLinkIndex(fd: number, ifname: string): number;
  nlLinkSet(fd: number, ifindex: number, attrs: NlLinkAttrs): void;
  nlLinkSetNetns(fd: number, ifindex: number, netnsPath: string): void;
  nlLinkDel(fd: number, ifindex: number): void;
  /** Throws ENODEV for a missing link. */
  nlLinkInfo(fd: number, ifindex: number): NlLinkInfo;
  /** IPv4 for now; a duplicate is EEXIST, a missing link ENODEV. */
  nlAddrAdd(fd: number, ifindex: number, address: string, prefixLen: number): void;
  nlAddrDel(fd: number, ifindex: number, address: string, prefixLen: number): void;
  nlAddrList(fd: number, ifindex?: number | null): NlAddr[];
  nlRouteAdd(fd: number, route: NlRoute): void;
  nlRouteDel(fd: number, route: NlRoute): void;
  /** IPv4 routes of the main table. */
  nlRouteList(fd: number): NlRouteEntry[];
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
