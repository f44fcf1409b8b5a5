/**
 * Dual stack at `network create` (Docker's `--ipv6 --subnet 10.1.0.0/24 --subnet fd00:1::/64`): split a
 * request's IPv6 part off its IPv4 one and check it before anything is made. The IPv4 part goes to the
 * driver's plan as before; the IPv6 part becomes the network's NetworkIpam6 (ipam6.ts).
 *
 * Refused, each naming the value: IPv6 given without --ipv6; --ipv6 without an IPv6 subnet (there is
 * no default IPv6 pool: Docker 20.10 refuses that too); a driver that has no IPv6 yet; an IPv6 subnet
 * overlapping another network's.
 */
import { TsnError } from '../errors.js';
import { checkNoOverlap6, isIpv6Text, NetworkIpam6 } from './ipam6.js';
import type { CreateNetworkRequest } from './network-options.js';

export interface DualStackPlan {
  /** The request with only its IPv4 aux addresses: what the driver plans. */
  req: CreateNetworkRequest;
  ipam6: NetworkIpam6 | null;
}

export function planIpv6(
  req: CreateNetworkRequest,
  driver: { name: string; ipv6?: boolean },
  others: readonly { name: string; subnet6: string | null }[],
  /** The network has an uplink to a LAN (-o parent=): DefaultGatewayIPv6 may name that LAN's router. */
  lanUplink: boolean,
): DualStackPlan {
  const aux4: Record<string, string> = {};
  const aux6: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.auxAddresses ?? {})) {
    if (k === 'DefaultGatewayIPv6' || (typeof v === 'string' && isIpv6Text(v))) aux6[k] = v;
    else aux4[k] = v;
  }
  const given6 = [
    req.subnet6 !== undefined && `--subnet ${req.subnet6}`,
    req.gateway6 !== undefined && `--gateway ${req.gateway6}`,
    req.ipRange6 !== undefined && `--ip-range ${req.ipRange6}`,
    ...Object.entries(aux6).map(([k, v]) => `--aux-address ${k}=${v}`),
  ].filter((x): x is string => typeof x === 'string');
  const req4: CreateNetworkRequest = { ...req, auxAddresses: Object.keys(aux4).length ? aux4 : undefined };
  if (!req.ipv6) {
    if (given6.length) throw new TsnError('ERR_BAD_OPTION', `${given6[0]} is IPv6: add --ipv6 to make a dual-stack network`);
    return { req: req4, ipam6: null };
  }
  if (!driver.ipv6) throw new TsnError('ERR_BAD_OPTION', `--ipv6: the ${driver.name} driver has no IPv6 (dual stack is built for bridge, macvlan, ipvlan and overlay networks)`);
  if (req.subnet6 === undefined) throw new TsnError('ERR_BAD_OPTION', '--ipv6 needs an IPv6 --subnet (e.g. --subnet fd00:1::/64): there is no default IPv6 pool');
  const router = aux6.DefaultGatewayIPv6;
  if (router !== undefined && !lanUplink) throw new TsnError('ERR_BAD_OPTION', `--aux-address DefaultGatewayIPv6=${router} without -o parent=IFACE: that router is on a LAN the network has no uplink to`);
  const ipam6 = new NetworkIpam6({ subnet: req.subnet6, gateway: req.gateway6, ipRange: req.ipRange6, auxAddresses: aux6 });
  checkNoOverlap6(ipam6.subnet, others.filter((o) => o.subnet6 !== null).map((o) => ({ name: o.name, subnet: o.subnet6! })));
  return { req: req4, ipam6 };
}
