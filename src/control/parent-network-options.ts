/**
 * The options of networks on a parent interface (drivers macvlan and ipvlan), checked at
 * `network create` before anything is made:
 *
 *   -o parent=IFACE        required; must exist in the daemon's host namespace (ERR_NO_SUCH_PARENT) and
 *                          carry no other tsnet network (ERR_PARENT_IN_USE)
 *   -o mode=M              macvlan: bridge (default) | private | vepa | passthru; ipvlan: l2 (default).
 *                          Docker's spellings macvlan_mode / ipvlan_mode are accepted too.
 *   -o host_shim=IP        the host's own port on the network, so the host reaches its containers: an
 *                          address of the subnet, reserved in IPAM (aux address `host_shim`); not with
 *                          passthru (one child owns the parent)
 *   -o host_shim.name=IF   the shim's interface name (default tsm- + the network id)
 *   --subnet               required: the LAN's subnet; --gateway is the LAN's router (the containers'
 *                          default route unless internal=true)
 *   --mtu                  default: the parent's MTU; more than the parent's is refused
 *   port_security=ip       macvlan: also check the IPv4 source; ipvlan checks it always (demux by address)
 *   icc, bridge.name       bridge options: refused here (sibling rules come from the mode)
 */
import { TsnError } from '../errors.js';
import { checkNoOverlap, NetworkIpam } from './ipam.js';
import type { NetworkOptions } from './model.js';
import { checkIfname, type CreateNetworkRequest, type ParsedNetworkOptions } from './network-options.js';
import { Rtnetlink } from './rtnetlink.js';
import { MACVLAN_MODES } from '../dataplane/parent-networks.js';

export const IPVLAN_MODES = ['l2'] as const;

/** The `-o` keys of macvlan/ipvlan networks and the NetworkOptions field each one sets (network-options.ts). */
export const PARENT_OPTION_KEYS: Readonly<Record<string, keyof NetworkOptions>> = {
  parent: 'parent',
  mode: 'mode',
  macvlan_mode: 'mode',
  ipvlan_mode: 'mode',
  host_shim: 'hostShim',
  'host_shim.name': 'hostShimName',
};

/**
 * The host interfaces a network holds as ports: a macvlan/ipvlan parent, a bridge's uplinks (or the one
 * `parent` of a bridge record made before there could be several).
 */
export function hostInterfacesOf(options: NetworkOptions): string[] {
  return options.uplinks ?? (options.parent !== undefined ? [options.parent] : []);
}

export interface ParentPlanContext {
  /** The new network's id (the shim's default name comes from it). */
  id: string;
  /** The other networks: subnet overlaps and parents in use. */
  others: readonly { name: string; subnet: string | null; interfaces: readonly string[]; shimName: string | null }[];
  hostNetns: string | null;
}

