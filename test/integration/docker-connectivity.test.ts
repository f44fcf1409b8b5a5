/**
 * What Docker's bridge gives a container beyond its network, through our driver with a real dockerd
 * (test/helpers/dockerd.ts): a published port answers a client namespace outside the network;
 * outbound traffic reaches a "remote" namespace with the host's address as its source; bad input shows
 * our error text in Docker and leaves nothing behind; a container attached with `connect --pid` and
 * then removed is released within a second; the daemon killed -9 and restarted keeps containers
 * forwarding; dockerd restarted with --live-restore leaves them connected and forwarding too; a
 * container removed while our daemon is down is released at its next start.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost, TEST_IMAGE } from '../helpers/dockerd.js';
import { addNetns, delNetns, nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();

/** GET on the daemon's API socket straight from the test (no CLI process: timing a release needs it quick). */
function apiGet(socket: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)('Docker: published ports, masquerade, bad input, containers that go, restarts', () => {
  const h = new DockerHost({ liveRestore: true });
  const client = `tsndc-${h.tag}`;
  const remote = `tsndr-${h.tag}`;

  beforeAll(async () => {
    await h.setup();
    // The client and the remote host hang off the test's "host" namespace on their own links.
    for (const [ns, hostIf, net] of [
      [client, 'hc0', '198.18.7'],
      [remote, 'hr0', '198.18.8'],
    ] as const) {
      await addNetns(ns);
      await sh('ip', ['-n', h.hostNs, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh('ip', ['-n', h.hostNs, 'addr', 'add', `${net}.1/24`, 'dev', hostIf]);
      await sh('ip', ['-n', h.hostNs, 'link', 'set', hostIf, 'up']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    await sh('ip', ['-n', h.hostNs, 'link', 'add', 'dm0', 'type', 'veth', 'peer', 'name', 'dm1']);
    await sh('ip', ['-n', h.hostNs, 'link', 'set', 'dm0', 'up']);
    await h.startDockerd();
    await h.startTsnet();
    await h.importImage();
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.203.0.0/24', '-o', 'tsnet.name=web', 'web']);
  }, 120_000);

  afterAll(async () => {
    await h.cleanup();
    await delNetns(client);
    await delNetns(remote);
    expect(h.leftovers()).toEqual([]);
  }, 180_000);

  const nftTable = () => sh('ip', ['netns', 'exec', h.hostNs, 'nft', 'list', 'table', 'ip', 'tsnet-switch']).catch(() => '');

  it('a published port answers a client outside the network; outbound traffic is masqueraded', async () => {
    await h.dockerOk(['run', '-d', '--name', 'www', '--network', 'web', '-p', '8080:80', TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(await nftTable()).toMatch(/tcp dport 8080 dnat to 10\.203\.0\.\d+:80/);
    let page = '';
    for (let i = 0; i < 20 && !page.includes('hello'); i++) {
      page = await nsExec(client, 'curl', ['-s', '--max-time', '3', 'http://198.18.7.1:8080/']).catch(() => '');
      if (!page) await new Promise((r) => setTimeout(r, 250));
    }
    expect(page).toContain('hello from a tsnet container');

    // The remote host sees the host's address, not the container's.
    const server = spawn('ip', ['netns', 'exec', remote, 'python3', '-c', "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',9000))\ns.listen()\nprint('ready',flush=True)\nc,a=s.accept()\nprint('peer',a[0],flush=True)"], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout.on('data', (d) => (out += d));
    try {
      for (let i = 0; i < 50 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 100));
      await h.dockerOk(['exec', 'www', 'sh', '-c', 'echo hi | nc -w 2 198.18.8.2 9000']);
      for (let i = 0; i < 50 && !out.includes('peer'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('peer 198.18.8.1');
    } finally {
      server.kill('SIGKILL');
    }
    expect(await nftTable()).toContain('ip saddr 10.203.0.0/24 oifname != ');

    // Removing the container removes its port forward.
    await h.dockerOk(['rm', '-f', 'www']);
    expect(await nftTable()).not.toContain('dport 8080');
  }, 120_000);

  it('bad input: Docker shows our error naming the value, and nothing is left half-made', async () => {
    const netsBefore = await h.tsnetOk(['network', 'ls', '--json']);
    const dockerBefore = await h.dockerOk(['network', 'ls', '-q']);
    const cases: [string[], RegExp][] = [
      [['--ipv6', '--subnet', '10.204.0.0/24'], /--ipv6 without an IPv6 --subnet: tsnet's IPAM driver has no default IPv6 pool; add one besides the IPv4 --subnet, e\.g\. --subnet fd00:1::\/64/],
      [['--ipv6', '--subnet', '10.204.0.0/24', '--subnet', 'fe80::/64'], /IPv6 subnet fe80::\/64 is link-local/],
      [['--ipv6', '--subnet', '10.204.0.0/24', '--subnet', 'fd00:204::/64', '--gateway', 'fd00:204::'], /IPv6 gateway fd00:204:: is the subnet-router anycast address of fd00:204::\/64/],
      [['--subnet', '10.203.0.128/25'], /10\.203\.0\.128\/25 overlaps network 'web'/],
      [['--subnet', '10.204.0.0/24', '--gateway', '10.204.0.255'], /gateway 10\.204\.0\.255 is the broadcast address/],
      [['--subnet', '10.204.0.0/24', '-o', 'frobnicate=yes'], /-o frobnicate=yes: unknown option; accepted: /],
      [['--subnet', '10.204.0.0/24', '-o', 'tsnet.driver=vlan'], /-o tsnet.driver=vlan: expected one of/],
    ];
    for (const [args, want] of cases) {
      const r = await h.docker(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', ...args, 'bad']);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(want);
    }
    // A second macvlan network on a parent that carries one already.
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.205.0.0/24', '-o', 'tsnet.driver=macvlan', '-o', 'parent=dm0', '-o', 'tsnet.name=mv1', 'mv1']);
    const r = await h.docker(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.206.0.0/24', '-o', 'tsnet.driver=macvlan', '-o', 'parent=dm0', 'mv2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/dm0/);
    await h.dockerOk(['network', 'rm', 'mv1']);
    // A published port without a host port: refused, and the container is not left connected.
    const p = await h.docker(['run', '--rm', '--network', 'web', '-p', '80', TEST_IMAGE, 'echo']);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/give the host port/);
    expect(await h.tsnetOk(['network', 'ls', '--json'])).toBe(netsBefore);
    expect(await h.dockerOk(['network', 'ls', '-q'])).toBe(dockerBefore);
    const web = JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0];
    expect(Object.keys(web.Endpoints)).toHaveLength(0);
  }, 120_000);

  it('a container attached with connect --pid and then removed releases its endpoint within a second', async () => {
    const id = await h.dockerOk(['run', '-d', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
    const pid = await h.dockerOk(['inspect', '-f', '{{.State.Pid}}', id]);
    const ep = JSON.parse(await h.tsnetOk(['connect', 'web', '--pid', pid, '--json'])) as { id: string; ip: string };
    expect(await h.dockerOk(['exec', id, 'ping', '-c', '1', '-W', '2', '10.203.0.1'])).toContain('1 packets received');
    await h.dockerOk(['rm', '-f', id]);
    // From the moment docker rm returns (the container's processes and namespace are gone).
    const t0 = Date.now();
    let web = (await apiGet(h.apiSock, '/v1/networks/web')) as { Endpoints: Record<string, unknown> };
    while (web.Endpoints[ep.id] && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50));
      web = (await apiGet(h.apiSock, '/v1/networks/web')) as { Endpoints: Record<string, unknown> };
    }
    const took = Date.now() - t0;
    expect(web.Endpoints[ep.id]).toBeUndefined();
    expect(took).toBeLessThan(1000); // a tick is 250 ms
    const stats = JSON.parse(await h.tsnetOk(['stats', '--json'])) as { ports: { endpoint: string | null }[] };
    expect(stats.ports.some((p) => p.endpoint === ep.id)).toBe(false);
    expect(h.tsnetLog).toContain(`endpoint ${ep.id}`);
    // Its address is free again: a static request for it succeeds.
    const again = await h.dockerOk(['run', '-d', '--name', 'again', '--network', 'web', '--ip', ep.ip, TEST_IMAGE, 'sleep', '600']);
    expect(again).toMatch(/^[0-9a-f]{64}$/);
    await h.dockerOk(['rm', '-f', 'again']);
  }, 120_000);

  it('kill -9 and restart keep containers connected and forwarding', async () => {
    await h.dockerOk(['run', '-d', '--name', 'k1', '--network', 'web', '-p', '8081:80', TEST_IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    await h.dockerOk(['run', '-d', '--name', 'k2', '--network', 'web', TEST_IMAGE, 'sleep', '600']);
    const ip1 = await h.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.web.IPAddress}}', 'k1']);
    await h.stopTsnet('SIGKILL');
    await h.startTsnet();
    expect(await h.dockerOk(['exec', 'k2', 'ping', '-c', '2', '-W', '2', ip1])).toContain('2 packets received');
    const page = await nsExec(client, 'curl', ['-s', '--max-time', '5', 'http://198.18.7.1:8081/']);
    expect(page).toContain('hello from a tsnet container');
    const web = JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0];
    const addrs = Object.values(web.Endpoints as Record<string, { IPv4Address: string }>).map((e) => e.IPv4Address);
    expect(addrs).toContain(`${ip1}/24`);
    expect(addrs).toHaveLength(2);
    await h.dockerOk(['rm', '-f', 'k1', 'k2']);
  }, 180_000);

  it('dockerd restarting (--live-restore) leaves containers connected and forwarding', async () => {
    await h.dockerOk(['run', '-d', '--name', 'l1', '--network', 'web', TEST_IMAGE, 'sleep', '600']);
    await h.dockerOk(['run', '-d', '--name', 'l2', '--network', 'web', TEST_IMAGE, 'sleep', '600']);
    const ip2 = await h.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.web.IPAddress}}', 'l2']);
    const pid1 = await h.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'l1']);
    const before = Object.keys(JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0].Endpoints).sort();
    await h.stopDockerd();
    // dockerd is gone; the containers are not, and neither is their network.
    expect(await sh('nsenter', ['-t', pid1, '-n', 'ping', '-c', '2', '-W', '2', ip2])).toContain(' 2 received'); // iputils' ping
    await h.startDockerd();
    expect(await h.dockerOk(['exec', 'l1', 'ping', '-c', '2', '-W', '2', ip2])).toContain('2 packets received');
    const inspected = JSON.parse(await h.dockerOk(['network', 'inspect', 'web']))[0] as { Containers: Record<string, { Name: string }> };
    expect(Object.values(inspected.Containers).map((c) => c.Name).sort()).toEqual(expect.arrayContaining(['l1', 'l2']));
    // The same endpoints: nothing was made again or lost across dockerd's restart.
    expect(Object.keys(JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0].Endpoints).sort()).toEqual(before);
    await h.dockerOk(['rm', '-f', 'l1', 'l2']);
  }, 180_000);

  it('a container removed while the daemon is down is released when it starts again', async () => {
    await h.dockerOk(['run', '-d', '--name', 'gone', '--network', 'web', TEST_IMAGE, 'sleep', '600']);
    const ip = await h.dockerOk(['inspect', '-f', '{{.NetworkSettings.Networks.web.IPAddress}}', 'gone']);
    const web0 = JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0] as { Endpoints: Record<string, { IPv4Address: string }> };
    const id = Object.entries(web0.Endpoints).find(([, e]) => e.IPv4Address === `${ip}/24`)![0];
    const pid = await h.dockerOk(['inspect', '-f', '{{.State.Pid}}', 'gone']);
    const inside = JSON.parse(await sh('nsenter', ['-t', pid, '-n', 'ip', '-j', 'link', 'show'])) as { ifname: string; ifalias?: string }[];
    expect(inside.filter((l) => l.ifalias?.includes(`ep=${id}`)).map((l) => l.ifname)).toEqual(['eth0']); // the marker names it
    await h.stopTsnet('SIGKILL');
    const t0 = Date.now();
    const rm = await h.docker(['rm', '-f', 'gone'], 120_000); // Docker retries the plugin, then gives up on it
    const rmTook = Date.now() - t0;
    await h.startTsnet();
    const web = JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0] as { Endpoints: Record<string, unknown> };
    expect(web.Endpoints[id], `docker rm: ${rm.code} ${rm.stderr} (${rmTook} ms)`).toBeUndefined();
    const about = h.tsnetLog.split('\n').filter((l) => l.includes(id)).join('\n');
    expect(about).toMatch(/released at start: Docker moved its interface tsn\S+ out of the container \(it left\) while the daemon was down/);
    expect(about).not.toMatch(/could not|reconcile/); // released by what it is, not swept up as an unknown device
    // Its TAP (back in the host namespace under its source name, persistent) is gone with it.
    const links = JSON.parse(await sh('ip', ['-n', h.hostNs, '-j', 'link', 'show'])) as { ifname: string; ifalias?: string }[];
    expect(links.filter((l) => l.ifalias?.includes(`ep=${id}`))).toEqual([]);
    // Its address is free for the next container, as Docker's own IPAM would have it.
    const again = await h.dockerOk(['run', '-d', '--name', 'again2', '--network', 'web', '--ip', ip, TEST_IMAGE, 'sleep', '600']);
    expect(again).toMatch(/^[0-9a-f]{64}$/);
    await h.dockerOk(['rm', '-f', 'again2']);
    console.log(`docker rm with the plugin down: exit ${rm.code} after ${rmTook} ms`);
  }, 240_000);
});
