/**
 * `network create` refuses a subnet that a device of the host already holds (an address in it) or
 * routes (a route into it), naming the device: two devices answering for one gateway address is the
 * day-one failure this prevents (an orphaned gateway TAP of a lost state, a VPN, a docker0). `--force`
 * skips the check. Read through rtnetlink in the daemon's host namespace; the default route and the
 * daemon's own networks (checked by checkNoOverlap) are not clashes.
 */
import { cidrOverlaps, makeCidr, parseCidr, parseIpv4 } from './cidr.js';
import { parseMarker } from './device-marker.js';
import { TsnError } from '../errors.js';
import { withRtnetlink } from './rtnetlink.js';

export interface HostSubnetUse {
  device: string;
  /** 'holds 10.91.0.1/24' or 'routes 10.91.0.0/16'. */
  how: string;
  /** The device's tsnet-switch marker owner, when it is one of a daemon's devices. */
  madeBy: string | null;
}

/** Devices of the host namespace that hold an address in `subnet` or route part of it. */
export function hostUsesOfSubnet(subnet: string, hostNetns: string | null): HostSubnetUse[] {
  const mine = parseCidr(subnet, { what: 'subnet', allowHostBits: true });
  return withRtnetlink(hostNetns ?? undefined, (nl) => {
    const links = new Map(nl.linkAliasList().map((l) => [l.index, l]));
    const named = (index: number | undefined) => (index !== undefined ? (links.get(index)?.name ?? `ifindex ${index}`) : 'a gateway');
    const madeBy = (index: number | undefined) => (index !== undefined ? (parseMarker(links.get(index)?.alias ?? '')?.owner ?? null) : null);
    const uses: HostSubnetUse[] = [];
    const seen = new Set<string>();
    for (const a of nl.addrList()) {
      if (!cidrOverlaps(mine, makeCidr(parseIpv4(a.address), a.prefixLen))) continue;
      uses.push({ device: named(a.index), how: `holds ${a.address}/${a.prefixLen}`, madeBy: madeBy(a.index) });
      seen.add(named(a.index));
    }
    for (const r of nl.routeList()) {
      if (r.prefixLen === 0 || !cidrOverlaps(mine, makeCidr(parseIpv4(r.dst), r.prefixLen))) continue;
      const dev = named(r.ifindex);
      if (seen.has(dev)) continue; // its address's own subnet route: said already
      uses.push({ device: dev, how: `routes ${r.dst}/${r.prefixLen}${r.gateway ? ` via ${r.gateway}` : ''}`, madeBy: madeBy(r.ifindex) });
      seen.add(dev);
    }
    return uses;
  });
}

/** Throws ERR_SUBNET_IN_USE naming the devices, unless none uses the subnet. */
export function checkHostSubnetFree(subnet: string, hostNetns: string | null): void {
  const uses = hostUsesOfSubnet(subnet, hostNetns);
  if (uses.length === 0) return;
  const list = uses.map((u) => `${u.device} ${u.how}${u.madeBy ? ` (a tsnet-switch device of state dir ${u.madeBy})` : ''}`).join('; ');
  throw new TsnError('ERR_SUBNET_IN_USE', `subnet ${subnet} is in use on this host: ${list}. Choose another --subnet (or omit it for a free one), remove that device, or pass --force to create the network anyway`);
}