/** Check and complete the options of a macvlan/ipvlan network and return its IPAM. Nothing is made. */
export function planParentNetwork(driver: 'macvlan' | 'ipvlan', req: CreateNetworkRequest, { options, given }: ParsedNetworkOptions, ctx: ParentPlanContext): NetworkIpam {
  if (options.parent === undefined) {
    throw new TsnError('ERR_BAD_OPTION', `the ${driver} driver needs -o parent=IFACE: the interface whose LAN the containers join (e.g. -o parent=eth0)`);
  }
  const parent = checkIfname(options.parent, '-o parent');
  const mode = options.mode ?? (driver === 'macvlan' ? 'bridge' : 'l2');
  if (driver === 'macvlan' && !(MACVLAN_MODES as readonly string[]).includes(mode)) {
    throw new TsnError('ERR_BAD_OPTION', `-o mode=${mode}: expected one of ${MACVLAN_MODES.join(', ')} for macvlan`);
  }
  if (driver === 'ipvlan' && !(IPVLAN_MODES as readonly string[]).includes(mode)) {
    throw new TsnError('ERR_BAD_OPTION', `-o mode=${mode}: the ipvlan driver implements l2 only (l3 and l3s are not implemented)`);
  }
  options.mode = mode;
  if (given.has('icc')) {
    throw new TsnError('ERR_BAD_OPTION', `-o icc is a bridge option: ${driver} sibling rules come from -o mode (private: no container-to-container traffic)`);
  }
  if (options.bridgeName !== null) {
    throw new TsnError('ERR_BAD_OPTION', `-o bridge.name is a bridge option; the ${driver} driver has no gateway port (the shim's name is -o host_shim.name=IFACE)`);
  }
  if (req.subnet === undefined) {
    throw new TsnError('ERR_BAD_OPTION', `the ${driver} driver needs --subnet: the subnet of the LAN behind ${parent} (and --gateway, its router, unless that is the first host)`);
  }
  for (const o of ctx.others) {
    if (o.interfaces.includes(parent)) throw new TsnError('ERR_PARENT_IN_USE', `parent ${parent} carries network ${o.name} already: one network per host interface (a macvlan/ipvlan parent or a bridge uplink)`);
  }
  checkNoOverlap(req.subnet, ctx.others.filter((o) => o.subnet !== null).map((o) => ({ name: o.name, subnet: o.subnet! })));

  const link = parentLink(parent, ctx.hostNetns);
  if (!given.has('mtu')) options.mtu = link.mtu;
  else if (options.mtu > link.mtu) {
    throw new TsnError('ERR_BAD_OPTION', `MTU ${options.mtu} is more than parent ${parent}'s ${link.mtu}: give --mtu ${link.mtu} or less (or none: the parent's)`);
  }

  const aux = { ...(req.auxAddresses ?? {}) };
  if (options.hostShim !== undefined) {
    if (mode === 'passthru') {
      throw new TsnError('ERR_BAD_OPTION', `-o host_shim does not go with mode passthru: the one container owns the parent (use mode bridge for a host shim)`);
    }
    if ('host_shim' in aux) throw new TsnError('ERR_BAD_OPTION', `--aux-address host_shim=... is taken by -o host_shim: give the aux address another name`);
    aux.host_shim = options.hostShim;
    options.hostShimName = checkIfname(options.hostShimName ?? `tsm-${ctx.id.slice(0, 8)}`, '-o host_shim.name');
    for (const o of ctx.others) {
      if (o.shimName === options.hostShimName) throw new TsnError('ERR_IFNAME_IN_USE', `host shim name ${options.hostShimName} is used by network ${o.name}: choose another -o host_shim.name`);
    }
  } else if (options.hostShimName !== undefined) {
    throw new TsnError('ERR_BAD_OPTION', `-o host_shim.name=${options.hostShimName} without -o host_shim=IP`);
  }
  // The shim's address is an aux address: IPAM checks it is a host of the subnet and not the gateway.
  const ipam = new NetworkIpam({ subnet: req.subnet, gateway: req.gateway, ipRange: req.ipRange, auxAddresses: Object.keys(aux).length ? aux : undefined });
  if (options.hostShim !== undefined) options.hostShim = ipam.auxAddresses.host_shim;
  return ipam;
}

/** The parent's link in the host namespace; ERR_NO_SUCH_PARENT naming it when there is none. */
export function parentLink(parent: string, hostNetns: string | null): { index: number; mtu: number; mac: string; up: boolean; promiscuity: number } {
  const nl = Rtnetlink.open(hostNetns ?? undefined);
  try {
    const index = nl.linkIndex(parent);
    if (index === 0) {
      throw new TsnError('ERR_NO_SUCH_PARENT', `parent interface ${JSON.stringify(parent)} does not exist${hostNetns ? ` in ${hostNetns}` : ' in the host namespace'}: give -o parent= an existing interface (ip link show)`);
    }
    const info = nl.linkInfo(index);
    return { index, mtu: info.mtu, mac: info.mac, up: info.up, promiscuity: info.promiscuity ?? 0 };
  } finally {
    nl.close();
  }
}
