/**
 * Multi-host overlays through a real etcd (Debian's etcd-server, in a namespace of the test): three
 * "hosts" (namespaces, each with its own daemon and state dir) on one underlay bridge.
 *   - a network created on host 1 appears on hosts 2 and 3 (same id, VNI, subnet);
 *   - 30 endpoints spread over the three get 30 distinct addresses from cluster-wide IPAM;
 *   - every pair pings, and no ARP crosses the underlay for them (tcpdump on the underlay bridge,
 *     VXLAN decoded): every host answers ARP for remote endpoints from their store records;
 *   - `fdb show` marks store entries, `network inspect` has the Cluster view, `cluster ls` the hosts;
 *   - a host's daemon killed: its endpoints leave the others after its lease TTL (3 s here), its
 *     addresses stay claimed until it comes back (and re-adopts everything) or `cluster gc HOST`;
 *   - etcd down: the data plane forwards, control requests fail fast naming the store, and after
 *     etcd is back the hosts follow again; a host cut off while the store compacted does a full resync;
 *   - two hosts creating the same name (or VNI) at once: exactly one wins;
 *   - `-o encrypted=true` through the store: each host publishes its WireGuard key with its record,
 *     the others make it a peer; containers on two hosts ping, and the underlay carries only WireGuard;
 *   - clocks: each host measures the others' offsets from their record writes (`cluster ls`), and
 *     `doctor` reports a host whose record says its clock is 30 s ahead;
 *   - an lb service is cluster-wide: a VIP with servers on hosts 2 and 3 answers clients on hosts 1
 *     and 2, rr spreads evenly, mh makes the same choice for the same client on another host, and a
 *     server whose host dies stops getting connections once its lease expires;
 *   - a fourth host running the kernel's VXLAN with static configuration interoperates: its MAC is
 *     published with `fdb add --vtep` on one cluster host and installed by all of them;
 *   - a CNI attachment on a cluster network claims its address and publishes its endpoint in the
 *     store like `connect` (the other host installs it, refuses its address), and DEL withdraws it;
 *   - an endpoint whose sandbox dies (no disconnect: the watcher releases it) leaves the store too:
 *     the other host uninstalls it and may take its address.
 */
