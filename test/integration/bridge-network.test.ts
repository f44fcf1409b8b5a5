/**
 * The newcomer flow, end to end through the CLI and the daemon: create a bridge network, connect two
 * namespaces, ping each other and the gateway, iperf3, fdb show, disconnect, rm. Then bad input, each
 * a clear error with nothing half-made, and a kill -9 of the daemon with traffic resuming after restart.
 */
import { pingOk } from '../helpers/traffic.js';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { kill, nsExec, nsSpawn, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping bridge network integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function setup(extra: string[] = []) {
  const { d, ns } = await daemonWithSandboxes(2, extra, (f) => cleanup.push(f));
  return { d, c1: ns[0], c2: ns[1] };
}

async function links(ns: string | null): Promise<string[]> {
  const out = await sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show']);
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname);
}

describe.skipIf(skip !== null)('bridge network through the daemon', () => {
  it('creates a network, connects two namespaces, pings, moves TCP, shows the FDB, disconnects and removes', async () => {
    const { d, c1, c2 } = await setup();
    const id = (await d.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.61.0.0/24', '-o', 'bridge.name=tsnbr0', 'net1'])).trim();
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(await links(d.hostNs)).toContain('tsnbr0');

    const ep1 = JSON.parse(await d.ok(['connect', 'net1', '--netns', c1, '--json']));
    const ep2 = JSON.parse(await d.ok(['connect', 'net1', '--netns', c2, '--ip', '10.61.0.50', '--json']));
    expect(ep1).toMatchObject({ ip: '10.61.0.2', prefixLen: 24, mac: '02:42:0a:3d:00:02', ifname: 'eth0' });
    expect(ep2).toMatchObject({ ip: '10.61.0.50', mac: '02:42:0a:3d:00:32' });
    const addr = JSON.parse(await sh('ip', ['-n', c1, '-j', 'addr', 'show', 'dev', 'eth0']))[0];
    expect(addr.address).toBe('02:42:0a:3d:00:02');
    expect(addr.addr_info.map((a: { local: string }) => a.local)).toContain('10.61.0.2');
    const route = await sh('ip', ['-n', c1, 'route', 'show', 'default']);
    expect(route).toMatch(/default via 10\.61\.0\.1 dev eth0/);

    expect(await pingOk(c1, '10.61.0.50')).toBe(true);
    expect(await pingOk(c2, '10.61.0.2')).toBe(true);
    expect(await pingOk(c1, '10.61.0.1')).toBe(true); // the gateway, on the host side

    const server = nsSpawn(c2, 'iperf3', ['-s', '-1', '-B', '10.61.0.50']);
    try {
      await new Promise((r) => setTimeout(r, 400));
      const j = JSON.parse(await nsExec(c1, 'iperf3', ['-c', '10.61.0.50', '-t', '1', '-J'], { timeoutMs: 20_000 }));
      expect(j.end.sum_received.bytes).toBeGreaterThan(10e6);
    } finally {
      kill(server);
    }

    const fdb = JSON.parse(await d.ok(['fdb', 'show', 'net1', '--json'])) as { mac: string; type: string; port: string }[];
    expect(fdb.filter((e) => e.type === 'static').map((e) => e.mac).sort()).toEqual(['02:42:0a:3d:00:01', '02:42:0a:3d:00:02', '02:42:0a:3d:00:32']);
    const table = await d.ok(['fdb', 'show']);
    expect(table).toMatch(/02:42:0a:3d:00:32\s+\S+:eth0\s+static/);

    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'net1']))[0];
    expect(inspect.IPAM.Config[0]).toMatchObject({ Subnet: '10.61.0.0/24', Gateway: '10.61.0.1' });
    expect(Object.values(inspect.Endpoints).map((e) => (e as { IPv4Address: string }).IPv4Address).sort()).toEqual(['10.61.0.2/24', '10.61.0.50/24']);

    const stats = JSON.parse(await d.ok(['stats', '--json']));
    const p1 = stats.ports.find((p: { endpoint: string }) => p.endpoint === ep1.id);
    expect(p1.rxPackets).toBeGreaterThan(1000);

    const rmBusy = await d.cli(['network', 'rm', 'net1']);
    expect(rmBusy.code).not.toBe(0);
    expect(rmBusy.stderr).toMatch(/net1 has 2 connected endpoint/);

    await d.ok(['disconnect', 'net1', c2]);
    expect(await links(c2)).not.toContain('eth0');
    // The address is free again: the same static IP can be taken by another sandbox.
    const again = JSON.parse(await d.ok(['connect', 'net1', '--netns', c2, '--ip', '10.61.0.50', '--json']));
    expect(again.ip).toBe('10.61.0.50');

    await d.ok(['network', 'rm', '--force', 'net1']);
    expect(await links(c1)).not.toContain('eth0');
    expect(await links(d.hostNs)).not.toContain('tsnbr0');
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
  });

  it('refuses bad input with a clear error naming the value, and leaves nothing half-made', async () => {
    const { d, c1, c2 } = await setup();
    const bad = async (args: string[], message: RegExp) => {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    await bad(['network', 'create', '--subnet', '10.0.0.0/33', 'x'], /10\.0\.0\.0\/33/);
    await bad(['network', 'create', '--subnet', '10.62.0.1/24', 'x'], /10\.62\.0\.1\/24/);
    await bad(['network', 'create', '-o', 'colour=blue', 'x'], /colour.*accepted/);
    await bad(['network', 'create', '-o', 'icc=maybe', 'x'], /icc=maybe: expected true or false/);
    await d.ok(['network', 'create', '--subnet', '10.62.0.0/24', 'n1']);
    await bad(['network', 'create', '--subnet', '10.62.0.128/25', 'n2'], /overlap.*n1/i);
    await bad(['network', 'create', '--subnet', '10.63.0.0/24', 'n1'], /n1 exists already/);
    await bad(['connect', 'nope', '--netns', c1], /network "nope" does not exist/);
    await bad(['connect', 'n1', '--netns', 'tsnt-no-such-ns'], /"tsnt-no-such-ns" does not exist/);
    await bad(['connect', 'n1', '--pid', '999999999'], /process 999999999 does not exist/);
    await bad(['connect', 'n1', '--netns', c1, '--ip', '10.99.0.5'], /10\.99\.0\.5/);
    await bad(['connect', 'n1', '--netns', c1, '--ip', '10.62.0.1'], /10\.62\.0\.1/); // the gateway
    await bad(['connect', 'n1', '--netns', c1, '--mac', 'zz:zz'], /zz:zz/);
    await bad(['connect', 'n1', '--netns', c1, '--ifname', 'this-name-is-too-long'], /this-name-is-too-long/);
    await d.ok(['connect', 'n1', '--netns', c1, '--ip', '10.62.0.7']);
    await bad(['connect', 'n1', '--netns', c2, '--ip', '10.62.0.7'], /10\.62\.0\.7/);
    // An interface name that exists in the sandbox: the TAP is refused before anything is made.
    await sh('ip', ['-n', c2, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
    await bad(['connect', 'n1', '--netns', c2], /eth0 exists already/);
    // Nothing was left behind by the failures: one endpoint, the next dynamic address is the first.
    await sh('ip', ['-n', c2, 'link', 'del', 'eth0']);
    expect(await links(c2)).not.toContain('eth0');
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'n1']))[0];
    expect(Object.keys(inspect.Endpoints)).toHaveLength(1);
    const ep = JSON.parse(await d.ok(['connect', 'n1', '--netns', c2, '--json']));
    expect(ep.ip).toBe('10.62.0.2');
    await bad(['disconnect', 'n1', 'nobody'], /no endpoint "nobody"/);
    const noDaemon = await runCli(['network', 'ls'], `/tmp/tsnet-none-${process.pid}/api.sock`);
    expect(noDaemon.stderr).toMatch(/cannot reach the daemon at .*api\.sock/);
  });

  it('survives kill -9: a restarted daemon re-adopts the TAPs and traffic resumes', async () => {
    const { d, c1, c2 } = await setup();
    await d.ok(['network', 'create', '--subnet', '10.64.0.0/24', 'n1']);
    await d.ok(['connect', 'n1', '--netns', c1]);
    await d.ok(['connect', 'n1', '--netns', c2]);
    expect(await pingOk(c1, '10.64.0.3')).toBe(true);
    await d.kill('SIGKILL');
    // The containers keep their interfaces while the switch is down, but nothing moves.
    expect(await links(c1)).toContain('eth0');
    expect(await pingOk(c1, '10.64.0.3')).toBe(false);
    await d.start();
    expect(d.log).toMatch(/1 network\(s\), 2 endpoint\(s\) adopted/);
    expect(await pingOk(c1, '10.64.0.3')).toBe(true);
    expect(await pingOk(c2, '10.64.0.1')).toBe(true);
    // State survived: the next address continues after the adopted ones.
    const ep = JSON.parse(await d.ok(['network', 'inspect', 'n1']))[0];
    expect(Object.keys(ep.Endpoints)).toHaveLength(2);
    await d.kill('SIGTERM');
    expect(d.log).toMatch(/SIGTERM: shutting down/);
  });

  it('picks default subnets from the configured pools, skipping taken ones; icc=false isolates containers', async () => {
    const { d, c1, c2 } = await setup(['--default-address-pool', 'base=10.70.0.0/16,size=24']);
    await d.ok(['network', 'create', '--subnet', '10.70.0.0/24', 'taken']);
    await d.ok(['network', 'create', '-o', 'icc=false', 'auto']);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'auto']))[0];
    expect(inspect.IPAM.Config[0].Subnet).toBe('10.70.1.0/24');
    await d.ok(['connect', 'auto', '--netns', c1]);
    await d.ok(['connect', 'auto', '--netns', c2]);
    expect(await pingOk(c1, '10.70.1.1')).toBe(true); // the gateway: allowed
    expect(await pingOk(c1, '10.70.1.3')).toBe(false); // the other container: not (ARP never reaches it)
    // Even with its MAC known, unicast to the other container is dropped, and counted.
    await sh('ip', ['-n', c1, 'neigh', 'replace', '10.70.1.3', 'lladdr', '02:42:0a:46:01:03', 'dev', 'eth0']);
    expect(await pingOk(c1, '10.70.1.3')).toBe(false);
    const stats = JSON.parse(await d.ok(['stats', '--json']));
    const drops = stats.networks.find((n: { network: string }) => n.network === 'auto').drops;
    expect(drops['icc-disabled']).toBeGreaterThan(0);
  });
});
