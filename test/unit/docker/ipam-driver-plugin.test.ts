// libnetwork's remote IPAM calls for `docker network create --ipv6 --ipam-driver tsnet --subnet V4
// --subnet V6` and `docker run --ip6`, in the order libnetwork makes them, against a daemon stand-in
// whose networks hold real NetworkIpam/NetworkIpam6: the IPv6 pool becomes the network's IPv6 IPAM.
import { describe, expect, it } from 'vitest';
import { IpamDriverPlugin } from '../../../src/docker/ipam-driver-plugin.js';
import { NetworkDriverPlugin } from '../../../src/docker/network-driver-plugin.js';
import { DockerPools } from '../../../src/docker/docker-pools.js';
import { NetworkIpam } from '../../../src/control/ipam.js';
import { isIpv6Text, NetworkIpam6 } from '../../../src/control/ipam6.js';
import type { Daemon, CreateNetworkRequest } from '../../../src/control/daemon.js';
import type { NetworkRequests } from '../../../src/control/network-requests.js';

interface FakeNet {
  record: { id: string; name: string; docker?: { networkId: string } };
  ipam: NetworkIpam | null;
  ipam6: NetworkIpam6 | null;
}

function fakeHost() {
  const nets: FakeNet[] = [];
  const created: CreateNetworkRequest[] = [];
  const byName = (n: string) => nets.find((x) => x.record.name === n)!;
  const daemon = {
    findNetwork: (match: (r: FakeNet['record'], ipam: NetworkIpam | null, ipam6: NetworkIpam6 | null) => boolean) => {
      const n = nets.find((x) => match(x.record, x.ipam, x.ipam6));
      return n ? { ...n.record, ipam: n.ipam?.toJSON() ?? null, ...(n.ipam6 ? { ipam6: n.ipam6.toJSON() } : {}) } : null;
    },
    networkRuntimes: () => nets,
    chooseSubnet: () => '172.30.0.0/16',
  } as unknown as Daemon;
  const requests = {
    // As the daemon's createNetwork does with a dual-stack request (dual-stack.ts), minus the data plane.
    createNetwork: async (req: CreateNetworkRequest) => {
      created.push(req);
      const aux4 = Object.fromEntries(Object.entries(req.auxAddresses ?? {}).filter(([, v]) => !isIpv6Text(v)));
      const aux6 = Object.fromEntries(Object.entries(req.auxAddresses ?? {}).filter(([, v]) => isIpv6Text(v)));
      const n: FakeNet = {
        record: { id: `id-${nets.length}`, name: req.name, docker: req.docker },
        ipam: new NetworkIpam({ subnet: req.subnet!, gateway: req.gateway, ipRange: req.ipRange, auxAddresses: aux4 }),
        ipam6: req.ipv6 ? new NetworkIpam6({ subnet: req.subnet6!, gateway: req.gateway6, ipRange: req.ipRange6, auxAddresses: aux6 }) : null,
      };
      nets.push(n);
      return { ...n.record, ipam: n.ipam!.toJSON(), ...(n.ipam6 ? { ipam6: n.ipam6.toJSON() } : {}) };
    },
    reserveAddress: async (ref: string, ip?: string, family: 4 | 6 = 4) => {
      const n = byName(ref);
      if (family === 6) return { ip: n.ipam6!.allocate(ip), prefixLen: n.ipam6!.prefixLen };
      return { ip: n.ipam!.allocate(ip), prefixLen: n.ipam!.prefixLen };
    },
    releaseAddress: async (ref: string, ip: string) => {
      const n = byName(ref);
      if (isIpv6Text(ip)) n.ipam6?.release(ip);
      else n.ipam?.release(ip);
    },
  } as unknown as NetworkRequests;
  const pools = new DockerPools();
  const ipam = new IpamDriverPlugin(daemon, pools, requests);
  const driver = new NetworkDriverPlugin(daemon, pools, requests, null);
  return { nets, created, pools, ipam, driver, byName };
}

const GW = { RequestAddressType: 'com.docker.network.gateway' };
const NETWORK_ID = 'f'.repeat(64);

