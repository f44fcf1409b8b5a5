/**
 * Putting a macvlan/ipvlan network together in a switch engine: its L2 domain, the uplink on the parent,
 * its members, and what the parent must deliver to us. The drivers (src/control/drivers/) and the
 * emulator tests build networks through these, so both run the same wiring.
 *
 * When the uplink is a real parent (PacketPort):
 *   macvlan bridge/private/vepa: one PACKET_MR_UNICAST membership per member MAC, ALLMULTI, and a socket
 *                                filter accepting member MACs and group addresses;
 *   macvlan passthru:            PROMISC and no filter (the one child owns every frame);
 *   ipvlan:                      the parent's own MAC needs no membership; ALLMULTI, and a filter
 *                                accepting the parent's MAC and group addresses.
 */
import type { L2Domain } from './l2-domain.js';
import { ParentNetwork, type MacvlanMode, type MemberOptions, type ParentNetworkKind } from './parent-networks.js';
import type { Port } from './port.js';
import { PacketPort } from './ports/packet-port.js';
import type { SwitchEngine } from './switch-engine.js';

export interface ParentNetworkSpec {
  kind: ParentNetworkKind;
  mode: MacvlanMode;
  /** The parent's MAC (48-bit). For a PacketPort uplink, its own. */
  parentMac: number;
}

/** A new domain `name` with `uplink` attached as the network's parent. */
export function createParentNetwork(engine: SwitchEngine, name: string, uplink: Port, spec: ParentNetworkSpec): ParentNetwork {
  const domain: L2Domain = engine.createDomain(name, { icc: true });
  const net = new ParentNetwork(spec.kind, spec.mode, domain, spec.parentMac);
  try {
    engine.addPort(uplink, domain);
    engine.parentNetworks.add(net);
    engine.parentNetworks.setUplink(net, uplink);
    if (uplink instanceof PacketPort) {
      if (spec.kind === 'macvlan' && spec.mode === 'passthru') {
        uplink.setPromisc(true);
        uplink.setFilter(null, true);
      } else {
        uplink.setFilter(net.memberMacs(), true);
      }
      uplink.setAllmulti(true);
    }
    return net;
  } catch (err) {
    engine.parentNetworks.remove(net);
    engine.removeDomain(domain);
    throw err;
  }
}

/**
 * Attach a member's port (a container's TAP, or the host shim) and ask the parent for its frames.
 * On failure nothing of the member is left: it is out of the network and the engine, and the port is
 * closed (a TAP that is not persistent yet goes with it); the error is rethrown.
 */
export function addParentMember(engine: SwitchEngine, net: ParentNetwork, port: Port, opts: MemberOptions): void {
  try {
    engine.addPort(port, net.domain);
  } catch (err) {
    port.close();
    throw err;
  }
  try {
    engine.parentNetworks.addMember(net, port, opts);
    syncUplink(net);
  } catch (err) {
    engine.parentNetworks.removeMember(net, port);
    engine.removePort(port);
    try {
      syncUplink(net);
    } catch {
      net.uplinkSyncFailures++; // the uplink keeps a membership too many: harmless, and the next change syncs it
    }
    throw err;
  }
}

/**
 * Detach a member's port (closing it) and stop asking the parent for its frames. Never throws: once the
 * port is closed the member is gone whatever the uplink says, so a failure to bring the uplink's
 * memberships and filter up to date is counted (`net.uplinkSyncFailures`) and returned for the caller
 * to log; the uplink then asks for a MAC too many (harmless) until the next change syncs it.
 */
export function removeParentMember(engine: SwitchEngine, net: ParentNetwork, port: Port): Error | null {
  engine.parentNetworks.removeMember(net, port);
  engine.removePort(port);
  try {
    syncUplink(net);
    return null;
  } catch (err) {
    net.uplinkSyncFailures++;
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Remove the whole network: members, uplink (its socket closes), domain. */
export function removeParentNetwork(engine: SwitchEngine, net: ParentNetwork): void {
  engine.parentNetworks.remove(net);
  engine.removeDomain(net.domain);
}

/** Make the uplink's memberships and filter match the network's members. */
function syncUplink(net: ParentNetwork): void {
  const uplink = net.uplink;
  if (!(uplink instanceof PacketPort) || (net.kind === 'macvlan' && net.mode === 'passthru')) return;
  const macs = net.memberMacs();
  if (net.kind === 'macvlan') {
    const want = new Set(macs);
    for (const m of uplink.unicastMacSet()) if (!want.has(m)) uplink.removeUnicast(m);
    for (const m of macs) uplink.addUnicast(m);
  }
  uplink.setFilter(macs, true);
}
