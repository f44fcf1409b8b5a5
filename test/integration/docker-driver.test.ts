/**
 * tsnet-switch as Docker's network and IPAM driver, with a real dockerd (test/helpers/dockerd.ts: its
 * own namespaces, data root and sockets; nothing of the host changes): containers on a `tsnet` network
 * ping each other and the gateway through our switch, `docker run --ip`, `docker network inspect`
 * shows our IPAM, `docker network connect/disconnect`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost, TEST_IMAGE } from '../helpers/dockerd.js';
import { privilegedSkipReason } from '../helpers/netns.js';
import { makeLan } from '../helpers/lan.js';

const skip = privilegedSkipReason();

interface StatsPort {
  network: string;
  port: string;
  endpoint: string | null;
  rxPackets: number;
  txPackets: number;
}

describe.skipIf(skip)('Docker remote network + IPAM driver (real dockerd)', () => {
  const h = new DockerHost();

  beforeAll(async () => {
    await h.setup();
    await h.startDockerd();
    await h.startTsnet();
    await h.importImage();
  }, 120_000);

  afterAll(async () => {
    await h.cleanup();
    expect(h.leftovers()).toEqual([]);
  }, 180_000);

  const ipOf = async (container: string, network: string) => h.dockerOk(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);

  it('two containers ping each other and the gateway across the switch; --ip; inspect shows our IPAM', async () => {
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.201.0.0/24', '--ip-range', '10.201.0.128/25', '--aux-address', 'router=10.201.0.254', '-o', 'tsnet.name=web', 'web']);
    await h.dockerOk(['run', '-d', '--name', 'c1', '--network', 'web', TEST_IMAGE, 'sleep', '600']);
    await h.dockerOk(['run', '-d', '--name', 'c2', '--network', 'web', '--ip', '10.201.0.50', TEST_IMAGE, 'sleep', '600']);
    const ip1 = await ipOf('c1', 'web');
    expect(await ipOf('c2', 'web')).toBe('10.201.0.50');
    // Dynamic addresses come from the ip-range; the static one may lie outside it (as with Docker's IPAM).
    expect(Number(ip1.split('.')[3])).toBeGreaterThanOrEqual(128);
    // Inside the container: the address Docker reports, on the interface libnetwork renamed.
    expect(await h.dockerOk(['exec', 'c2', 'ip', '-4', 'addr', 'show', 'eth0'])).toContain('10.201.0.50/24');

    const before = JSON.parse(await h.tsnetOk(['stats', '--json'])) as { ports: StatsPort[] };
    const ping = await h.dockerOk(['exec', 'c1', 'ping', '-c', '3', '-W', '2', '10.201.0.50']);
    expect(ping).toContain('3 packets received');
    expect(await h.dockerOk(['exec', 'c2', 'ping', '-c', '1', '-W', '2', '10.201.0.1'])).toContain('1 packets received');
    const after = JSON.parse(await h.tsnetOk(['stats', '--json'])) as { ports: StatsPort[] };
    const eps = after.ports.filter((p) => p.network === 'web' && p.endpoint);
    expect(eps).toHaveLength(2);
    // Named by their containers (read from dockerd's API after Join), on the interface libnetwork
    // renamed (the watcher followed the move).
    expect(eps.map((p) => p.port).sort()).toEqual(['c1:eth0', 'c2:eth0']);
    for (const p of eps) {
      const b = before.ports.find((x) => x.endpoint === p.endpoint);
      expect(p.rxPackets - (b?.rxPackets ?? 0)).toBeGreaterThanOrEqual(3); // the echo requests / replies crossed the switch
    }

    const dinspect = JSON.parse(await h.dockerOk(['network', 'inspect', 'web']))[0];
    expect(dinspect.Driver).toBe('tsnet');
    expect(dinspect.IPAM.Driver).toBe('tsnet');
    expect(dinspect.IPAM.Config[0]).toMatchObject({ Subnet: '10.201.0.0/24', IPRange: '10.201.0.128/25' });
    const dockerAddrs = Object.values(dinspect.Containers as Record<string, { IPv4Address: string }>).map((c) => c.IPv4Address).sort();
    expect(dockerAddrs).toEqual([`10.201.0.50/24`, `${ip1}/24`].sort());
    const tinspect = JSON.parse(await h.tsnetOk(['network', 'inspect', 'web']))[0];
    expect(tinspect.IPAM.Config[0]).toMatchObject({ Subnet: '10.201.0.0/24', IPRange: '10.201.0.128/25', Gateway: '10.201.0.1', AuxiliaryAddresses: { router: '10.201.0.254' } });
    const ours = Object.values(tinspect.Endpoints as Record<string, { IPv4Address: string; Attached: boolean }>);
    expect(ours.map((e) => e.IPv4Address).sort()).toEqual(dockerAddrs);
    expect(ours.every((e) => e.Attached)).toBe(true);
    // fdb show names the endpoints as stats does.
    const fdb = JSON.parse(await h.tsnetOk(['fdb', 'show', 'web', '--json'])) as { port: string }[];
    expect(fdb.map((e) => e.port).filter((p) => /^c[12]:eth0$/.test(p)).sort()).toEqual(['c1:eth0', 'c2:eth0']);
    // And across a restart: the name is in the record.
    await h.stopTsnet('SIGKILL');
    await h.startTsnet(['--docker-api', 'off']);
    const again = JSON.parse(await h.tsnetOk(['stats', '--json'])) as { ports: StatsPort[] };
    expect(again.ports.filter((p) => p.network === 'web' && p.endpoint).map((p) => p.port).sort()).toEqual(['c1:eth0', 'c2:eth0']);
  }, 120_000);

  it('docker network connect / disconnect attach and detach a second interface', async () => {
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.202.0.0/24', '-o', 'tsnet.name=db', 'db']);
    await h.dockerOk(['run', '-d', '--name', 'c3', '--network', 'db', TEST_IMAGE, 'sleep', '600']);
    await h.dockerOk(['network', 'connect', 'db', 'c1']);
    const dbIp = await ipOf('c1', 'db');
    expect(dbIp).toMatch(/^10\.202\.0\./);
    expect(await h.dockerOk(['exec', 'c1', 'ip', '-4', 'addr', 'show', 'eth1'])).toContain(`${dbIp}/24`);
    expect(await h.dockerOk(['exec', 'c3', 'ping', '-c', '2', '-W', '2', dbIp])).toContain('2 packets received');
    let t = JSON.parse(await h.tsnetOk(['network', 'inspect', 'db']))[0];
    expect(Object.keys(t.Endpoints)).toHaveLength(2);

    await h.dockerOk(['network', 'disconnect', 'db', 'c1']);
    t = JSON.parse(await h.tsnetOk(['network', 'inspect', 'db']))[0];
    expect(Object.values(t.Endpoints as Record<string, { IPv4Address: string }>).map((e) => e.IPv4Address)).not.toContain(`${dbIp}/24`);
    expect(Object.keys(t.Endpoints)).toHaveLength(1);
    const links = await h.dockerOk(['exec', 'c1', 'ip', 'link']);
    expect(links).not.toContain('eth1');
    // c1 is still on web.
    expect(await h.dockerOk(['exec', 'c1', 'ping', '-c', '1', '-W', '2', '10.201.0.50'])).toContain('1 packets received');
  }, 120_000);

  it("--ipv6 through Docker (its default IPAM): dual-stack containers ping6 each other and the gateway; -o parent= puts a NIC on a tsnet bridge", async () => {
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipv6', '--subnet', '10.207.0.0/24', '--subnet', 'fd00:207::/64', '-o', 'tsnet.name=ds', 'ds']);
    await h.dockerOk(['run', '-d', '--name', 'd1', '--network', 'ds', TEST_IMAGE, 'sleep', '600']);
    await h.dockerOk(['run', '-d', '--name', 'd2', '--network', 'ds', '--ip6', 'fd00:207::50', TEST_IMAGE, 'sleep', '600']);
    const ip6Of = (c: string) => h.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "ds").GlobalIPv6Address}}', c]);
    expect(await ip6Of('d2')).toBe('fd00:207::50');
    const d1 = await ip6Of('d1');
    expect(d1).toMatch(/^fd00:207::/);
    expect(await h.dockerOk(['exec', 'd1', 'ip', '-6', 'route'])).toMatch(/default via fd00:207::1 dev eth0/);
    expect(await h.dockerOk(['exec', 'd1', 'ping', '-c', '2', '-W', '2', 'fd00:207::50'])).toContain('2 packets received');
    expect(await h.dockerOk(['exec', 'd2', 'ping', '-c', '1', '-W', '2', 'fd00:207::1'])).toContain('1 packets received'); // the gateway port
    expect(await h.dockerOk(['exec', 'd2', 'ping', '-c', '1', '-W', '2', '10.207.0.1'])).toContain('1 packets received');
    const t = JSON.parse(await h.tsnetOk(['network', 'inspect', 'ds']))[0];
    expect(t.EnableIPv6).toBe(true);
    expect(Object.values(t.Endpoints as Record<string, { IPv6Address: string }>).map((e) => e.IPv6Address).sort()).toEqual([`${d1}/64`, 'fd00:207::50/64'].sort());
    await h.dockerOk(['rm', '-f', 'd1', 'd2']);
    await h.dockerOk(['network', 'rm', 'ds']);

    // The talk's "IPAM underlay" flow through Docker: a NIC on the bridge, the LAN's router as the default route.
    const lan = await makeLan({ hostNs: h.hostNs, hostCidr: '10.208.0.1/24' });
    try {
      await h.dockerOk(['network', 'create', '-d', 'tsnet', '--subnet', '10.208.0.0/24', '--gateway', '10.208.0.254', '--aux-address', 'DefaultGatewayIPv4=10.208.0.1', '-o', 'parent=p0', '-o', 'gateway_port=false', '-o', 'tsnet.name=lanbr', 'lanbr']);
      const out = await h.dockerOk(['run', '--rm', '--network', 'lanbr', TEST_IMAGE, 'sh', '-c', 'ip route; ping -c 2 -W 2 10.208.0.1']);
      expect(out).toMatch(/default via 10\.208\.0\.1 dev eth0/);
      expect(out).toContain('2 packets received');
      expect(JSON.parse(await h.tsnetOk(['network', 'inspect', 'lanbr']))[0].Uplinks).toMatchObject([{ Interface: 'p0', Attached: true }]);
      await h.dockerOk(['network', 'rm', 'lanbr']);
    } finally {
      await lan.teardown();
    }
  }, 120_000);

  it('--ipv6 --ipam-driver tsnet: the IPv6 --subnet/--ip-range become the network\'s IPv6 IPAM; ping6, --ip6, inspect; rm leaves nothing', async () => {
    const state = () => JSON.parse(readFileSync(join(h.stateDir, 'state.json'), 'utf8')) as { networks: { name: string; ipam: { allocated: string[] } | null; ipam6?: { allocated: string[] } }[] };
    const tsnetNets = async () => (JSON.parse(await h.tsnetOk(['network', 'ls', '--json'])) as { name: string }[]).map((n) => n.name);
    // Docker asks for its default IPv6 pool without an IPv6 --subnet: refused by name; its IPv4 pool goes back.
    const refused = await h.docker(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--ipv6', '--subnet', '10.209.0.0/24', '-o', 'tsnet.name=ds6', 'ds6']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--ipv6 without an IPv6 --subnet: tsnet's IPAM driver has no default IPv6 pool; add one besides the IPv4 --subnet, e.g. --subnet fd00:1::/64");
    expect(await tsnetNets()).not.toContain('ds6');

    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--ipv6', '--subnet', '10.209.0.0/24', '--subnet', 'fd00:209::/64', '--ip-range', 'fd00:209::100/120', '-o', 'tsnet.name=ds6', 'ds6']);
    await h.dockerOk(['run', '-d', '--name', 'f1', '--network', 'ds6', TEST_IMAGE, 'sleep', '600']);
    await h.dockerOk(['run', '-d', '--name', 'f2', '--network', 'ds6', '--ip6', 'fd00:209::50', TEST_IMAGE, 'sleep', '600']);
    const ip6Of = (c: string) => h.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "ds6").GlobalIPv6Address}}', c]);
    expect(await ip6Of('f2')).toBe('fd00:209::50');
    const f1 = await ip6Of('f1');
    expect(f1).toBe('fd00:209::100'); // the first of the ip-range, from our IPAM
    expect(await h.dockerOk(['exec', 'f1', 'ip', '-6', 'addr', 'show', 'eth0'])).toContain('fd00:209::100/64');
    expect(await h.dockerOk(['exec', 'f1', 'ip', '-6', 'route'])).toMatch(/default via fd00:209::1 dev eth0/);
    expect(await h.dockerOk(['exec', 'f1', 'ping', '-c', '2', '-W', '2', 'fd00:209::50'])).toContain('2 packets received');
    expect(await h.dockerOk(['exec', 'f2', 'ping', '-c', '2', '-W', '2', f1])).toContain('2 packets received');
    expect(await h.dockerOk(['exec', 'f2', 'ping', '-c', '1', '-W', '2', 'fd00:209::1'])).toContain('1 packets received'); // the gateway port
    expect(await h.dockerOk(['exec', 'f2', 'ping', '-c', '1', '-W', '2', '10.209.0.1'])).toContain('1 packets received');

    const dinspect = JSON.parse(await h.dockerOk(['network', 'inspect', 'ds6']))[0];
    expect(dinspect.EnableIPv6).toBe(true);
    expect(dinspect.IPAM.Driver).toBe('tsnet');
    expect(dinspect.IPAM.Config).toContainEqual(expect.objectContaining({ Subnet: 'fd00:209::/64', IPRange: 'fd00:209::100/120' }));
    const dockerV6 = Object.values(dinspect.Containers as Record<string, { IPv6Address: string }>).map((c) => c.IPv6Address).sort();
    expect(dockerV6).toEqual(['fd00:209::100/64', 'fd00:209::50/64']);
    const t = JSON.parse(await h.tsnetOk(['network', 'inspect', 'ds6']))[0];
    expect(t.EnableIPv6).toBe(true);
    expect(t.IPAM.Config).toContainEqual(expect.objectContaining({ Subnet: 'fd00:209::/64', IPRange: 'fd00:209::100/120', Gateway: 'fd00:209::1' }));
    expect(Object.values(t.Endpoints as Record<string, { IPv6Address: string }>).map((e) => e.IPv6Address).sort()).toEqual(dockerV6);
    // Persisted: the addresses Docker asked for are in the network's IPv6 pool in the state file.
    expect(state().networks.find((n) => n.name === 'ds6')!.ipam6!.allocated.sort()).toEqual(['fd00:209::100', 'fd00:209::50']);

    // A refused --ip6 (the gateway) keeps neither address: libnetwork would keep the IPv4 one, we give it back.
    const before = state().networks.find((n) => n.name === 'ds6')!;
    const bad = await h.docker(['run', '--rm', '--network', 'ds6', '--ip6', 'fd00:209::1', TEST_IMAGE, 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--ip6 fd00:209::1 is the IPv6 gateway of fd00:209::/64');
    const after = state().networks.find((n) => n.name === 'ds6')!;
    expect(after.ipam!.allocated.sort()).toEqual(before.ipam!.allocated.sort());
    expect(after.ipam6!.allocated.sort()).toEqual(before.ipam6!.allocated.sort());

    // A container gone gives its IPv6 address back; network rm leaves no tsnet network.
    await h.dockerOk(['rm', '-f', 'f1']);
    expect(state().networks.find((n) => n.name === 'ds6')!.ipam6!.allocated).toEqual(['fd00:209::50']);
    await h.dockerOk(['rm', '-f', 'f2']);
    await h.dockerOk(['network', 'rm', 'ds6']);
    expect(await tsnetNets()).not.toContain('ds6');
    expect(state().networks.map((n) => n.name)).not.toContain('ds6');
    // Both pools are free again: the same subnets make a new network.
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--ipv6', '--subnet', '10.209.0.0/24', '--subnet', 'fd00:209::/64', '-o', 'tsnet.name=ds6b', 'ds6b']);
    expect(await h.dockerOk(['run', '--rm', '--network', 'ds6b', TEST_IMAGE, 'sh', '-c', 'ping -c 1 -W 2 fd00:209::1 >/dev/null && echo ok'])).toBe('ok');
    await h.dockerOk(['network', 'rm', 'ds6b']);
    expect(await tsnetNets()).not.toContain('ds6b');
  }, 120_000);

  it('300 docker run --rm in a row on a /24 leave no address taken', async () => {
    await h.dockerOk(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', '10.206.0.0/24', '-o', 'tsnet.name=burst', 'burst']);
    const t0 = Date.now();
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      // Each prints its address: more than 253 runs on a /24 only work if every one gives its address back.
      const out = await h.dockerOk(['run', '--rm', '--network', 'burst', TEST_IMAGE, 'sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}'"]);
      expect(out).toMatch(/^10\.206\.0\.\d+\/24$/);
      seen.add(out);
    }
    const took = Date.now() - t0;
    const tinspect = JSON.parse(await h.tsnetOk(['network', 'inspect', 'burst']))[0] as { Endpoints: Record<string, unknown> };
    expect(Object.keys(tinspect.Endpoints)).toEqual([]);
    const dinspect = JSON.parse(await h.dockerOk(['network', 'inspect', 'burst']))[0] as { Containers: Record<string, unknown> };
    expect(Object.keys(dinspect.Containers)).toEqual([]);
    const stats = JSON.parse(await h.tsnetOk(['stats', '--json'])) as { ports: StatsPort[] };
    expect(stats.ports.filter((p) => p.network === 'burst' && p.endpoint)).toEqual([]);
    // The whole pool is free: a container can take the last address of it.
    expect(await h.dockerOk(['run', '--rm', '--network', 'burst', '--ip', '10.206.0.254', TEST_IMAGE, 'true'])).toBe('');
    await h.dockerOk(['network', 'rm', 'burst']);
    console.log(`300 docker run --rm on a tsnet network: ${took} ms (${(took / 300).toFixed(0)} ms each), ${seen.size} distinct addresses`);
  }, 900_000);
});