/** `docker network create --ipv6 --ipam-driver tsnet --subnet 10.61.0.0/24 --subnet fd00:61::/64 [--ip-range V6] ds`, call by call. */
async function createDualStack(h: ReturnType<typeof fakeHost>, opts: { subPool6?: string; gateway6?: string } = {}) {
  const p4 = (await h.ipam.handle('RequestPool', { AddressSpace: 'tsnet-local', Pool: '10.61.0.0/24', V6: false })) as { PoolID: string };
  const g4 = (await h.ipam.handle('RequestAddress', { PoolID: p4.PoolID, Options: GW })) as { Address: string };
  const p6 = (await h.ipam.handle('RequestPool', { AddressSpace: 'tsnet-local', Pool: 'fd00:61::/64', SubPool: opts.subPool6 ?? '', V6: true })) as { PoolID: string; Pool: string };
  const g6 = (await h.ipam.handle('RequestAddress', { PoolID: p6.PoolID, Address: opts.gateway6 ?? '', Options: GW })) as { Address: string };
  await h.driver.handle('CreateNetwork', {
    NetworkID: NETWORK_ID,
    Options: { 'com.docker.network.enable_ipv6': true, 'com.docker.network.generic': { 'tsnet.name': 'ds' } },
    IPv4Data: [{ AddressSpace: 'tsnet-local', Pool: '10.61.0.0/24', Gateway: g4.Address }],
    IPv6Data: [{ AddressSpace: 'tsnet-local', Pool: p6.Pool, Gateway: g6.Address }],
  });
  return { p4: p4.PoolID, p6: p6.PoolID, g6: g6.Address, pool6: p6.Pool };
}

