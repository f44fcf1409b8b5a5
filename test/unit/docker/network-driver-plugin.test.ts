// A Docker overlay on a cluster-store daemon would be a local network under a cluster name (its
// addresses from this driver's local IPAM, never claimed in the store): the plugin refuses it.
import { describe, expect, it } from 'vitest';
import { NetworkDriverPlugin } from '../../../src/docker/network-driver-plugin.js';
import { DockerPools } from '../../../src/docker/docker-pools.js';
import type { Daemon } from '../../../src/control/daemon.js';

function overlayBody() {
  return {
    NetworkID: 'a'.repeat(64),
    Options: { 'com.docker.network.generic': { 'tsnet.driver': 'overlay' } },
    IPv4Data: [{ AddressSpace: 'tsnet', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
  };
}

describe('NetworkDriverPlugin.CreateNetwork', () => {
  it('refuses an overlay on a daemon with a cluster store, naming the store, before touching the daemon', () => {
    const created: unknown[] = [];
    const daemon = { createNetwork: (r: unknown) => created.push(r) } as unknown as Daemon;
    const plugin = new NetworkDriverPlugin(daemon, new DockerPools(), 'etcd://10.0.0.9:2379');
    expect(() => plugin.handle('CreateNetwork', overlayBody())).toThrow(/tsnet\.driver=overlay.*etcd:\/\/10\.0\.0\.9:2379/);
    expect(created).toEqual([]);
  });

  it('passes an overlay to the daemon when it has no cluster store', () => {
    const created: Array<{ driver: string; subnet?: string }> = [];
    const daemon = {
      createNetwork: (r: { driver: string; subnet?: string }) => (created.push(r), { ipam: { subnet: r.subnet } }),
    } as unknown as Daemon;
    const plugin = new NetworkDriverPlugin(daemon, new DockerPools(), null);
    expect(plugin.handle('CreateNetwork', overlayBody())).toEqual({});
    expect(created.map((r) => [r.driver, r.subnet])).toEqual([['overlay', '10.77.0.0/24']]);
  });
});