import { tcpdumpWhile } from '../helpers/traffic.js';
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, pingOnce } from '../helpers/cluster-hosts.js';
import { addNetns, delNetns, kill, nsExec, privilegedSkipReason, plumb, sh, uniqueTag } from '../helpers/netns.js';
import { curlMany, startBackend, tally } from '../helpers/lb-backends.js';
import { CniRuntime, SYSTEM_CNI_DIR } from '../helpers/cni-runtime.js';
import { runCli } from '../helpers/daemon.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    const dump = await tcpdumpWhile(c.underlay, 'br0', ['udp', 'port', '4789'], async () => {
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
  }, 300_000);

  it('drops a killed host after its lease, keeps its addresses until it returns or cluster gc', async () => {
    const c = await cluster([3, 3, 3]);
    const [h1, h2, h3] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']);
    for (const h of [h2, h3]) await TestCluster.until(`ov on ${h.id}`, async () => (await h.daemon.ok(['network', 'ls'])).includes('ov'));
    const [s1, s3] = [await c.sandbox(), await c.sandbox()];
    await h1.daemon.ok(['connect', 'ov', '--netns', s1]);
    const e3 = json(await h3.daemon.ok(['connect', 'ov', '--netns', s3, '--json']));
    await TestCluster.until('host1 reaches host3', () => pingOnce(s1, e3.ip, 1));
    const storeMacs = async (h: typeof h1) => json(await h.daemon.ok(['fdb', 'show', 'ov', '--json'])).filter((e: { type: string }) => e.type === 'store').map((e: { mac: string }) => e.mac);
    expect(await storeMacs(h1)).toContain(e3.mac);

    // Killed: after the lease TTL (3 s) its endpoint and VTEP leave hosts 1 and 2.
    await h3.daemon.kill('SIGKILL');
    const t0 = Date.now();
    await TestCluster.until('host3 gone from host1 and host2', async () => !(await storeMacs(h1)).includes(e3.mac) && !(await storeMacs(h2)).includes(e3.mac), 15_000);
    const goneMs = Date.now() - t0;
    console.log(`killed host's endpoints left the others after ${goneMs} ms (TTL 3 s)`);
    expect(goneMs).toBeGreaterThan(1500); // the lease, not something quicker, removed it
    const [ins] = json(await h1.daemon.ok(['network', 'inspect', 'ov']));
    expect(ins.Cluster.FloodPeers).toEqual([]);
    const ls = json(await h1.daemon.ok(['cluster', 'ls', '--json']));
    expect(ls.hosts.map((h: { id: string }) => h.id)).toEqual(['host1', 'host2']);
    expect(ls.departed).toEqual([{ id: 'host3', addresses: 1 }]);
    expect(await h1.daemon.ok(['cluster', 'ls'])).toMatch(/cluster gc HOST[\s\S]*host3\s+1/);
    // Its address is not handed out again, neither on request nor dynamically.
    const s2 = await c.sandbox();
    const taken = await h2.daemon.cli(['connect', 'ov', '--netns', s2, '--ip', e3.ip]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(new RegExp(`${e3.ip.replace(/\./g, '\\.')} is claimed in the cluster by host host3`));
    const e2 = json(await h2.daemon.ok(['connect', 'ov', '--netns', s2, '--json']));
    expect(e2.ip).not.toBe(e3.ip);
    // gc is refused for a live host.
    const alive = await h1.daemon.cli(['cluster', 'gc', 'host2']);
    expect(alive.code).not.toBe(0);
    expect(alive.stderr).toMatch(/host host2 is alive/);

    // It comes back: re-adopts its endpoint (same address), and the others reach it again.
    await h3.daemon.start();
    await TestCluster.until('host3 back on host1', async () => (await storeMacs(h1)).includes(e3.mac));
    expect(await pingOnce(s1, e3.ip, 3)).toBe(true);
    expect(await pingOnce(s2, e3.ip, 3)).toBe(true);
    expect(json(await h1.daemon.ok(['cluster', 'ls', '--json'])).departed).toEqual([]);

    // Gone for good: the operator releases its address.
    await h3.daemon.kill('SIGKILL');
    await TestCluster.until('host3 lease expired', async () => json(await h1.daemon.ok(['cluster', 'ls', '--json'])).departed.length === 1);
    expect(await h1.daemon.ok(['cluster', 'gc', 'host3'])).toMatch(new RegExp(`host3: released 1 address\\(es\\) \\([0-9a-f]+/${e3.ip.replace(/\./g, '\\.')}\\)`));
    const s4 = await c.sandbox();
    const e4 = json(await h1.daemon.ok(['connect', 'ov', '--netns', s4, '--ip', e3.ip, '--json']));
    expect(e4.ip).toBe(e3.ip);
  }, 150_000);

  it('keeps forwarding with etcd down, fails control requests fast, follows again (also after a compaction)', async () => {
    // Host 3's lease (30 s) outlives its cut from etcd, so it resumes its watch (and meets the compaction)
    // rather than registering afresh.
    const c = await cluster([3, 3, 30]);
    const [h1, h2, h3] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']);
    for (const h of [h2, h3]) await TestCluster.until(`ov on ${h.id}`, async () => (await h.daemon.ok(['network', 'ls'])).includes('ov'));
    const [s1, s2, s3] = [await c.sandbox(), await c.sandbox(), await c.sandbox()];
    json(await h1.daemon.ok(['connect', 'ov', '--netns', s1, '--json']));
    const e2 = json(await h2.daemon.ok(['connect', 'ov', '--netns', s2, '--json']));
    const e3 = json(await h3.daemon.ok(['connect', 'ov', '--netns', s3, '--json']));
    await TestCluster.until('host1 reaches host2', () => pingOnce(s1, e2.ip, 1));

    await c.etcd.stop();
    await TestCluster.until('host1 sees the store away', async () => json(await h1.daemon.ok(['cluster', 'ls', '--json'])).link === 'down');
    // Longer than the lease TTL: nothing is torn down, traffic goes on.
    const pinger = nsExec(s1, 'ping', ['-c', '25', '-i', '0.2', '-q', e2.ip], { timeoutMs: 20_000 });
    const s4 = await c.sandbox();
    const t0 = Date.now();
    const refused = await h1.daemon.cli(['connect', 'ov', '--netns', s4]);
    const refusedMs = Date.now() - t0;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/the cluster store etcd:\/\/10\.250\.0\.254:2379 is unreachable/);
    const refusedCreate = await h2.daemon.cli(['network', 'create', '-d', 'overlay', '--subnet', '10.252.0.0/24', 'other']);
    expect(refusedCreate.stderr).toMatch(/cluster store etcd:\/\/10\.250\.0\.254:2379 is unreachable/);
    // Single-host networks do not need the store.
    await h1.daemon.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.253.0.0/24', 'br']);
    expect(await h1.daemon.ok(['network', 'ls'])).not.toMatch(/other/);
    const stats = await pinger; // exits 0 only if replies came back
    expect(stats).toMatch(/25 packets transmitted, 2[45] received/);
    console.log(`connect refused with etcd down after ${refusedMs} ms (includes the CLI's start)`);
    expect(await h1.daemon.ok(['fdb', 'show', 'ov'])).toContain(e2.mac);

    // etcd back: the hosts follow again and a change made now reaches the others.
    await c.etcd.start();
    await TestCluster.until('host1 follows again', async () => json(await h1.daemon.ok(['cluster', 'ls', '--json'])).link === 'up', 20_000);
    const e4 = json(await h1.daemon.ok(['connect', 'ov', '--netns', s4, '--json']));
    await TestCluster.until('host2 reaches the new endpoint', () => pingOnce(s2, e4.ip, 1));

    // Host 3 cut off from etcd (not from the underlay) while a change lands and the store compacts:
    // its watch cannot resume from its revision, so it reads everything again.
    await nsExec(h3.daemon.hostNs, 'ip', ['route', 'add', 'blackhole', '10.250.0.254/32']);
    await TestCluster.until('host3 sees the store away', async () => json(await h3.daemon.ok(['cluster', 'ls', '--json'])).link === 'down');
    const s5 = await c.sandbox();
    const e5 = json(await h2.daemon.ok(['connect', 'ov', '--netns', s5, '--json']));
    await c.etcd.ctl(['compact', String(await c.etcd.revision())]);
    await nsExec(h3.daemon.hostNs, 'ip', ['route', 'del', 'blackhole', '10.250.0.254/32']);
    await TestCluster.until('host3 resynced', async () => json(await h3.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string }) => e.mac === e5.mac && e.type === 'store'), 20_000);
    expect(h3.daemon.log).toMatch(/watch from revision \d+ compacted .*: full resync/);
    expect(json(await h3.daemon.ok(['cluster', 'ls', '--json'])).counters.compactions).toBeGreaterThanOrEqual(1);
    expect(await pingOnce(s3, e5.ip, 3)).toBe(true);
    expect(await pingOnce(s3, e4.ip, 3)).toBe(true);
    void e3;
  }, 150_000);

  it('lets exactly one of two hosts creating the same name or VNI at once win', async () => {
    const c = await cluster([15, 15]);
    const [h1, h2] = c.hosts;
    const both = await Promise.all([h1, h2].map((h) => h.daemon.cli(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'same'])));
    expect(both.filter((r) => r.code === 0)).toHaveLength(1);
    const loser = both.find((r) => r.code !== 0)!;
    expect(loser.stderr).toMatch(/network same exists/);
    const winnerId = both.find((r) => r.code === 0)!.stdout.trim();
    for (const h of [h1, h2]) await TestCluster.until(`same on ${h.id}`, async () => json(await h.daemon.ok(['network', 'inspect', 'same']))[0].Id === winnerId);

    const vni = await Promise.all([h1, h2].map((h, i) => h.daemon.cli(['network', 'create', '-d', 'overlay', '--subnet', `10.25${2 + i}.0.0/24`, '-o', 'vni=777', `v${i + 1}`])));
    expect(vni.filter((r) => r.code === 0)).toHaveLength(1);
    expect(vni.find((r) => r.code !== 0)!.stderr).toMatch(/VNI 777 is used/);
    const won = vni[0].code === 0 ? 'v1' : 'v2';
    const lost = won === 'v1' ? 'v2' : 'v1';
    for (const h of [h1, h2]) {
      await TestCluster.until(`${won} on ${h.id}`, async () => (await h.daemon.ok(['network', 'ls'])).includes(won));
      expect(await h.daemon.ok(['network', 'ls'])).not.toContain(lost);
    }
    const keys = (await c.etcd.ctl(['get', '--prefix', '/tsnet/v1/vnis/', '--keys-only'])).split('\n').filter(Boolean);
    expect(keys.sort()).toEqual(['/tsnet/v1/vnis/4097', '/tsnet/v1/vnis/777']);
    // Static peers are refused on a cluster-store daemon: they would half-work beside the store's.
    const peers = await h1.daemon.cli(['network', 'create', '-d', 'overlay', '-o', 'peers=10.250.0.9', 'st']);
    expect(peers.stderr).toMatch(/-o peers=10\.250\.0\.9: with --cluster-store the peers/);
    // So is a dual-stack overlay: its IPv6 addresses would need claims in the store.
    const six = await h1.daemon.cli(['network', 'create', '-d', 'overlay', '--ipv6', '--subnet', '10.253.0.0/24', '--subnet', 'fd00:253::/64', 'six']);
    expect(six.code).not.toBe(0);
    expect(six.stderr).toContain('--ipv6 on a cluster overlay');
    expect(await h1.daemon.ok(['network', 'ls'])).not.toContain('six');
  }, 120_000);

  it('makes an encrypted overlay with the hosts\' WireGuard keys from the store: only WireGuard crosses the underlay', async () => {
    const c = await cluster([15, 15]);
    const [h1, h2] = c.hosts;
    const refused = await h1.daemon.cli(['network', 'create', '-d', 'overlay', '-o', 'encrypted=true', '-o', `encrypted.peers=${'A'.repeat(43)}=@10.250.0.2`, 'bad']);
    expect(refused.stderr).toContain("with --cluster-store the peers' WireGuard keys come from the store");
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '-o', 'encrypted=true', '--subnet', '10.249.0.0/24', 'sec']);
    await TestCluster.until('sec on host2', async () => (await h2.daemon.ok(['network', 'ls'])).includes('sec'));
    const [s1, s2] = [await c.sandbox(), await c.sandbox()];
    await h1.daemon.ok(['connect', 'sec', '--netns', s1]);
    const e2 = json(await h2.daemon.ok(['connect', 'sec', '--netns', s2, '--json']));
    // Each side has the other as a WireGuard peer, with the key that host published.
    const key2 = json(await h2.daemon.ok(['overlay', 'key', 'show', '--json'])).PublicKey as string;
    await TestCluster.until('host2 a peer of host1', async () => json(await h1.daemon.ok(['network', 'inspect', 'sec']))[0].Overlay.Encryption.Peers.some((p: { VTEP: string; PublicKey: string }) => p.VTEP === h2.vtep && p.PublicKey === key2));
    expect(await pingOnce(s1, e2.ip, 10)).toBe(true); // the first packet starts the handshake
    const dump = await tcpdumpWhile(c.underlay, 'br0', ['udp'], () => pingOnce(s1, e2.ip, 3));
    const lines = dump.split('\n').filter((l) => l.includes(' UDP') || l.includes('udp') || / > /.test(l)).filter(Boolean);
    expect(lines.some((l) => /\.51820[ :]/.test(l))).toBe(true);
    expect(dump).not.toMatch(/VXLAN|\.4789[ :]/);
    const peer = json(await h1.daemon.ok(['network', 'inspect', 'sec']))[0].Overlay.Encryption.Peers.find((p: { VTEP: string }) => p.VTEP === h2.vtep);
    expect(peer.Session).toBe('established');
  }, 120_000);

  it('measures the other hosts\' clocks through the store; doctor reports one 30 s ahead, and not once it is right', async () => {
    const c = await cluster([15, 15]);
    const [h1] = c.hosts;
    type Row = { id: string; self: boolean; clockOffsetMs: number | null };
    const rows = async () => json<{ hosts: Row[] }>(await h1.daemon.ok(['cluster', 'ls', '--json'])).hosts;
    // host2 re-writes its record every 5 s with its clock; the same machine's clock: near 0.
    await TestCluster.until('host2 clock measured on host1', async () => (await rows()).find((h) => h.id === 'host2')?.clockOffsetMs != null, 15_000);
    expect(Math.abs((await rows()).find((h) => h.id === 'host2')!.clockOffsetMs!)).toBeLessThan(1000);
    expect((await rows()).find((h) => h.self)!.clockOffsetMs).toBeNull();
    const clockFindings = async () => (json<{ findings: { check: string; subject: string; problem: string }[] }>((await runCli(['doctor', '--json'], h1.daemon.socket)).stdout).findings).filter((f) => f.check === 'clock');
    expect(await clockFindings()).toEqual([]);

    // A host whose record says its clock is 30 s ahead (written as its daemon would, with its clock).
    const far = (clock: number) => JSON.stringify({ id: 'far', vtep: '10.250.0.77', port: 4789, underlayMtu: 1500, started: new Date().toISOString(), clock });
    await c.etcd.ctl(['put', '/tsnet/v1/hosts/far', far(Date.now() + 30_000)]);
    await TestCluster.until('far measured', async () => (await rows()).some((h) => h.id === 'far' && h.clockOffsetMs !== null));
    const off = (await rows()).find((h) => h.id === 'far')!.clockOffsetMs!;
    expect(off).toBeGreaterThan(29_000);
    expect(off).toBeLessThan(30_500);
    const doc = await runCli(['doctor'], h1.daemon.socket);
    expect(doc.code).toBe(1);
    expect(doc.stdout).toMatch(/PROBLEM \[clock\] cluster host far \(VTEP 10\.250\.0\.77\)/);
    const [f] = await clockFindings();
    expect(f.problem).toMatch(/its clock is (29\.\d|30\.\d) s ahead of this host's host1/);
    expect(await h1.daemon.ok(['cluster', 'ls'])).toMatch(/far\s+10\.250\.0\.77:4789.*\+(29\.\d|30\.\d)s/);

    // Its clock set right: the next write says so and the finding goes; gone from the store, forgotten.
    await c.etcd.ctl(['put', '/tsnet/v1/hosts/far', far(Date.now())]);
    await TestCluster.until('far clock right', async () => Math.abs((await rows()).find((h) => h.id === 'far')?.clockOffsetMs ?? 1e9) < 1000);
    expect(await clockFindings()).toEqual([]);
    await c.etcd.ctl(['del', '/tsnet/v1/hosts/far']);
    await TestCluster.until('far gone', async () => !(await rows()).some((h) => h.id === 'far'));
  }, 120_000);

  it('makes lb services cluster-wide: any host answers the VIP, servers on any host, a dead host leaves', async () => {
    const c = await cluster([3, 3, 3]);
    const [h1, h2, h3] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']);
    for (const h of [h2, h3]) await TestCluster.until(`ov on ${h.id}`, async () => (await h.daemon.ok(['network', 'ls'])).includes('ov'));
    const [c1, c2, b2, b3] = [await c.sandbox(), await c.sandbox(), await c.sandbox(), await c.sandbox()];
    const ip1 = json(await h1.daemon.ok(['connect', 'ov', '--netns', c1, '--json'])).ip;
    await h2.daemon.ok(['connect', 'ov', '--netns', c2]);
    const rip2 = json(await h2.daemon.ok(['connect', 'ov', '--netns', b2, '--json'])).ip;
    const rip3 = json(await h3.daemon.ok(['connect', 'ov', '--netns', b3, '--json'])).ip;
    const backends = [await startBackend(b2, 'b2'), await startBackend(b3, 'b3')];
    cleanup.push(async () => backends.forEach((b) => kill(b)));
    for (const h of c.hosts) await TestCluster.until(`servers known on ${h.id}`, async () => json(await h.daemon.ok(['fdb', 'show', 'ov', '--json'])).filter((e: { type: string }) => e.type === 'store').length >= (h === h1 ? 3 : 2));
    const VIP = '10.251.0.200';
    await h1.daemon.ok(['lb', 'add-service', '-t', `${VIP}:80`, '-s', 'rr', 'ov']);
    await h1.daemon.ok(['lb', 'add-server', '-t', `${VIP}:80`, '-r', `${rip2}:8080`]);
    await h1.daemon.ok(['lb', 'add-server', '-t', `${VIP}:80`, '-r', `${rip3}:8080`]);
    // Every host has the service with both servers, in the store's order.
    for (const h of c.hosts) {
      await TestCluster.until(`service on ${h.id}`, async () => {
        const svc = json(await h.daemon.ok(['lb', 'ls', '--json'])).services.find((x: { vip: string }) => x.vip === VIP);
        return svc && svc.servers.map((r: { ip: string; mac: string | null }) => `${r.ip}:${r.mac !== null}`).join() === `${rip2}:true,${rip3}:true`;
      });
    }
    // A client on host 1 (servers on 2 and 3) and one on host 2 (a server local, one remote).
    expect(tally(await curlMany(c1, `http://${VIP}/`, 20))).toEqual({ b2: 10, b3: 10 });
    expect(tally(await curlMany(c2, `http://${VIP}/`, 20))).toEqual({ b2: 10, b3: 10 });
    // The VIP cannot be handed out as an endpoint's address anywhere.
    const taken = await h3.daemon.cli(['connect', 'ov', '--netns', await c.sandbox(), '--ip', VIP]);
    expect(taken.stderr).toMatch(/10\.251\.0\.200/);
    expect(taken.code).not.toBe(0);

    // mh: the same client address gets the same server through another host's LB.
    const VIP2 = '10.251.0.201';
    await h2.daemon.ok(['lb', 'add-service', '-t', `${VIP2}:80`, '-s', 'mh', 'ov']);
    await h2.daemon.ok(['lb', 'add-server', '-t', `${VIP2}:80`, '-r', `${rip2}:8080`]);
    await h2.daemon.ok(['lb', 'add-server', '-t', `${VIP2}:80`, '-r', `${rip3}:8080`]);
    await TestCluster.until('mh service on host1', async () => (json(await h1.daemon.ok(['lb', 'ls', '--json'])).services.find((x: { vip: string }) => x.vip === VIP2)?.servers.filter((r: { mac: string | null }) => r.mac).length ?? 0) === 2);
    await TestCluster.until('mh service on host3', async () => (json(await h3.daemon.ok(['lb', 'ls', '--json'])).services.find((x: { vip: string }) => x.vip === VIP2)?.servers.filter((r: { mac: string | null }) => r.mac).length ?? 0) === 2);
    const viaHost1 = tally(await curlMany(c1, `http://${VIP2}/`, 6));
    expect(Object.keys(viaHost1)).toHaveLength(1);
    // The same client address, now on host 3.
    await h1.daemon.ok(['disconnect', 'ov', c1]);
    const moved = await c.sandbox();
    await h3.daemon.ok(['connect', 'ov', '--netns', moved, '--ip', ip1]);
    await TestCluster.until('moved client reaches the VIP', async () => (await curlMany(moved, `http://${VIP2}/`, 1))[0] !== '');
    expect(tally(await curlMany(moved, `http://${VIP2}/`, 6))).toEqual(viaHost1);

    // Host 3 dies: after its lease, its server gets no new connections from host 1 or 2.
    await h3.daemon.kill('SIGKILL');
    await TestCluster.until('b3 unavailable on host2', async () => json(await h2.daemon.ok(['lb', 'ls', '--json'])).services.find((x: { vip: string }) => x.vip === VIP).servers.find((r: { ip: string }) => r.ip === rip3).mac === null);
    expect(tally(await curlMany(c2, `http://${VIP}/`, 10))).toEqual({ b2: 10 });
  }, 180_000);

  it('interoperates with a kernel VXLAN host configured statically (published with fdb add)', async () => {
    const c = await cluster([15, 15]);
    const [h1, h2] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']);
    await TestCluster.until('ov on host2', async () => (await h2.daemon.ok(['network', 'ls'])).includes('ov'));
    const [s1, s2] = [await c.sandbox(), await c.sandbox()];
    const ip1 = json(await h1.daemon.ok(['connect', 'ov', '--netns', s1, '--json'])).ip;
    const ip2 = json(await h2.daemon.ok(['connect', 'ov', '--netns', s2, '--json'])).ip;
    // The kernel host: vxlan 4097 + a bridge, peers = the cluster hosts' VTEPs (all-zero fdb entries).
    const tag = uniqueTag();
    const k = `tsnt-${tag}-k`;
    const kc = `tsnt-${tag}-kc`;
    cleanup.push(async () => {
      await delNetns(k);
      await delNetns(kc);
    });
    await addNetns(k);
    await addNetns(kc);
    await sh('ip', ['link', 'add', `ku${tag}`, 'type', 'veth', 'peer', 'name', `kk${tag}`]);
    await sh('ip', ['link', 'set', `ku${tag}`, 'netns', c.underlay]);
    await sh('ip', ['-n', c.underlay, 'link', 'set', `ku${tag}`, 'master', 'br0', 'up']);
    await plumb(k, `kk${tag}`, '02:00:0a:fa:00:09', '10.250.0.9/24');
    await sh('ip', ['-n', k, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '4097', 'local', '10.250.0.9', 'dstport', '4789']);
    for (const h of [h1, h2]) await sh('bridge', ['-n', k, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', h.vtep]);
    await sh('ip', ['-n', k, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', k, 'link', 'set', 'vx0', 'mtu', '1450', 'master', 'br0', 'up']);
    await sh('ip', ['-n', k, 'link', 'set', 'br0', 'up']);
    await sh('ip', ['link', 'add', `kc${tag}`, 'type', 'veth', 'peer', 'name', `kp${tag}`]);
    await sh('ip', ['link', 'set', `kp${tag}`, 'netns', k]);
    await sh('ip', ['-n', k, 'link', 'set', `kp${tag}`, 'mtu', '1450', 'master', 'br0', 'up']);
    await plumb(kc, `kc${tag}`, '02:00:0a:fb:00:fa', '10.251.0.250/24', 1450);
    // Published once, on host 1; host 2 installs it from the store.
    await h1.daemon.ok(['fdb', 'add', 'ov', '02:00:0a:fb:00:fa', '--vtep', '10.250.0.9', '--ip', '10.251.0.250']);
    await TestCluster.until('static entry on host2', async () => json(await h2.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string; host?: string }) => e.mac === '02:00:0a:fb:00:fa' && e.type === 'store' && e.host === 'static:10.250.0.9'));
    const [ins2] = json(await h2.daemon.ok(['network', 'inspect', 'ov']));
    expect(ins2.Cluster.FloodPeers.sort()).toEqual([h1.vtep, '10.250.0.9']);
    expect(await pingOnce(kc, ip1, 3)).toBe(true);
    expect(await pingOnce(kc, ip2, 3)).toBe(true);
    expect(await pingOnce(s2, '10.251.0.250', 3)).toBe(true);
    // Its address is claimed: nobody else gets it; fdb del gives it back.
    const taken = await h2.daemon.cli(['connect', 'ov', '--netns', await c.sandbox(), '--ip', '10.251.0.250']);
    expect(taken.stderr).toMatch(/claimed in the cluster by host static:10\.250\.0\.9/);
    await h2.daemon.ok(['fdb', 'del', 'ov', '02:00:0a:fb:00:fa']);
    // Withdrawn everywhere: no host keeps it as a store entry (the MAC may be learned again from the
    // kernel host's own traffic, as flood-and-learn does for any host outside the cluster), and its address is free.
    await TestCluster.until('static entry withdrawn on host1', async () => !json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string }) => e.mac === '02:00:0a:fb:00:fa' && e.type === 'store'));
    expect(json(await h1.daemon.ok(['network', 'inspect', 'ov']))[0].Cluster.FloodPeers).toEqual([h2.vtep]);
    await TestCluster.until('address released', async () => (await h2.daemon.cli(['connect', 'ov', '--netns', await c.sandbox(), '--ip', '10.251.0.250'])).code === 0);
  }, 120_000);
  it('claims and publishes a CNI attachment on a cluster network through the store, and withdraws it on DEL', async () => {
    const c = await cluster([15, 15]);
    const [h1, h2] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.252.0.0/24', 'ov']);
    await TestCluster.until('ov on host2', async () => (await h2.daemon.ok(['network', 'ls'])).includes('ov'));
    const bin = mkdtempSync(join(tmpdir(), 'tsnet-cni-bin-'));
    cleanup.push(async () => rmSync(bin, { recursive: true, force: true }));
    const inst = await runCli(['cni', 'install', '--dir', bin], h2.daemon.socket);
    expect(inst.code, inst.stderr).toBe(0);
    const rt = new CniRuntime(h2.daemon.hostNs, [bin, SYSTEM_CNI_DIR]);
    const l = { cniVersion: '1.0.0', name: 'ov', plugins: [{ type: 'tsnet-switch', network: 'ov' }] };
    const ctr = await c.sandbox();
    const at = { containerId: 'cluster-ctr', netns: `/var/run/netns/${ctr}`, ifname: 'eth0' };
    const added = await rt.add(l, at);
    const ip = String((added.ips as { address: string }[])[0].address).split('/')[0];
    const mac = String((added.interfaces as { mac: string }[])[0].mac);
    // Host 1 knows it from the store: a store entry behind host 2, and its address is taken cluster-wide.
    await TestCluster.until('CNI endpoint on host1', async () => json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string; host?: string }) => e.mac === mac && e.type === 'store' && e.host === 'host2'));
    const s1 = await c.sandbox();
    const taken = await h1.daemon.cli(['connect', 'ov', '--netns', s1, '--ip', ip]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain(ip);
    const ip1 = json(await h1.daemon.ok(['connect', 'ov', '--netns', s1, '--json'])).ip;
    expect(ip1).not.toBe(ip);
    expect(await pingOnce(s1, ip, 3)).toBe(true);
    await rt.del(l, at, added);
    await TestCluster.until('CNI endpoint withdrawn on host1', async () => !json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string }) => e.mac === mac && e.type === 'store'));
    expect((await h1.daemon.cli(['connect', 'ov', '--netns', await c.sandbox(), '--ip', ip])).code).toBe(0);
  }, 120_000);

  it('withdraws an endpoint whose sandbox died without a disconnect, and frees its address cluster-wide', async () => {
    const c = await cluster([15, 15]);
    const [h1, h2] = c.hosts;
    await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.253.0.0/24', 'ov']);
    await TestCluster.until('ov on host2', async () => (await h2.daemon.ok(['network', 'ls'])).includes('ov'));
    const doomed = await c.sandbox();
    const ep = json(await h2.daemon.ok(['connect', 'ov', '--netns', doomed, '--json']));
    await TestCluster.until('the endpoint on host1', async () => json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string }) => e.mac === ep.mac && e.type === 'store'));
    const s1 = await c.sandbox();
    expect((await h1.daemon.cli(['connect', 'ov', '--netns', s1, '--ip', ep.ip])).code).not.toBe(0);
    // The sandbox goes away under the daemon (a container that died): no disconnect is asked for.
    await delNetns(doomed);
    await TestCluster.until('host 2 to release it and host 1 to uninstall it', async () => !json(await h1.daemon.ok(['fdb', 'show', 'ov', '--json'])).some((e: { mac: string; type: string }) => e.mac === ep.mac && e.type === 'store'));
    const keys = (await c.etcd.ctl(['get', '--prefix', '/tsnet/v1/', '--keys-only'])).split('\n').filter(Boolean);
    expect(keys.filter((k) => k.includes(ep.id) || k.endsWith(`/${ep.ip}`))).toEqual([]);
    const again = await h1.daemon.cli(['connect', 'ov', '--netns', s1, '--ip', ep.ip, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(json(again.stdout).ip).toBe(ep.ip);
  }, 120_000);
});
