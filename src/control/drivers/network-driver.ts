/**
 * A network driver turns model records into data-plane pieces: L2 domains, ports, kernel devices.
 * Drivers never persist anything; the daemon does, after a driver call succeeds. Every driver call
 * either completes or leaves nothing behind (it undoes its own partial work before throwing).
 * `adopt` means "re-attach after a daemon restart": reuse persistent devices rather than make new ones.
 */
import type { L2Domain } from '../../dataplane/l2-domain.js';
import type { Port } from '../../dataplane/port.js';
import type { SwitchEngine } from '../../dataplane/switch-engine.js';
import type { NetworkIpam } from '../ipam.js';
import type { NetworkIpam6 } from '../ipam6.js';
import type { DriverName, EndpointRecord, NetworkRecord, OverlayRecord } from '../model.js';
import type { CreateNetworkRequest, DriverOptionKeys, ParsedNetworkOptions } from '../network-options.js';

export interface NetworkRuntime {
  record: NetworkRecord;
  ipam: NetworkIpam | null;
  /** A dual-stack network's IPv6 pool (ipam6.ts); absent or null without IPv6. */
  ipam6?: NetworkIpam6 | null;
  domain: L2Domain | null;
  gatewayPort: Port | null;
  endpoints: Map<string, EndpointRuntime>;
}

export interface EndpointRuntime {
  record: EndpointRecord;
  port: Port | null;
}

export interface DriverContext {
  engine: SwitchEngine;
  /** The namespace the daemon treats as "the host" (null: the daemon's own). */
  hostNetns: string | null;
  log(msg: string): void;
  /** The daemon's state dir, the owner in the marker on every device it makes (device-marker.ts). */
  owner?: string;
  /** The daemon's state dir (the encrypted overlay keeps this host's WireGuard key there). */
  stateDir?: string;
}

/** What a driver's `plan` sees of the daemon: nothing it could change. */
export interface NetworkPlanContext {
  /** The new network's id (default device names come from it). */
  id: string;
  /** The other networks (names, subnets, devices and parents in use). */
  others: readonly NetworkRuntime[];
  hostNetns: string | null;
  /** IPAM from --subnet (refused if it overlaps another network's), else the first free default pool. */
  poolIpam(req: CreateNetworkRequest): NetworkIpam;
}

/** A checked `network create`: what the record gets besides the (completed) options. */
export interface NetworkPlan {
  ipam: NetworkIpam | null;
  gateway: NetworkRecord['gateway'];
  overlay?: OverlayRecord;
  /**
   * The subnet is the host's to route (its gateway is a device in the host namespace): the daemon
   * refuses one that a host device holds or routes already, unless --force. Not for a parent's LAN
   * (macvlan, ipvlan) or an overlay, whose subnets are elsewhere by design.
   */
  hostRoutedSubnet?: boolean;
}

/**
 * One driver: a file. The daemon calls these hooks and never asks which driver it has; its `-o` keys
 * (optionKeys, ownOptionKeys: DriverOptionKeys in network-options.ts) are parsed there.
 */
export interface NetworkDriver extends DriverOptionKeys {
  readonly name: DriverName;
  /**
   * Check a `network create` of this driver before anything is made: its options (completing
   * `parsed.options` with its defaults), its IPAM and its gateway. Throws a TsnError to refuse it.
   */
  plan(req: CreateNetworkRequest, parsed: ParsedNetworkOptions, ctx: NetworkPlanContext): NetworkPlan;
  /** The driver gives endpoints IPv6 addresses on a dual-stack network (`--ipv6`; dual-stack.ts). */
  readonly ipv6?: boolean;
  createNetwork(net: NetworkRuntime, adopt: boolean): void;
  deleteNetwork(net: NetworkRuntime): void;
  connect(net: NetworkRuntime, ep: EndpointRecord, adopt: boolean): Port | null;
  disconnect(net: NetworkRuntime, ep: EndpointRuntime): void;
  /**
   * The MAC of a new endpoint (`requested`: --mac, or null), when the driver has its own rule (ipvlan:
   * every endpoint has the parent's; macvlan passthru: the parent's by default). `shared`: endpoints
   * of the network may have the same MAC. Throws a TsnError to refuse the connect before anything is
   * made. Without this hook the daemon's default applies (02:42 + the IPv4 address, unique).
   */
  endpointMac?(net: NetworkRuntime, requested: string | null, ip: string | null): { mac: string; shared: boolean };
  /** bridge: make host interface `iface` a port of the network (`network uplink add`), recorded in its options. */
  addUplink?(net: NetworkRuntime, iface: string, others: readonly NetworkRuntime[]): void;
  /** bridge: `network uplink rm`; the record's options say so after. */
  removeUplink?(net: NetworkRuntime, iface: string): void;
  /** Driver-specific state for `network inspect` (merged into its top level). */
  inspect?(net: NetworkRuntime): Record<string, unknown>;
  /** The driver's own sections of `stats`, across its networks (the overlay's VTEP sockets: `vteps`). */
  stats?(): Record<string, unknown>;
}
