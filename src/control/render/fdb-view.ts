/**
 * `fdb show [NETWORK]`: one row per FDB entry, in the columns of `bridge fdb show` / OVS `fdb/show`:
 * MAC, the port (by owner name), static or learned, age, and the remote VTEP for overlay entries.
 */
import { formatMac } from '../../packet/mac.js';
import { vtepTextOf } from '../../dataplane/overlay/underlay.js';
import type { VxlanPort } from '../../dataplane/ports/vxlan-port.js';
import type { NetworkRuntime } from '../drivers/network-driver.js';
import type { PortOwner } from './port-owners.js';

export function fdbRows(nets: readonly NetworkRuntime[], owners: Map<number, PortOwner>, now: number) {
  return nets.flatMap((rt) =>
    (rt.domain?.fdb.list() ?? []).map((e) => ({
      network: rt.record.name,
      mac: formatMac(e.mac),
      port: owners.get(e.port.id)?.name ?? e.port.name,
      endpoint: owners.get(e.port.id)?.endpoint ?? null,
      type: e.isStatic ? 'static' : 'learned',
      ageSeconds: e.isStatic ? null : Math.max(0, Math.round(now - e.updated)),
      // The remote VTEP of a MAC behind an overlay's VXLAN port (uint32: IPv4, or the IPv6 underlay's number); 0 for a local one.
      vtep: e.remote && e.port.kind === 'vxlan' ? vtepTextOf((e.port as VxlanPort).vtep.underlay, e.remote) : null,
    })),
  );
}
