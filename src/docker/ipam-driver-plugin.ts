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
 */
import { checkNoOverlap, NetworkIpam } from '../control/ipam.js';
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

  private networkOf(subnet: string): NetworkRecord | null {
    return this.daemon.findNetwork((_r, ipam) => ipam?.subnet === subnet);
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
        return {};
      }
      default:
        return undefined;
    }
  }

  private requestPool(body: Body): unknown {
    if (body.V6 === true) throw new TsnError('ERR_BAD_OPTION', "an IPv6 pool was asked for: tsnet's IPAM driver is IPv4-only for now; for a dual-stack tsnet network use Docker's default IPAM (no --ipam-driver) with --ipv6 --subnet V6");
    const pool = typeof body.Pool === 'string' ? body.Pool : '';
    const sub = typeof body.SubPool === 'string' && body.SubPool !== '' ? body.SubPool : null;
    if (pool.includes(':')) throw new TsnError('ERR_BAD_OPTION', `IPv6 pool ${pool}: tsnet IPAM is IPv4-only for now`);
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
    else if (!this.networkOf(subnet)) this.pools.pending.set(subnet, { subnet, ipRange, refs: 1, gateway: null });
    return { PoolID: poolId(subnet, ipRange), Pool: subnet, Data: {} };
  }

  private async requestAddress(body: Body): Promise<unknown> {
    const { subnet } = parsePoolId(String(body.PoolID ?? ''));
    const want = typeof body.Address === 'string' && body.Address !== '' ? body.Address : undefined;
    const options = (body.Options ?? {}) as Record<string, string>;
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
    return { Address: `${got.ip}/${got.prefixLen}`, Data: {} };
  }
}
