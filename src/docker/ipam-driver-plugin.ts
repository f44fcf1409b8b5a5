/**
 * libnetwork's remote IPAM protocol (moby libnetwork docs/ipam.md) on our IPAM: Docker's `--subnet`,
 * `--ip-range`, `--gateway`, `--aux-address` and `docker run --ip` land in the tsnet network's
 * NetworkIpam, so `docker network inspect` and `tsnet-switch network inspect` agree, and Docker's
 * default pools (172.17.0.0/16…, or the daemon's --default-address-pool) are walked as Docker walks them.
 *
 * Order of calls for `docker network create --ipam-driver tsnet`: RequestPool, RequestAddress (gateway,
 * with RequestAddressType com.docker.network.gateway), RequestAddress per aux address, then
 * NetworkDriver.CreateNetwork (network-driver-plugin.ts), which turns the pending pool into the
 * network's IPAM. Endpoint addresses: RequestAddress before CreateEndpoint, ReleaseAddress after
 * DeleteEndpoint (which has released it already: releasing twice is harmless).
 *
 * `--ipv6`: libnetwork does the same again for the IPv6 pool (RequestPool with V6, its gateway and aux
 * addresses, then per endpoint a RequestAddress on the IPv6 pool after the IPv4 one): the pool becomes
 * the network's NetworkIpam6 (control/ipam6.ts), `docker run --ip6` a static address in it. There is
 * no default IPv6 pool: a V6 request without a subnet is refused, naming the --subnet to add.
 */
import { checkNoOverlap, NetworkIpam } from '../control/ipam.js';
import { checkNoOverlap6, isIpv6Text, NetworkIpam6, parseCidr6 } from '../control/ipam6.js';
import { parseCidr } from '../control/cidr.js';
import type { Daemon } from '../control/daemon.js';
import { TsnError } from '../errors.js';
import type { NetworkRecord } from '../control/model.js';
import { parsePoolId, poolId, type DockerPools } from './docker-pools.js';
import type { NetworkRequests } from '../control/network-requests.js';

type Body = Record<string, unknown>;
const GATEWAY_REQUEST = 'com.docker.network.gateway';

export class IpamDriverPlugin {
  constructor(
    private readonly daemon: Daemon,
    private readonly pools: DockerPools,
    private readonly requests: NetworkRequests,
  ) {}

  /**
   * The IPv4 address libnetwork reserved last for an endpoint of a dual-stack network (by network id),
   * until its IPv6 request: libnetwork does not give the IPv4 address back when the IPv6 request fails
   * (endpoint.go assignAddress), so we do. Two endpoints asking at once may swap which one is
   * returned; the other's CreateEndpoint then takes its address anew (connect allocates it again).
   */
  private readonly lastV4 = new Map<string, string>();

  private networkOf(subnet: string): NetworkRecord | null {
    return this.daemon.findNetwork((_r, ipam, ipam6) => ipam?.subnet === subnet || ipam6?.subnet === subnet);
  }

  async handle(method: string, body: Body): Promise<unknown> {
    switch (method) {
      case 'GetCapabilities':
        return { RequiresMACAddress: false, RequiresRequestReplay: false };
      case 'GetDefaultAddressSpaces':
        return { LocalDefaultAddressSpace: 'tsnet-local', GlobalDefaultAddressSpace: 'tsnet-global' };
      case 'RequestPool':
        return this.requestPool(body);
      case 'ReleasePool': {
        const { subnet } = parsePoolId(String(body.PoolID ?? ''));
        const p = this.pools.pending.get(subnet);
        if (p && --p.refs <= 0) this.pools.pending.delete(subnet);
        return {};
      }
      case 'RequestAddress':
        return this.requestAddress(body);
      case 'ReleaseAddress': {
        const { subnet } = parsePoolId(String(body.PoolID ?? ''));
        const ip = String(body.Address ?? '').split('/')[0];
        const net = this.networkOf(subnet);
        if (net && ip) await this.requests.releaseAddress(net.name, ip);
        const p = this.pools.pending.get(subnet);
        if (p && p.gateway === ip) p.gateway = null;
        if (net && this.lastV4.get(net.id) === ip) this.lastV4.delete(net.id);
        return {};
      }
      default:
        return undefined;
    }
  }

  private requestPool(body: Body): unknown {
    const pool = typeof body.Pool === 'string' ? body.Pool : '';
    const sub = typeof body.SubPool === 'string' && body.SubPool !== '' ? body.SubPool : null;
    if (body.V6 === true || isIpv6Text(pool)) return this.requestPool6(pool, sub);
    if (!pool && sub) throw new TsnError('ERR_BAD_OPTION', `--ip-range ${sub} without --subnet: give the subnet it lies in`);
    let subnet: string;
    if (pool) {
      subnet = parseCidr(pool, { what: 'subnet' }).text;
      const existing = this.networkOf(subnet);
      const pending = this.pools.pending.get(subnet);
      // An overlay no Docker network has yet may be the one this Docker network joins (a cluster
      // network another host made): CreateNetwork decides, with the name.
      const joinable = existing?.driver === 'overlay' && !existing.docker;
      if (!(existing?.docker || pending || joinable)) {
        const taken = [
          ...this.daemon.networkRuntimes().filter((n) => n.ipam).map((n) => ({ name: n.record.name, subnet: n.ipam!.subnet })),
          ...this.pools.subnets().map((s) => ({ name: `(a network being created by Docker)`, subnet: s })),
        ];
        checkNoOverlap(subnet, taken);
      }
    } else {
      subnet = this.daemon.chooseSubnet(this.pools.subnets());
    }
    // Check the pool as the network will have it (subnet size, ip-range inside it) before keeping it.
    const ipRange = sub ? new NetworkIpam({ subnet, ipRange: sub }).ipRange : null;
    if (!sub) new NetworkIpam({ subnet });
    const p = this.pools.pending.get(subnet);
    if (p) p.refs++;
    else if (!this.networkOf(subnet)) this.pools.pending.set(subnet, { subnet, ipRange, refs: 1, gateway: null, v6: false });
    return { PoolID: poolId(subnet, ipRange), Pool: subnet, Data: {} };
  }

