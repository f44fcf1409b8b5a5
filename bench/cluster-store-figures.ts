/**
 * Figures for the cluster store (issue 14), in one run, as root (`npx tsx bench/cluster-store-figures.ts`,
 * after `npm run build`): four "hosts" on one underlay bridge, two following a real etcd and two
 * configured statically (-o peers, flood-and-learn), and
 *   - the time from `connect` on host 2 to the first ping answered from host 1;
 *   - one TCP stream (iperf3, 3 s; 3 alternated rounds, medians) across the store-configured overlay and across the static one;
 *   - etcd keys and bytes (key + value) per endpoint.
 * Uses the integration tests' helpers (test/helpers/cluster-hosts.ts); everything it makes it removes.
 */
import { TestCluster, pingOnce } from '../test/helpers/cluster-hosts.js';
import { kill, nsExec, nsSpawn } from '../test/helpers/netns.js';

async function tcp(server: string, client: string, ip: string): Promise<number> {
  const s = nsSpawn(server, 'iperf3', ['-s', '-1', '-B', ip]);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const j = JSON.parse(await nsExec(client, 'iperf3', ['-c', ip, '-t', '3', '-J'], { timeoutMs: 30_000 }));
    return (j.end.sum_received.bits_per_second as number) / 1e9;
  } finally {
    kill(s);
  }
}

const c = new TestCluster();
try {
  await c.setup([15, 15]);
  const [h1, h2] = c.hosts;
  const s3 = await c.addHost(0, { cluster: false });
  const s4 = await c.addHost(0, { cluster: false });
  await h1.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.251.0.0/24', 'ov']);
  await TestCluster.until('ov on host2', async () => (await h2.daemon.ok(['network', 'ls'])).includes('ov'));
  const [a, b] = [await c.sandbox(), await c.sandbox()];
  await h1.daemon.ok(['connect', 'ov', '--netns', a]);
  const t0 = Date.now();
  const ep = JSON.parse(await h2.daemon.ok(['connect', 'ov', '--netns', b, '--json']));
  const t1 = Date.now();
  while (!(await pingOnce(a, ep.ip, 1))) if (Date.now() - t0 > 10_000) throw new Error('no ping within 10 s');
  const t2 = Date.now();
  console.log(`connect on host 2 -> first ping answered from host 1: ${t2 - t0} ms from the CLI's start (the connect command itself took ${t1 - t0} ms; ${t2 - t1} ms after it returned)`);

  // Static overlay on hosts 3 and 4: same VNI space, its own port, flood-and-learn.
  for (const [h, peer] of [[s3, s4], [s4, s3]] as const) {
    await h.daemon.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.252.0.0/24', '-o', 'vni=9000', '-o', `peers=${peer.vtep}`, 'st']);
  }
  const [x, y] = [await c.sandbox(), await c.sandbox()];
  await s3.daemon.ok(['connect', 'st', '--netns', x, '--ip', '10.252.0.3']);
  await s4.daemon.ok(['connect', 'st', '--netns', y, '--ip', '10.252.0.4']);
  await pingOnce(x, '10.252.0.4', 3);
  // Alternated rounds, medians: on 2 cores one 3 s stream swings with whatever else runs.
  const stores: number[] = [];
  const statics: number[] = [];
  for (let i = 0; i < 3; i++) {
    stores.push(await tcp(b, a, ep.ip));
    statics.push(await tcp(y, x, '10.252.0.4'));
  }
  const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
  const [store, stat] = [median(stores), median(statics)];
  const list = (v: number[]) => v.map((g) => g.toFixed(2)).join(', ');
  console.log(`one TCP stream over the overlay, median of 3 alternated rounds: store ${store.toFixed(2)} Gbit/s (${list(stores)}), static ${stat.toFixed(2)} Gbit/s (${list(statics)}); ratio ${(store / stat).toFixed(2)}`);

  const kv = JSON.parse(await c.etcd.ctl(['get', '--prefix', '/tsnet/v1/', '-w', 'json']));
  const rows = (kv.kvs ?? []).map((k: { key: string; value: string }) => ({ key: Buffer.from(k.key, 'base64').toString(), bytes: Buffer.from(k.key, 'base64').length + Buffer.from(k.value, 'base64').length }));
  const per = rows.filter((r: { key: string }) => /\/(ipam|endpoints)\//.test(r.key));
  const total = per.reduce((s: number, r: { bytes: number }) => s + r.bytes, 0);
  const n = per.filter((r: { key: string }) => r.key.includes('/endpoints/')).length;
  console.log(`etcd: ${rows.length} keys in all; ${n} endpoints: ${(per.length / n).toFixed(1)} keys and ${(total / n).toFixed(0)} bytes (key + value) per endpoint`);
  for (const r of rows) console.log(`  ${r.key}  ${r.bytes} B`);
} finally {
  await c.teardown();
}
