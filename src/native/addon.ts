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
  /** IFLA_GSO_MAX_SEGS: at most this many segments in one GSO super-frame the link hands over. */
  gsoMaxSegs?: number;
  /** IFF_UP on or off. */
  up?: boolean;
  /** IPv6 link-local generation (IFLA_INET6_ADDR_GEN_MODE): 0 EUI-64, 1 none, 2 stable privacy, 3 random; set it while the link is down. */
  addrGenMode?: number;
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
  /** IFLA_PROMISCUITY: promiscuous-mode users, the kernel's own fallback (a unicast filter it lacks) included. */
  promiscuity?: number;
}

/** One link as nlLinkAliasList lists it: with its alias (IFLA_IFALIAS; '' when none). */
export interface NlLinkAlias {
  index: number;
  name: string;
  alias: string;
  /** IFLA_INFO_KIND ('tun', 'veth', ...); '' when the link has none. */
  kind: string;
  up: boolean;
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

/** A compiled capture filter (an opaque native handle, freed by the garbage collector). */
export type BpfProgram = { readonly __brand: 'BpfProgram' };
export type PcapLiveHandle = { readonly __brand: 'PcapLiveHandle' };

/** Errors thrown by the addon for a failed syscall carry Node's usual metadata. */
export interface NativeError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

export interface NativeAddon {
  tapOpen(name: string, opts?: TapOpenOptions): { fd: number; name: string };
  tapSetPersist(fd: number, on: boolean): void;
  /** The device's current name (it follows renames and namespace moves); EBADFD once the device is gone. */
  tapDeviceName(fd: number): string;
  /** Inode (the namespace's id) of the network namespace the device is in now; EBADFD once it is gone. */
  tapNetnsInode(fd: number): number;
  closeFd(fd: number): void;
  attachPool(pool: ArrayBuffer, desc: Int32Array, txIdx: Int32Array, status: Int32Array): number;
  detachPool(handle: number): void;
  rxBurst(pool: number, fd: number, vnet: number, firstSlot: number, max: number): number;
  txBurst(pool: number, fd: number, mode: number, start: number, count: number): number;
  setReadyHandler(fn: (count: number) => void, ready: Int32Array): void;
  pollStart(fd: number, port: number): void;
  pollStop(port: number): void;
  /** Busy-poll budget after a burst, in µs (0: off, at most 1000); returns it (readiness.c). */
  setBusyPoll(microseconds: number): number;
  /** The busy-poll budget in force, empty polls spun and calls made from a spin since start. */
  busyPollStats(): { budgetUs: number; spins: number; hits: number };
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
  nlAddrList(fd: number, ifindex?: number | null, family?: 4 | 6): NlAddr[];
  nlRouteAdd(fd: number, route: NlRoute): void;
  nlRouteDel(fd: number, route: NlRoute): void;
  /** IPv4 routes of the main table. */
  nlRouteList(fd: number): NlRouteEntry[];
  /** IFLA_IFALIAS: at most 255 bytes; '' clears. */
  nlLinkSetAlias(fd: number, ifindex: number, alias: string): void;
  nlLinkAliasList(fd: number): NlLinkAlias[];
  /**
   * Capture filters (native/src/bpf.c): tcpdump syntax compiled by libpcap for Ethernet frames. A
   * filter libpcap refuses throws code ERR_BAD_FILTER with libpcap's message.
   */
  bpfCompile(filter: string, snaplen: number): BpfProgram;
  bpfMatch(program: BpfProgram, frame: Uint8Array): boolean;
  /** mask[i] = 1 if the frame of descriptor row rows[i] of the pool matches; returns the matches. */
  bpfFilterRows(program: BpfProgram, pool: number, rows: Int32Array, count: number, mask: Uint8Array): number;
  /**
   * Live capture of a host interface, both directions (native/src/pcap_live.c): ERR_PCAP or
   * ERR_BAD_FILTER with libpcap's message. Read packs records [u32 sec, u32 usec, u32 caplen, u32 len,
   * bytes padded to 4] into `buf` and returns the bytes written.
   */
  pcapLiveOpen(ifname: string, snaplen: number, filter: string): PcapLiveHandle;
  pcapLiveRead(handle: PcapLiveHandle, buf: Uint8Array): number;
  pcapLiveStats(handle: PcapLiveHandle): { received: number; dropped: number; ifDropped: number };
  pcapLiveClose(handle: PcapLiveHandle): void;
  /**
   * VXLAN tunnel endpoints over UDP (native/src/udp_vtep.c). vtepOpen binds LOCAL_IP:port (0: an
   * ephemeral port) for receive and opts.txSockets (8) transmit sockets whose ports are the outer
   * source ports; a busy port throws EADDRINUSE, a foreign address EADDRNOTAVAIL. `status` is the
   * VTEP's status vector (VST_* indices), written by every vtepSendBurst. localIp may be IPv6: such
   * a VTEP's remote VTEPs are numbers (vtepAddressNumber), where an IPv4 VTEP's are the addresses.
   */
  vtepOpen(localIp: string, port: number, status: Int32Array, opts?: VtepOpenOptions): { handle: number; fd: number; port: number; txPorts: number[]; family: 4 | 6 };
  vtepClose(handle: number): void;
  /** Datagrams into slots firstSlot..; the inner frame at the usual offset, VXLAN header and sender before it. */
  vtepRecvBurst(pool: number, vtep: number, firstSlot: number, max: number): number;
  /** Encapsulate and send the pool's txIdx[0..count): to dst[k], or to every peer when dst[k] is 0. Returns datagrams sent. */
  vtepSendBurst(pool: number, vtep: number, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number;
  /**
   * The receive path of vtepRecvBurst for one message that did not come from a socket (the in-memory
   * underlay, tests): copied into slot firstSlot, described in rows firstSlot.. (a UDP GRO run of
   * seg-byte datagrams when seg > 0, using spare slots up to firstSlot + max). Returns the rows.
   */
  vtepRxInject(pool: number, status: Int32Array, firstSlot: number, max: number, message: Uint8Array, seg: number, srcIp: number, srcPort: number): number;
  vtepLayout: { VXLAN_HLEN: number; META_SRC_IP: number; META_SRC_PORT: number; STATUS_COUNT: number };
  /** An IPv6 VTEP's number for a remote address (numbered now if new; native/src/vtep_addr6.h). */
  vtepAddressNumber(vtep: number, ip: string): number;
  /** The remote address an IPv6 VTEP numbered `n`, or null. */
  vtepAddressText(vtep: number, n: number): string | null;
  /** An IPv6 VTEP's numbered remote addresses, and new senders refused because the table was full. */
  vtepAddressCounts(vtep: number): { known: number; refused: number };
  /**
   * Uplinks on a parent interface (native/src/af_packet.c): an AF_PACKET socket with a virtio-net
   * header on every frame. A missing parent throws ENODEV, a non-Ethernet one EPROTONOSUPPORT. `status`
   * gets the PST_* counters of every burst.
   */
  packetOpen(ifname: string, status: Int32Array, opts?: { netns?: string }): PacketOpenResult;
  packetClose(handle: number): void;
  /** Add or drop a membership on the parent; `mac` (a 48-bit number) for unicast and multicast. */
  packetMembership(handle: number, add: boolean, type: 'unicast' | 'multicast' | 'allmulti' | 'promisc', mac?: number): void;
  /**
   * Kernel-side filter: only frames to `macs` (and group addresses when `groups`); null reads everything.
   * Returns its length in instructions; with no filter attached -1 (null, or a program longer than
   * BPF_MAXINSNS) or -2 (the kernel would not charge it to the socket: ENOMEM within optmem_max).
   */
  packetSetFilter(handle: number, macs: number[] | null, groups: boolean): number;
  /** The classic BPF program packetSetFilter would attach, as struct sock_filter[] bytes (host order). No syscall. */
  packetFilterProgram(macs: number[], groups: boolean): Buffer;
  /** One recvmmsg into slots firstSlot..; ENETDOWN/ENXIO/ENODEV are reported in status[PST_RX_ERRNO], not thrown. */
  packetRecvBurst(pool: number, handle: number, firstSlot: number, max: number): number;
  /** Send the pool's txIdx[0..count) to the parent; outcome in the status vector's TX entries. */
  packetSendBurst(pool: number, handle: number, count: number): number;
  /** PACKET_STATISTICS since the last call (reading resets): frames queued, and frames the kernel dropped (receive queue full). */
  packetStats(handle: number): { packets: number; drops: number };
  layout: { HEADROOM: number; VNET_HDR_LEN: number; SLOT_SIZE: number; DESC_STRIDE: number; TX_VNET: number; TX_GSO: number; TX_STATUS_COUNT: number; PACKET_STATUS_COUNT: number };
}

export interface VtepOpenOptions {
  /** Transmit sockets, one outer UDP source port each, chosen by a hash of the inner flow (default 8, at most 64). */
  txSockets?: number;
  /** Outer IPv4 TTL (default 64). */
  ttl?: number;
  /** Bind inside this network namespace (a path), not ours. */
  netns?: string;
}

/**
 * The transmit counters at the head of every port kind's status vector (native/src/tx_status.h): TAP
 * (the frame pool's status), AF_PACKET uplinks and VTEP sockets; reset by every send. Read by
 * src/dataplane/ports/transmit-status.ts.
 */
export const TXS_SENT = 0;
export const TXS_SYSCALLS = 1;
export const TXS_DROP_FULL = 2;
export const TXS_DROP_DOWN = 3;
export const TXS_DROP_TOO_BIG = 4;
export const TXS_DROP_ERR = 5;
export const TXS_LAST_ERRNO = 6;
export const TXS_SEGMENTS = 7;
export const TXS_DROP_BAD_GSO = 8;
export const TXS_CSUM_DONE = 9;
/** GSO frames cut short: some segments sent, then a send failed (their segments: TXS_SEGMENTS / TXS_SEGS_LOST). */
export const TXS_GSO_PARTIAL = 10;
/** Segments of those frames that were not sent. */
export const TXS_SEGS_LOST = 11;
export const TXS_COUNT = 12;

/** A VTEP's receive counters, after the transmit ones (native/src/vtep_layout.h): cumulative (never reset). */
export const VST_RX_GRO_DGRAMS = TXS_COUNT;
export const VST_RX_SUPERFRAMES = TXS_COUNT + 1;
export const VST_RX_TUNNEL_GSO = TXS_COUNT + 2;
export const VST_RX_NO_SLOT = TXS_COUNT + 3;
/** GRO messages dropped whole: the first inner frame claims the message, a datagram boundary holds a VXLAN header. */
export const VST_RX_AMBIGUOUS_GRO = TXS_COUNT + 4;
/** Not a counter: the slots the last receive burst used (more than its rows when datagrams were coalesced). */
export const VST_RX_SLOTS_USED = TXS_COUNT + 5;
export const VST_COUNT = TXS_COUNT + 6;

export interface PacketOpenResult {
  handle: number;
  fd: number;
  ifindex: number;
  /** The parent's MAC, a 48-bit number. */
  mac: number;
  mtu: number;
  /** Bytes of virtio-net header per frame: 12 (Linux >= 6.2), else 10. */
  vnetHdrLen: number;
  /** PACKET_IGNORE_OUTGOING took effect (else our own transmissions are skipped by type). */
  ignoreOutgoing: boolean;
}

/** An uplink's receive counters, after the transmit ones (native/src/af_packet.h): reset by every receive. */
export const PST_RX_ERRNO = TXS_COUNT;
export const PST_RX_TRUNCATED = TXS_COUNT + 1;
export const PST_RX_OUTGOING = TXS_COUNT + 2;
export const PST_RX_VLAN = TXS_COUNT + 3;
export const PST_COUNT = TXS_COUNT + 4;

let loaded: NativeAddon | undefined;

export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // src/native/ and dist/native/ are both two levels below the package root.
  const addon = require('../../build/Release/tsnet_native.node') as NativeAddon;
  const l = addon.layout;
  if (l.HEADROOM !== HEADROOM || l.SLOT_SIZE !== SLOT_SIZE || l.DESC_STRIDE !== DESC_STRIDE || l.VNET_HDR_LEN !== VNET_HDR_LEN || l.TX_STATUS_COUNT !== TXS_COUNT || l.PACKET_STATUS_COUNT !== PST_COUNT) {
    throw new Error(`native addon frame layout ${JSON.stringify(l)} does not match src/dataplane/layout.ts: rebuild with npm run build:native`);
  }
  loaded = addon;
  return addon;
}
