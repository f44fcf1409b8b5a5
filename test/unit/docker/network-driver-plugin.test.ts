// The Docker plugin makes networks through NetworkRequests (the cluster's on a cluster-store daemon).
// An overlay there must use our IPAM driver: Docker's own would hand out the same addresses on every
// host, never claimed in the store, so the plugin refuses it before anything is made.
import { describe, expect, it } from 'vitest';
import { NetworkDriverPlugin } from '../../../src/docker/network-driver-plugin.js';
import { DockerPools } from '../../../src/docker/docker-pools.js';
import type { Daemon } from '../../../src/control/daemon.js';
import type { NetworkRequests } from '../../../src/control/network-requests.js';

function overlayBody(addressSpace: string) {
  return {
    NetworkID: 'a'.repeat(64),
    Options: { 'com.docker.network.generic': { 'tsnet.driver': 'overlay', 'tsnet.name': 'ov' } },
    IPv4Data: [{ AddressSpace: addressSpace, Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
  };
}

function recordingRequests() {
  const created: Array<{ name: string; driver?: string; subnet?: string; docker?: { networkId: string } }> = [];
  const requests = {
    createNetwork: async (r: (typeof created)[number]) => (created.push(r), { ipam: { subnet: r.subnet } }),
  } as unknown as NetworkRequests;
  return { created, requests };
}

const noDaemon = {} as unknown as Daemon;

describe('NetworkDriverPlugin.CreateNetwork', () => {
  it("refuses a cluster overlay on Docker's default IPAM, naming the store and the fix, before any request", async () => {
    const { created, requests } = recordingRequests();
    const plugin = new NetworkDriverPlugin(noDaemon, new DockerPools(), requests, 'etcd://10.0.0.9:2379');
    await expect(plugin.handle('CreateNetwork', overlayBody('LocalDefault'))).rejects.toThrow(/tsnet\.driver=overlay without --ipam-driver tsnet \(address space "LocalDefault"\).*etcd:\/\/10\.0\.0\.9:2379.*add --ipam-driver tsnet/);
    expect(created).toEqual([]);
  });

  it('passes a cluster overlay on our IPAM to the requests, with its name and Docker id', async () => {
    const { created, requests } = recordingRequests();
    const plugin = new NetworkDriverPlugin(noDaemon, new DockerPools(), requests, 'etcd://10.0.0.9:2379');
    expect(await plugin.handle('CreateNetwork', overlayBody('tsnet-local'))).toEqual({});
    expect(created.map((r) => [r.name, r.driver, r.subnet, r.docker?.networkId])).toEqual([['ov', 'overlay', '10.77.0.0/24', 'a'.repeat(64)]]);
  });

  it('passes an overlay on any IPAM to the requests when the daemon has no cluster store', async () => {
    const { created, requests } = recordingRequests();
    const plugin = new NetworkDriverPlugin(noDaemon, new DockerPools(), requests, null);
    expect(await plugin.handle('CreateNetwork', overlayBody('LocalDefault'))).toEqual({});
    expect(created.map((r) => [r.driver, r.subnet])).toEqual([['overlay', '10.77.0.0/24']]);
  });

  it('answers 404 (undefined) for a method it does not know', async () => {
    const plugin = new NetworkDriverPlugin(noDaemon, new DockerPools(), recordingRequests().requests, null);
    expect(await plugin.handle('NoSuchMethod', {})).toBeUndefined();
  });
});

describe('NetworkDriverPlugin.CreateEndpoint on a dual-stack network', () => {
  const net = { id: 'n1', name: 'ds', docker: { networkId: 'b'.repeat(64) } };
  const daemon = { findNetwork: (m: (r: typeof net) => boolean) => (m(net) ? net : null) } as unknown as Daemon;
  function connectingRequests() {
    const asked: Array<{ ip?: string; ip6?: string; addressReserved?: boolean }> = [];
    const requests = {
      connect: async (_ref: string, r: { ip?: string; ip6?: string }) => (asked.push(r), { mac: '02:00:00:00:00:05', ip: r.ip ?? null, ip6: r.ip6 ?? 'fd00:9::7', prefixLen6: 64 }),
    } as unknown as NetworkRequests;
    return { asked, requests };
  }
  const body = (iface: Record<string, string>) => ({ NetworkID: 'b'.repeat(64), EndpointID: 'e'.repeat(64), Interface: iface });

  it("passes the IPAM's IPv6 address as reserved and gives back only the MAC", async () => {
    const { asked, requests } = connectingRequests();
    const plugin = new NetworkDriverPlugin(daemon, new DockerPools(), requests, null);
    expect(await plugin.handle('CreateEndpoint', body({ Address: '10.9.0.2/24', AddressIPv6: 'fd00:9::5/64' }))).toEqual({ Interface: { MacAddress: '02:00:00:00:00:05' } });
    expect(asked).toMatchObject([{ ip: '10.9.0.2', ip6: 'fd00:9::5', addressReserved: true }]);
  });

  it('fills AddressIPv6 with the address the network chose when libnetwork gave none', async () => {
    const { requests } = connectingRequests();
    const plugin = new NetworkDriverPlugin(daemon, new DockerPools(), requests, null);
    expect(await plugin.handle('CreateEndpoint', body({ Address: '10.9.0.2/24', MacAddress: '02:00:00:00:00:05' }))).toEqual({ Interface: { AddressIPv6: 'fd00:9::7/64' } });
  });
});