  /** The IPv6 pool of a `--ipv6` network: its IPv6 --subnet (and --ip-range), checked as NetworkIpam6 will. */
  private requestPool6(pool: string, sub: string | null): unknown {
    // Docker asks for its default IPv6 pool when --ipv6 comes without an IPv6 --subnet; we have none
    // (nor has Docker 20.10's own IPAM unless default pools are configured).
    if (!pool) throw new TsnError('ERR_BAD_OPTION', `--ipv6 without an IPv6 --subnet${sub ? ` (--ip-range ${sub})` : ''}: tsnet's IPAM driver has no default IPv6 pool; add one besides the IPv4 --subnet, e.g. --subnet fd00:1::/64`);
    const subnet = parseCidr6(pool, 'IPv6 subnet').text;
    const ipRange = new NetworkIpam6({ subnet, ipRange: sub ?? undefined }).ipRange; // size, kind of prefix, ip-range inside it
    const existing = this.networkOf(subnet);
    const pending = this.pools.pending.get(subnet);
    if (!(existing?.docker || pending)) {
      const taken = [
        ...this.daemon.networkRuntimes().filter((n) => n.ipam6).map((n) => ({ name: n.record.name, subnet: n.ipam6!.subnet })),
        ...this.pools.subnets6().map((s) => ({ name: `(a network being created by Docker)`, subnet: s })),
      ];
      checkNoOverlap6(subnet, taken);
    }
    if (pending) pending.refs++;
    else if (!existing) this.pools.pending.set(subnet, { subnet, ipRange, refs: 1, gateway: null, v6: true });
    return { PoolID: poolId(subnet, ipRange), Pool: subnet, Data: {} };
  }

  private async requestAddress(body: Body): Promise<unknown> {
    const { subnet } = parsePoolId(String(body.PoolID ?? ''));
    const want = typeof body.Address === 'string' && body.Address !== '' ? body.Address : undefined;
    const options = (body.Options ?? {}) as Record<string, string>;
    if (isIpv6Text(subnet)) return this.requestAddress6(subnet, want, options);
    const prefixLen = parseCidr(subnet).prefixLen;
    const net = this.networkOf(subnet);
    const pending = this.pools.pending.get(subnet);
    if (options.RequestAddressType === GATEWAY_REQUEST) {
      if (net) return { Address: `${(net.ipam as { gateway: string }).gateway}/${prefixLen}`, Data: {} };
      // Checked as the network will check it: inside the subnet, not its network or broadcast address.
      const ipam = new NetworkIpam({ subnet, gateway: want, ipRange: pending?.ipRange ?? undefined });
      if (pending) pending.gateway = ipam.gateway;
      return { Address: `${ipam.gateway}/${prefixLen}`, Data: {} };
    }
    if (!net) {
      // An aux address, before the network exists: CreateNetwork's AuxAddresses reserve it.
      if (!want) throw new TsnError('ERR_BAD_OPTION', `pool ${subnet} has no network yet: only the gateway and aux addresses can be requested`);
      const ipam = new NetworkIpam({ subnet });
      ipam.allocate(want); // checks it lies in the subnet
      return { Address: `${want}/${prefixLen}`, Data: {} };
    }
    const got = await this.requests.reserveAddress(net.name, want);
    if (net.ipam6) this.lastV4.set(net.id, got.ip);
    return { Address: `${got.ip}/${got.prefixLen}`, Data: {} };
  }

  /** RequestAddress on an IPv6 pool: its gateway, an aux address, or an endpoint's (`--ip6`, or the next free). */
  private async requestAddress6(subnet: string, want: string | undefined, options: Record<string, string>): Promise<unknown> {
    const prefixLen = parseCidr6(subnet).prefixLen;
    const net = this.networkOf(subnet);
    const pending = this.pools.pending.get(subnet);
    if (options.RequestAddressType === GATEWAY_REQUEST) {
      if (net) return { Address: `${(net.ipam6 as { gateway: string }).gateway}/${prefixLen}`, Data: {} };
      // Checked as the network will check it: inside the subnet, not its subnet-router anycast address.
      const ipam = new NetworkIpam6({ subnet, gateway: want, ipRange: pending?.ipRange ?? undefined });
      if (pending) pending.gateway = ipam.gateway;
      return { Address: `${ipam.gateway}/${prefixLen}`, Data: {} };
    }
    if (!net) {
      if (!want) throw new TsnError('ERR_BAD_OPTION', `IPv6 pool ${subnet} has no network yet: only the gateway and aux addresses can be requested`);
      new NetworkIpam6({ subnet }).allocate(want); // checks it lies in the subnet; CreateNetwork's AuxAddresses reserve it
      return { Address: `${want}/${prefixLen}`, Data: {} };
    }
    const v4 = this.lastV4.get(net.id);
    this.lastV4.delete(net.id);
    try {
      const got = await this.requests.reserveAddress(net.name, want, 6);
      return { Address: `${got.ip}/${got.prefixLen}`, Data: {} };
    } catch (err) {
      if (v4) await this.requests.releaseAddress(net.name, v4).catch(() => undefined); // the error is the one to report
      throw err;
    }
  }
}
