/**
 * Multi-host overlays through a real etcd (Debian's etcd-server, in a namespace of the test): three
 * "hosts" (namespaces, each with its own daemon and state dir) on one underlay bridge.
 *   - a network created on host 1 appears on hosts 2 and 3 (same id, VNI, subnet);
 *   - 30 endpoints spread over the three get 30 distinct addresses from cluster-wide IPAM;
 *   - every pair pings, and no ARP crosses the underlay for them (tcpdump on the underlay bridge,
 *     VXLAN decoded): every host answers ARP for remote endpoints from their store records;
 *   - `fdb show` marks store entries, `network inspect` has the Cluster view, `cluster ls` the hosts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, pingOnce } from '../helpers/cluster-hosts.js';
import { kill, nsExec, nsSpawn, privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping cluster store integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function cluster(ttls: number[]): Promise<TestCluster> {
  const c = new TestCluster();
  cleanup.push(() => c.teardown());
  await c.setup(ttls);
  return c;
}

const json = <T = any>(text: string): T => JSON.parse(text) as T;

/** tcpdump on the underlay bridge while `during` runs; returns its text (VXLAN decoded, inner frames shown). */
async function underlayCapture(c: TestCluster, during: () => Promise<unknown>): Promise<string> {
  const p = nsSpawn(c.underlay, 'tcpdump', ['-i', 'br0', '-nn', '-e', '-l', 'udp', 'port', '4789']);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  try {
    const end = Date.now() + 10_000;
    while (!err.includes('listening on')) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`tcpdump did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await during();
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    kill(p);
  }
  return out;
}

describe.skipIf(skip !== null)('overlay networks through a cluster store (etcd)', () => {
  it('shares a network, its IPAM and endpoints: 30 distinct addresses, all pairs ping, ARP answered locally', async () => {
    const c = await cluster([15, 15, 15]);
    const [h1, h2, h3] = c.hosts;
    const id = (await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']).then((s) => s.trim()));
    // It appears on the other hosts with the same id, VNI and subnet.
    for (const h of [h2, h3]) {
      await TestCluster.until(`network ov on ${h.id}`, async () => json(await h.daemon.ok(['network', 'ls', '--json'])).some((n: { id: string }) => n.id === id));
      const [ins] = json(await h.daemon.ok(['network', 'inspect', 'ov']));
      expect(ins.Id).toBe(id);
      expect(ins.IPAM.Config[0].Subnet).toBe('10.251.0.0/24');
      expect(ins.Overlay.VNI).toBe(4097);
      expect(ins.Overlay.VTEP).toBe(`${h.vtep}:4789`);
      expect(ins.Overlay.Learning).toBe(false);
    }
    // 30 endpoints, 10 per host, the three hosts connecting at the same time (each one after the
    // other on its host): they race for the same candidates, and still get 30 distinct addresses.
    const eps: { host: number; ns: string; ip: string; mac: string }[] = [];
    const sandboxes = await Promise.all(Array.from({ length: 30 }, () => c.sandbox()));
    await Promise.all(
      c.hosts.map(async (h, hi) => {
        for (const ns of sandboxes.filter((_, i) => i % 3 === hi)) {
          const r = json(await h.daemon.ok(['connect', 'ov', '--netns', ns, '--json']));
          eps.push({ host: h.n, ns, ip: r.ip, mac: r.mac });
        }
      }),
    );
    expect(eps).toHaveLength(30);
    expect(new Set(eps.map((e) => e.ip)).size).toBe(30);
    // Every host knows the 20 endpoints of the others from the store: static entries, type store.
    for (const h of c.hosts) {
      await TestCluster.until(`20 store entries on ${h.id}`, async () => json(await h.daemon.ok(['fdb', 'show', 'ov', '--json'])).filter((e: { type: string }) => e.type === 'store').length === 20);
    }
    const fdb1 = json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json']));
    const remote = eps.find((e) => e.host === 3)!;
    expect(fdb1.find((e: { mac: string }) => e.mac === remote.mac)).toMatchObject({ type: 'store', host: 'host3', vtep: h3.vtep });
    expect(await h1.daemon.ok(['fdb', 'show', 'ov'])).toMatch(new RegExp(`${remote.mac}\\s+vxlan4097\\s+store \\(host3\\)`));
    // All pairs ping (435), while the underlay is watched: no ARP inside VXLAN for these endpoints.
    const failed: string[] = [];
    const dump = await underlayCapture(c, async () => {
      await Promise.all(
        eps.map(async (a) => {
          for (const b of eps) {
            if (b === a || b.ip < a.ip) continue;
            if (!(await pingOnce(a.ns, b.ip, 2)) && !(await pingOnce(a.ns, b.ip, 2))) failed.push(`${a.ip}(host${a.host}) -> ${b.ip}(host${b.host})`);
          }
        }),
      );
    });
    expect(failed).toEqual([]);
    const vxlanFrames = dump.split('\n').filter((l) => l.includes('VXLAN'));
    expect(vxlanFrames.length).toBeGreaterThan(100); // the pings did cross the underlay
    expect(dump.split('\n').filter((l) => /ARP/.test(l))).toEqual([]);
    // The hosts answered the ARP requests themselves.
    const [ins1] = json(await h1.daemon.ok(['network', 'inspect', 'ov']));
    expect(ins1.Overlay.ArpSuppressed).toBeGreaterThan(0);
    // inspect's cluster view and cluster ls.
    expect(ins1.Cluster.Host).toBe('host1');
    expect(ins1.Cluster.RemoteEndpoints).toHaveLength(20);
    expect(ins1.Cluster.Peers.map((p: { Name: string }) => p.Name).sort()).toEqual(['host1', 'host2', 'host3']);
    expect(ins1.Cluster.FloodPeers.sort()).toEqual([h2.vtep, h3.vtep]);
    const ls = json(await h2.daemon.ok(['cluster', 'ls', '--json']));
    expect(ls.hosts.map((h: { id: string; vtep: string; endpoints: number }) => [h.id, h.vtep, h.endpoints])).toEqual([
      ['host1', h1.vtep, 10],
      ['host2', h2.vtep, 10],
      ['host3', h3.vtep, 10],
    ]);
    expect(ls.hosts.every((h: { leaseTtlSeconds: number }) => h.leaseTtlSeconds > 0 && h.leaseTtlSeconds <= 15)).toBe(true);
    expect(await h2.daemon.ok(['cluster', 'ls'])).toMatch(/host2 \*\s+10\.250\.0\.2:4789/);
    // Store keys for this: per endpoint one ipam and one endpoint key.
    const keys = (await c.etcd.ctl(['get', '--prefix', '/tsnet/v1/', '--keys-only'])).split('\n').filter(Boolean);
    expect(keys.filter((k) => k.startsWith(`/tsnet/v1/endpoints/${id}/`))).toHaveLength(30);
    expect(keys.filter((k) => k.startsWith(`/tsnet/v1/ipam/${id}/`))).toHaveLength(30);
  }, 180_000);
});
