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
import type { DriverName, EndpointRecord, NetworkRecord } from '../model.js';

export interface NetworkRuntime {
  record: NetworkRecord;
  ipam: NetworkIpam | null;
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
}

export interface NetworkDriver {
  readonly name: DriverName;
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
  /** Driver-specific state for `network inspect` (merged into its top level). */
  inspect?(net: NetworkRuntime): Record<string, unknown>;
}
