/**
 * Who is behind each switch port, in the names `fdb show`, `stats` and capture use: the gateway port
 * as `NAME (gateway)`, an endpoint's as `sandbox:ifname`.
 */
import type { NetworkRuntime } from '../drivers/network-driver.js';
import type { EndpointRecord } from '../model.js';
import { describeSandbox } from '../sandbox.js';

/** How fdb show, stats, capture, trace and annotations name an endpoint's port: `sandbox:ifname` (a runtime's container name for the sandbox when it gave one). */
export function endpointLabel(ep: EndpointRecord): string {
  return `${ep.label ?? describeSandbox(ep.sandbox)}:${ep.ifname}`;
}

export interface PortOwner {
  network: string;
  endpoint: string | null;
  name: string;
}

/** Port id -> its owner, over `networks`. */
export function portOwners(networks: Iterable<NetworkRuntime>): Map<number, PortOwner> {
  const m = new Map<number, PortOwner>();
  for (const rt of networks) {
    if (rt.gatewayPort) m.set(rt.gatewayPort.id, { network: rt.record.name, endpoint: null, name: `${rt.gatewayPort.name} (gateway)` });
    for (const e of rt.endpoints.values()) {
      if (e.port) m.set(e.port.id, { network: rt.record.name, endpoint: e.record.id, name: endpointLabel(e.record) });
    }
  }
  return m;
}
