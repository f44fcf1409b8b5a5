/**
 * tsnet-switch as Docker's network and IPAM driver, with a real dockerd (test/helpers/dockerd.ts: its
 * own namespaces, data root and sockets; nothing of the host changes): containers on a `tsnet` network
 * ping each other and the gateway through our switch, `docker run --ip`, `docker network inspect`
 * shows our IPAM, `docker network connect/disconnect`.
 */
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