describe('IpamDriverPlugin: IPv6 pools (--ipv6 --ipam-driver tsnet)', () => {
  it("maps Docker's IPv6 pool, ip-range and gateway into the network's IPv6 IPAM; endpoints get IPv6 addresses from it", async () => {
    const h = fakeHost();
    const { p6, g6, pool6 } = await createDualStack(h, { subPool6: 'fd00:61::100/120' });
    expect(p6).toBe('tsnet:fd00:61::/64@fd00:61::100/120');
    expect(pool6).toBe('fd00:61::/64');
    expect(g6).toBe('fd00:61::1/64');
    expect(h.created[0]).toMatchObject({ name: 'ds', ipv6: true, subnet: '10.61.0.0/24', subnet6: 'fd00:61::/64', gateway6: 'fd00:61::1', ipRange6: 'fd00:61::100/120' });
    expect(h.pools.pending.size).toBe(0); // the network's IPAM holds both pools now
    // docker run: IPv4 then IPv6, dynamic from the ip-range, or --ip6 anywhere in the subnet.
    expect(await h.ipam.handle('RequestAddress', { PoolID: p6, Address: '' })).toEqual({ Address: 'fd00:61::100/64', Data: {} });
    expect(await h.ipam.handle('RequestAddress', { PoolID: p6, Address: 'fd00:61::5' })).toEqual({ Address: 'fd00:61::5/64', Data: {} });
    const ipam6 = h.byName('ds').ipam6!;
    expect(ipam6.isAllocated('fd00:61::5')).toBe(true);
    await expect(h.ipam.handle('RequestAddress', { PoolID: p6, Address: 'fd00:61::5' })).rejects.toThrow('--ip6 fd00:61::5 is in use on this network');
    await h.ipam.handle('ReleaseAddress', { PoolID: p6, Address: 'fd00:61::5' });
    expect(ipam6.isAllocated('fd00:61::5')).toBe(false);
    // After CreateNetwork the gateway request is answered from the network (libnetwork's replay).
    expect(await h.ipam.handle('RequestAddress', { PoolID: p6, Options: GW })).toEqual({ Address: 'fd00:61::1/64', Data: {} });
  });

  it('takes --gateway for the IPv6 pool, checked as the network will (not the anycast address, inside the subnet)', async () => {
    const h = fakeHost();
    const { g6 } = await createDualStack(h, { gateway6: 'fd00:61::fe' });
    expect(g6).toBe('fd00:61::fe/64');
    expect(h.created[0].gateway6).toBe('fd00:61::fe');
    const p = (await h.ipam.handle('RequestPool', { Pool: 'fd00:62::/64', V6: true })) as { PoolID: string };
    await expect(h.ipam.handle('RequestAddress', { PoolID: p.PoolID, Address: 'fd00:62::', Options: GW })).rejects.toThrow('subnet-router anycast address of fd00:62::/64');
    await expect(h.ipam.handle('RequestAddress', { PoolID: p.PoolID, Address: 'fd00:63::1', Options: GW })).rejects.toThrow('outside the IPv6 subnet fd00:62::/64');
  });

  it("refuses Docker's default IPv6 pool (--ipv6 without an IPv6 --subnet), naming what to add, and keeps nothing", async () => {
    const h = fakeHost();
    await expect(h.ipam.handle('RequestPool', { AddressSpace: 'tsnet-local', Pool: '', V6: true })).rejects.toThrow(
      "--ipv6 without an IPv6 --subnet: tsnet's IPAM driver has no default IPv6 pool; add one besides the IPv4 --subnet, e.g. --subnet fd00:1::/64",
    );
    expect(h.pools.pending.size).toBe(0);
  });

  it('refuses IPv6 pools that no network could have, by value: overlapping, link-local, too large, an ip-range outside', async () => {
    const h = fakeHost();
    await createDualStack(h);
    await expect(h.ipam.handle('RequestPool', { Pool: 'fd00:61::/80', V6: true })).rejects.toThrow('IPv6 subnet fd00:61::/80 overlaps fd00:61::/64 of network ds');
    await h.ipam.handle('RequestPool', { Pool: 'fd00:70::/64', V6: true }); // pending, no network yet
    await expect(h.ipam.handle('RequestPool', { Pool: 'fd00:70::/56', V6: true })).rejects.toThrow('overlaps fd00:70::/64 of network (a network being created by Docker)');
    await expect(h.ipam.handle('RequestPool', { Pool: 'fe80::/64', V6: true })).rejects.toThrow('link-local');
    await expect(h.ipam.handle('RequestPool', { Pool: 'fd00::/16', V6: true })).rejects.toThrow('too large');
    await expect(h.ipam.handle('RequestPool', { Pool: 'fd00:71::/64', SubPool: 'fd00:72::/120', V6: true })).rejects.toThrow('IPv6 ip-range fd00:72::/120 is not within the subnet fd00:71::/64');
    expect(h.pools.subnets6()).toEqual(['fd00:70::/64']);
  });

  it('keeps IPv6 pools out of the default IPv4 walk, counts references and forgets a released pool', async () => {
    const h = fakeHost();
    const a = (await h.ipam.handle('RequestPool', { Pool: 'FD00:80:0::/64', V6: true })) as { PoolID: string; Pool: string };
    expect(a).toMatchObject({ PoolID: 'tsnet:fd00:80::/64', Pool: 'fd00:80::/64' }); // canonical, the same id for the same pool
    await h.ipam.handle('RequestPool', { Pool: 'fd00:80::/64', V6: true });
    expect(h.pools.subnets()).toEqual([]);
    await h.ipam.handle('ReleasePool', { PoolID: a.PoolID });
    expect(h.pools.subnets6()).toEqual(['fd00:80::/64']);
    await h.ipam.handle('ReleasePool', { PoolID: a.PoolID });
    expect(h.pools.pending.size).toBe(0);
  });

  it('gives the IPv4 address back when the IPv6 request after it fails (libnetwork would keep it)', async () => {
    const h = fakeHost();
    const { p4, p6 } = await createDualStack(h);
    const v4 = (await h.ipam.handle('RequestAddress', { PoolID: p4, Address: '' })) as { Address: string };
    expect(v4.Address).toBe('10.61.0.2/24');
    await expect(h.ipam.handle('RequestAddress', { PoolID: p6, Address: 'fd00:61::1' })).rejects.toThrow('--ip6 fd00:61::1 is the IPv6 gateway of fd00:61::/64');
    expect(h.byName('ds').ipam!.isAllocated('10.61.0.2')).toBe(false);
    // A successful pair keeps both.
    await h.ipam.handle('RequestAddress', { PoolID: p4, Address: '10.61.0.9' });
    await h.ipam.handle('RequestAddress', { PoolID: p6, Address: 'fd00:61::9' });
    expect(h.byName('ds').ipam!.isAllocated('10.61.0.9')).toBe(true);
    expect(h.byName('ds').ipam6!.isAllocated('fd00:61::9')).toBe(true);
  });
});
