/**
 * ParentNetworks: the data-plane state of the networks that live on a parent interface — Docker's
 * `macvlan` and `ipvlan` drivers, in user space — for the two demux stages (stages/macvlan-demux.ts,
 * stages/ipvlan-demux.ts).
 *
 * A ParentNetwork is one L2 domain whose ports play three roles:
 *   uplink   the parent (a PacketPort on AF_PACKET; a MemoryPort in the emulator),
 *   child    a container's TAP,
 *   shim     the host's own port (`-o host_shim=IP`): switched like a child, but local to every mode's
 *            sibling rules, so the host reaches its containers (the kernel drivers' known pain).
 * macvlan members are found by MAC (each has its own), ipvlan members by IPv4 address (they all share
 * the parent's MAC).
 *
 * The stages find a frame's network by its ingress port id: one array load per frame, `undefined` for
 * every port of another driver, so bridge and overlay traffic pays one check. A port id may be reused
 * after a port leaves, so the stages also check that the port is in the network's domain.
 */
import type { L2Domain } from './l2-domain.js';
import type { Port } from './port.js';
import { MAX_PORTS } from './readiness-hub.js';

export type ParentNetworkKind = 'macvlan' | 'ipvlan';
/** macvlan modes, as the kernel's (ip link add ... type macvlan mode M); ipvlan L2 behaves as `bridge`. */
export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';
export const MACVLAN_MODES: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru'];

export class ParentNetwork {
  uplink: Port | null = null;
  shim: Port | null = null;
  /** The shim's IPv4 address (uint32), 0 without a shim. */
  shimIp = 0;
  /** Containers' ports, in join order. */
  children: Port[] = [];
  /** Member (child or shim) by MAC: macvlan demux. */
  readonly byMac = new Map<number, Port>();
  /** Member (child or shim) by IPv4 address (uint32): ipvlan demux and ARP answers. */
  readonly byIp = new Map<number, Port>();
  /** Member by IPv6 address, keyed by its last 48 bits (the whole 16 bytes checked on a hit): ipvlan demux. */
  readonly byIp6 = new Map<number, { port: Port; addr: Uint8Array }>();
  /** Times the uplink's memberships and filter could not be brought up to date after a member left (or failed to join). */
  uplinkSyncFailures = 0;

  constructor(
    readonly kind: ParentNetworkKind,
    readonly mode: MacvlanMode,
    readonly domain: L2Domain,
    /** The parent's MAC (48-bit): what ipvlan members share and ARP answers carry. */
    public parentMac: number,
  ) {}

  /** The member holding the IPv6 address at bytes[at..at+16), if any (hot path: no allocation). */
  memberByIpv6(bytes: Uint8Array, at: number): Port | undefined {
    const e = this.byIp6.get(ipv6Key(bytes, at));
    if (e === undefined) return undefined;
    for (let i = 0; i < 16; i++) if (bytes[at + i] !== e.addr[i]) return undefined;
    return e.port;
  }

  /** passthru: the one child that owns the parent, if connected. */
  get passthruChild(): Port | undefined {
    return this.children[0];
  }

  /** Every member MAC the parent must deliver to us (for memberships and the socket filter). */
  memberMacs(): number[] {
    if (this.kind === 'ipvlan') return [this.parentMac];
    return [...this.byMac.keys()];
  }
}

/** The last 48 bits of the IPv6 address at bytes[at]: exact in a double. */
export function ipv6Key(bytes: Uint8Array, at: number): number {
  return ((bytes[at + 10] << 8) | bytes[at + 11]) * 2 ** 32 + (((bytes[at + 12] << 24) | (bytes[at + 13] << 16) | (bytes[at + 14] << 8) | bytes[at + 15]) >>> 0);
}

export interface MemberOptions {
  /** 48-bit MAC: macvlan demux key. */
  mac?: number;
  /** IPv4 (uint32): ipvlan demux key. */
  ip?: number;
  /** IPv6 (16 bytes): ipvlan demux key on a dual-stack network. */
  ip6?: Uint8Array;
  shim?: boolean;
}

export class ParentNetworks {
  private readonly byPort: (ParentNetwork | undefined)[] = new Array(MAX_PORTS);
  private readonly nets = new Set<ParentNetwork>();

  get size(): number {
    return this.nets.size;
  }

  /** The network whose port `portId` is (hot path). */
  of(portId: number): ParentNetwork | undefined {
    return this.byPort[portId];
  }

  add(net: ParentNetwork): void {
    this.nets.add(net);
  }

  /** Forget the network and every port of it. */
  remove(net: ParentNetwork): void {
    for (let i = 0; i < this.byPort.length; i++) if (this.byPort[i] === net) this.byPort[i] = undefined;
    this.nets.delete(net);
  }

  /** The port must be attached to the engine (it has an id). */
  setUplink(net: ParentNetwork, port: Port): void {
    if (port.id < 0) throw new Error(`uplink ${port.name} is not attached to the switch`);
    net.uplink = port;
    this.byPort[port.id] = net;
  }

  addMember(net: ParentNetwork, port: Port, opts: MemberOptions): void {
    if (port.id < 0) throw new Error(`port ${port.name} is not attached to the switch`);
    if (opts.mac !== undefined) net.byMac.set(opts.mac, port);
    if (opts.ip !== undefined) net.byIp.set(opts.ip, port);
    if (opts.ip6 !== undefined) net.byIp6.set(ipv6Key(opts.ip6, 0), { port, addr: opts.ip6 });
    if (opts.shim) {
      net.shim = port;
      net.shimIp = opts.ip ?? 0;
    } else {
      net.children = [...net.children, port];
    }
    this.byPort[port.id] = net;
  }

  removeMember(net: ParentNetwork, port: Port): void {
    for (const [k, p] of net.byMac) if (p === port) net.byMac.delete(k);
    for (const [k, p] of net.byIp) if (p === port) net.byIp.delete(k);
    for (const [k, e] of net.byIp6) if (e.port === port) net.byIp6.delete(k);
    if (net.shim === port) {
      net.shim = null;
      net.shimIp = 0;
    }
    net.children = net.children.filter((p) => p !== port);
    if (port.id >= 0 && this.byPort[port.id] === net) this.byPort[port.id] = undefined;
  }
}
