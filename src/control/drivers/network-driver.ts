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
}
