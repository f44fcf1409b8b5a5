/**
 * Pools Docker asked our IPAM driver for (IpamDriver.RequestPool) that have no network yet: libnetwork
 * requests the pool, then the gateway and aux addresses, and only then calls NetworkDriver.CreateNetwork.
 * Once the network exists its NetworkIpam holds the pool; a pending pool only carries what
 * CreateNetwork needs (the ip-range, which IPv4Data does not repeat) and keeps two concurrent
 * `docker network create` from getting the same default subnet.
 *
 * A pool's id is its subnet (and ip-range): the same request gives the same id (as the protocol asks),
 * and the id still means the same pool after a daemon restart. An IPv6 pool (RequestPool with V6, the
 * IPv6 --subnet of a `--ipv6` network) is kept the same way, by its canonical subnet; it becomes the
 * network's NetworkIpam6.
 */
import { TsnError } from '../errors.js';
import { isIpv6Text, parseCidr6 } from '../control/ipam6.js';

export interface PendingPool {
  subnet: string;
  ipRange: string | null;
  /** RequestPool calls not yet released (the protocol asks for a reference count). */
  refs: number;
  gateway: string | null;
  /** An IPv6 pool: never one of the default IPv4 subnets' walk. */
  v6: boolean;
}

const POOL_PREFIX = 'tsnet:';

export function poolId(subnet: string, ipRange: string | null): string {
  return `${POOL_PREFIX}${subnet}${ipRange ? `@${ipRange}` : ''}`;
}

export function parsePoolId(id: string): { subnet: string; ipRange: string | null } {
  const m = /^tsnet:([^@]+)(?:@(.+))?$/.exec(id);
  if (!m) throw new TsnError('ERR_BAD_OPTION', `pool id ${JSON.stringify(id)} is not one of ours: expected tsnet:SUBNET[@IP-RANGE] (from IpamDriver.RequestPool)`);
  return { subnet: m[1], ipRange: m[2] ?? null };
}

export class DockerPools {
  readonly pending = new Map<string, PendingPool>(); // by subnet

  /** The pending pool of `subnet` as Docker writes it (an IPv6 prefix compared canonically). */
  of(subnet: string): PendingPool | undefined {
    const p = this.pending.get(subnet);
    if (p || !isIpv6Text(subnet)) return p;
    try {
      return this.pending.get(parseCidr6(subnet).text);
    } catch {
      return undefined;
    }
  }

  /** IPv4 subnets held by pools without a network, for the default-subnet walk and overlap checks. */
  subnets(): string[] {
    return [...this.pending.values()].filter((p) => !p.v6).map((p) => p.subnet);
  }

  /** IPv6 subnets held by pools without a network, for overlap checks. */
  subnets6(): string[] {
    return [...this.pending.values()].filter((p) => p.v6).map((p) => p.subnet);
  }
}
