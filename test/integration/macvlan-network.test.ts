/**
 * macvlan and ipvlan networks end to end, through the CLI and the daemon: the parent is one end of a
 * veth pair in the daemon's host namespace; the other end is in a LAN namespace with an outside host
 * (test/helpers/lan.ts). The LAN host pings and moves TCP to each container and its neighbour table
 * shows each container's own MAC (macvlan) or the parent's (ipvlan); sibling rules per mode, with the
 * LAN's bridge hairpinning frames back for private and vepa; the host shim; parent down/up and
 * re-creation; bad input.
 */
import { iperfTcpBytes, pingOk } from '../helpers/traffic.js';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, type TestDaemon } from '../helpers/daemon.js';
import { makeLan, type Lan } from '../helpers/lan.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping macvlan/ipvlan integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function setup(n: number, lanCidr: string): Promise<{ d: TestDaemon; ns: string[]; lan: Lan }> {
  const { d, ns } = await daemonWithSandboxes(n, [], (f) => cleanup.push(f));
  const lan = await makeLan({ hostNs: d.hostNs, hostCidr: lanCidr });
  cleanup.push(() => lan.teardown());
  return { d, ns, lan };
}

/** Ping until it answers or `ms` pass (a parent coming back up takes a moment). */
async function pingWithin(ns: string, ip: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await pingOk(ns, ip, { count: 1, waitS: 1 })) return true;
  }
  return false;
}

async function macOf(ns: string, ifname = 'eth0'): Promise<string> {
  return JSON.parse(await sh('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname]))[0].address;
}

type StatsPort = { network: string; port: string; endpoint: string | null; rxPackets: number; txPackets: number; drops: Record<string, number> };
async function portStats(d: TestDaemon, port: string): Promise<StatsPort> {
  const s = JSON.parse(await d.ok(['stats', '--json'])) as { ports: StatsPort[] };
  const p = s.ports.find((x) => x.port === port || x.port.endsWith(port));
  if (!p) throw new Error(`no port ${port} in stats: ${s.ports.map((x) => x.port).join(', ')}`);
  return p;
}

describe.skipIf(skip !== null)('macvlan network on a parent interface', () => {
  it('mode bridge: the LAN host pings and moves TCP to each container, sees each one\'s own MAC; siblings talk locally', async () => {
    const { d, ns, lan } = await setup(2, '10.91.0.1/24');
    const [c1, c2] = ns;
    const parentMac = await macOf(d.hostNs, 'p0');
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.91.0.0/24', '-o', 'parent=p0', 'mv']);
    const e1 = JSON.parse(await d.ok(['connect', 'mv', '--netns', c1, '--json']));
    const e2 = JSON.parse(await d.ok(['connect', 'mv', '--netns', c2, '--json']));
    expect(e1).toMatchObject({ ip: '10.91.0.2', mac: '02:42:0a:5b:00:02' });
    expect(e2).toMatchObject({ ip: '10.91.0.3', mac: '02:42:0a:5b:00:03' });
    expect(await sh('ip', ['-n', c1, 'route', 'show', 'default'])).toMatch(/default via 10\.91\.0\.1 dev eth0/); // the LAN's router

    expect(await pingOk(lan.ns, '10.91.0.2', { waitS: 1 })).toBe(true);
    expect(await pingOk(lan.ns, '10.91.0.3', { waitS: 1 })).toBe(true);
    const neigh = await lan.neighbours();
    expect(neigh.get('10.91.0.2')).toBe('02:42:0a:5b:00:02');
    expect(neigh.get('10.91.0.3')).toBe('02:42:0a:5b:00:03');
    expect([...neigh.values()]).not.toContain(parentMac);

    expect(await iperfTcpBytes(c1, lan.ns, '10.91.0.2')).toBeGreaterThan(10e6);
    expect(await iperfTcpBytes(c2, lan.ns, '10.91.0.3')).toBeGreaterThan(10e6);
    expect(await iperfTcpBytes(lan.ns, c1, lan.hostIp)).toBeGreaterThan(10e6); // and the other way

    expect(await pingOk(c1, '10.91.0.3', { waitS: 1 })).toBe(true);
    const uplink = await portStats(d, 'p0');
    expect(uplink.rxPackets).toBeGreaterThan(1000);
    expect(uplink.txPackets).toBeGreaterThan(1000);

    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(inspect.Driver).toBe('macvlan');
    expect(inspect.GatewayPort).toBeNull();
    expect(inspect.Parent).toMatchObject({ Interface: 'p0', MacAddress: parentMac, Mode: 'bridge', Attached: true, Membership: 'unicast', VnetHdrLen: 12 });
    expect([...inspect.Parent.MembershipMacs].sort()).toEqual(['02:42:0a:5b:00:02', '02:42:0a:5b:00:03']);
    // veth has no unicast filter: the kernel made it promiscuous for our memberships, and inspect says so.
    expect(inspect.Parent.Delivery).toMatch(/no unicast filter/);

    await d.ok(['disconnect', 'mv', c2]);
    expect(await pingOk(lan.ns, '10.91.0.3', { count: 1, waitS: 1 })).toBe(false);
    const after = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(after.Parent.MembershipMacs).toEqual(['02:42:0a:5b:00:02']);
    await d.ok(['network', 'rm', '--force', 'mv']);
    expect(await sh('ip', ['-n', c1, 'link', 'show'])).not.toMatch(/eth0/);
  });

  it('mode private: no container-to-container traffic, also when the LAN hairpins it back through the parent', async () => {
    const { d, ns, lan } = await setup(2, '10.92.0.1/24');
    const [c1, c2] = ns;
    await lan.setHairpin(true);
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.92.0.0/24', '-o', 'parent=p0', '-o', 'mode=private', 'mv']);
    await d.ok(['connect', 'mv', '--netns', c1]);
    await d.ok(['connect', 'mv', '--netns', c2]);
    expect(await pingOk(c1, lan.hostIp, { waitS: 1 })).toBe(true);
    expect(await pingOk(lan.ns, '10.92.0.3', { waitS: 1 })).toBe(true);
    // c1's ARP broadcast leaves by the parent, the LAN reflects it: dropped there, never delivered to c2.
    expect(await pingOk(c1, '10.92.0.3', { waitS: 1 })).toBe(false);
    expect((await portStats(d, 'p0')).drops['macvlan-private']).toBeGreaterThan(0);
    // With c2's MAC known, the unicast is dropped at once.
    await sh('ip', ['-n', c1, 'neigh', 'replace', '10.92.0.3', 'lladdr', '02:42:0a:5c:00:03', 'dev', 'eth0']);
    expect(await pingOk(c1, '10.92.0.3', { waitS: 1 })).toBe(false);
    const s1 = await portStats(d, `${c1}:eth0`);
    expect(s1.drops['macvlan-private']).toBeGreaterThan(0);
    // trace says which stage decided, and why.
    const trace = await d.ok(['trace', 'mv', '--in', c1, 'icmp', '10.92.0.2', '>', '10.92.0.3']);
    expect(trace).toMatch(/macvlan\s+drop macvlan-private: \S+:eth0 -> \S+:eth0 is container to container \(mode private\)/);
  });

  it('mode vepa: siblings meet only through the adjacent switch (hairpin on the LAN port)', async () => {
    const { d, ns, lan } = await setup(2, '10.93.0.1/24');
    const [c1, c2] = ns;
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.93.0.0/24', '-o', 'parent=p0', '-o', 'macvlan_mode=vepa', 'mv']);
    await d.ok(['connect', 'mv', '--netns', c1]);
    await d.ok(['connect', 'mv', '--netns', c2]);
    expect(await pingOk(lan.ns, '10.93.0.2', { waitS: 1 })).toBe(true);
    expect(await pingOk(c1, '10.93.0.3', { waitS: 1 })).toBe(false); // no hairpin: the LAN never sends it back
    await lan.setHairpin(true);
    await sh('ip', ['-n', c1, 'neigh', 'flush', 'dev', 'eth0']);
    expect(await pingOk(c1, '10.93.0.3', { waitS: 1 })).toBe(true);
    expect(await iperfTcpBytes(c2, c1, '10.93.0.3')).toBeGreaterThan(10e6);
    // The traffic went out by the parent and came back: the LAN bridge's port counted it.
    const lanPort = JSON.parse(await sh('ip', ['-n', lan.ns, '-s', '-j', 'link', 'show', 'dev', 'lan0']))[0];
    expect(lanPort.stats64.tx.bytes).toBeGreaterThan(10e6);
  });

  it('mode passthru: one container owns the parent, with the parent\'s MAC; a second is refused', async () => {
    const { d, ns, lan } = await setup(2, '10.94.0.1/24');
    const [c1, c2] = ns;
    const parentMac = await macOf(d.hostNs, 'p0');
    const shim = await d.cli(['network', 'create', '-d', 'macvlan', '--subnet', '10.94.0.0/24', '-o', 'parent=p0', '-o', 'mode=passthru', '-o', 'host_shim=10.94.0.254', 'mv']);
    expect(shim.code).not.toBe(0);
    expect(shim.stderr).toMatch(/host_shim does not go with mode passthru/);
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.94.0.0/24', '-o', 'parent=p0', '-o', 'mode=passthru', 'mv']);
    const e1 = JSON.parse(await d.ok(['connect', 'mv', '--netns', c1, '--json']));
    expect(e1.mac).toBe(parentMac);
    expect(await macOf(c1)).toBe(parentMac);
    const second = await d.cli(['connect', 'mv', '--netns', c2]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/passthru: its one endpoint owns parent p0 already/);
    expect(await pingOk(lan.ns, '10.94.0.2', { waitS: 1 })).toBe(true);
    expect(await iperfTcpBytes(c1, lan.ns, '10.94.0.2')).toBeGreaterThan(10e6);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(inspect.Parent.Membership).toBe('promisc');
    expect(Object.keys(inspect.Endpoints)).toHaveLength(1); // the refused connect left nothing behind
  });

  it('host_shim: the host reaches its own containers, even with an address of the LAN on the parent', async () => {
    const { d, ns, lan } = await setup(2, '10.95.0.1/24');
    const [c1, c2] = ns;
    await sh('ip', ['-n', d.hostNs, 'addr', 'add', '10.95.0.200/24', 'dev', 'p0']);
    expect(await pingOk(d.hostNs, lan.hostIp, { waitS: 1 })).toBe(true);
    // The kernel drivers' known pain, reproduced: without a shim the host cannot reach its containers.
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.95.0.0/24', '-o', 'parent=p0', 'plain']);
    await d.ok(['connect', 'plain', '--netns', c1]);
    expect(await pingOk(lan.ns, '10.95.0.2', { waitS: 1 })).toBe(true);
    expect(await pingOk(d.hostNs, '10.95.0.2', { waitS: 1 })).toBe(false);
    await d.ok(['network', 'rm', '--force', 'plain']);

    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.95.0.0/24', '-o', 'parent=p0', '-o', 'mode=private', '-o', 'host_shim=10.95.0.254', '-o', 'host_shim.name=mvshim', 'mv']);
    await d.ok(['connect', 'mv', '--netns', c1]);
    await d.ok(['connect', 'mv', '--netns', c2]);
    const addr = JSON.parse(await sh('ip', ['-n', d.hostNs, '-j', 'addr', 'show', 'dev', 'mvshim']))[0];
    expect(addr.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toContain('10.95.0.254/32');
    expect(await sh('ip', ['-n', d.hostNs, 'route', 'get', '10.95.0.3'])).toMatch(/dev mvshim/);
    expect(await pingOk(d.hostNs, '10.95.0.2', { waitS: 1 })).toBe(true);
    expect(await pingOk(d.hostNs, '10.95.0.3', { waitS: 1 })).toBe(true);
    expect(await pingOk(c1, '10.95.0.254', { waitS: 1 })).toBe(true);
    expect(await iperfTcpBytes(c2, d.hostNs, '10.95.0.3')).toBeGreaterThan(10e6);
    expect(await pingOk(c1, '10.95.0.3', { waitS: 1 })).toBe(false); // still private between the containers
    expect(await pingOk(d.hostNs, lan.hostIp, { waitS: 1 })).toBe(true); // the host's own LAN traffic still goes by the parent
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(inspect.HostShim).toEqual({ Interface: 'mvshim', MacAddress: '02:42:0a:5f:00:fe', IPv4Address: '10.95.0.254/32' });
    expect(inspect.IPAM.Config[0].AuxiliaryAddresses).toEqual({ host_shim: '10.95.0.254' });
    await d.ok(['disconnect', 'mv', c2]);
    expect(await sh('ip', ['-n', d.hostNs, 'route', 'show', '10.95.0.3'])).toBe('');
    await d.ok(['network', 'rm', '--force', 'mv']);
    expect(await sh('ip', ['-n', d.hostNs, 'link', 'show'])).not.toMatch(/mvshim/);
  });

  it('survives the parent going down and up, and being deleted and made again; counts it', async () => {
    const { d, ns, lan } = await setup(1, '10.96.0.1/24');
    const [c1] = ns;
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.96.0.0/24', '-o', 'parent=p0', 'mv']);
    await d.ok(['connect', 'mv', '--netns', c1]);
    expect(await pingOk(lan.ns, '10.96.0.2', { waitS: 1 })).toBe(true);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'p0', 'down']);
    expect(await pingOk(c1, lan.hostIp, { count: 1, waitS: 1 })).toBe(false);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'p0', 'up']);
    expect(await pingWithin(lan.ns, '10.96.0.2', 10_000)).toBe(true);
    expect(await iperfTcpBytes(c1, lan.ns, '10.96.0.2')).toBeGreaterThan(10e6);
    let inspect = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(inspect.Parent.DownEvents).toBeGreaterThanOrEqual(1);
    expect((await portStats(d, 'p0')).drops['uplink-down']).toBeGreaterThan(0); // c1's ping while down

    // Deleted (its LAN end goes with it) and made again under the same name.
    await sh('ip', ['-n', d.hostNs, 'link', 'del', 'p0']);
    await new Promise((r) => setTimeout(r, 1500));
    await sh('ip', ['-n', d.hostNs, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lan.ns]);
    await sh('ip', ['-n', lan.ns, 'link', 'set', 'lan0', 'master', 'br0', 'up']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'p0', 'up']);
    expect(await pingWithin(lan.ns, '10.96.0.2', 10_000)).toBe(true);
    inspect = JSON.parse(await d.ok(['network', 'inspect', 'mv']))[0];
    expect(inspect.Parent.Reopens).toBeGreaterThanOrEqual(1);
    expect(d.log).toMatch(/parent p0 is back .*uplink reopened/);
  });

  it('re-adopts the network after kill -9 of the daemon; traffic resumes', async () => {
    const { d, ns, lan } = await setup(1, '10.97.0.1/24');
    const [c1] = ns;
    await d.ok(['network', 'create', '-d', 'macvlan', '--subnet', '10.97.0.0/24', '-o', 'parent=p0', '-o', 'host_shim=10.97.0.254', 'mv']);
    await d.ok(['connect', 'mv', '--netns', c1]);
    expect(await pingOk(lan.ns, '10.97.0.2', { waitS: 1 })).toBe(true);
    await d.kill('SIGKILL');
    await d.start();
    expect(d.log).toMatch(/1 network\(s\), 1 endpoint\(s\) adopted/);
    expect(await pingWithin(lan.ns, '10.97.0.2', 5000)).toBe(true);
    expect(await pingOk(d.hostNs, '10.97.0.2', { waitS: 1 })).toBe(true);
  });
});

describe.skipIf(skip !== null)('ipvlan L2 network on a parent interface', () => {
  it('every container has the parent\'s MAC; the LAN reaches each by address; ARP answers carry the parent\'s MAC', async () => {
    const { d, ns, lan } = await setup(2, '10.98.0.1/24');
    const [c1, c2] = ns;
    const parentMac = await macOf(d.hostNs, 'p0');
    const withMac = await d.cli(['network', 'create', '-d', 'ipvlan', '--subnet', '10.98.0.0/24', '-o', 'parent=p0', '-o', 'mode=l3', 'iv']);
    expect(withMac.stderr).toMatch(/mode=l3: the ipvlan driver implements l2 only/);
    await d.ok(['network', 'create', '-d', 'ipvlan', '--subnet', '10.98.0.0/24', '-o', 'parent=p0', '-o', 'ipvlan_mode=l2', '-o', 'host_shim=10.98.0.254', 'iv']);
    const e1 = JSON.parse(await d.ok(['connect', 'iv', '--netns', c1, '--json']));
    const refused = await d.cli(['connect', 'iv', '--netns', c2, '--mac', '02:42:00:00:00:09']);
    expect(refused.stderr).toMatch(/--mac 02:42:00:00:00:09: ipvlan endpoints share the parent's MAC/);
    const e2 = JSON.parse(await d.ok(['connect', 'iv', '--netns', c2, '--json']));
    expect(e2.ip).toBe('10.98.0.3'); // the refused connect gave its address back
    expect(e1.mac).toBe(parentMac);
    expect(e2.mac).toBe(parentMac);
    expect(await macOf(c1)).toBe(parentMac);

    expect(await pingOk(lan.ns, '10.98.0.2', { waitS: 1 })).toBe(true);
    expect(await pingOk(lan.ns, '10.98.0.3', { waitS: 1 })).toBe(true);
    const neigh = await lan.neighbours();
    expect(neigh.get('10.98.0.2')).toBe(parentMac);
    expect(neigh.get('10.98.0.3')).toBe(parentMac);
    expect(await iperfTcpBytes(c1, lan.ns, '10.98.0.2')).toBeGreaterThan(10e6);
    expect(await iperfTcpBytes(c2, lan.ns, '10.98.0.3')).toBeGreaterThan(10e6);
    expect(await pingOk(c1, '10.98.0.3', { waitS: 1 })).toBe(true);
    expect(await pingOk(c1, lan.hostIp, { waitS: 1 })).toBe(true);
    expect(await pingOk(d.hostNs, '10.98.0.2', { waitS: 1 })).toBe(true); // through the shim
    // A container claiming its sibling's address is refused at ingress (demux is by address).
    await sh('ip', ['-n', c1, 'addr', 'add', '10.98.0.3/32', 'dev', 'eth0']);
    await nsExec(c1, 'ping', ['-c', '1', '-W', '1', '-I', '10.98.0.3', lan.hostIp]).catch(() => undefined);
    expect((await portStats(d, `${c1}:eth0`)).drops['spoofed-src-ip']).toBeGreaterThan(0);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'iv']))[0];
    expect(inspect.Parent.Delivery).toMatch(/parent's own MAC/);
  });
});

describe.skipIf(skip !== null)('macvlan/ipvlan bad input', () => {
  it('refuses each with a clear error naming the value, and leaves nothing half-made', async () => {
    const { d, ns } = await setup(1, '10.99.0.1/24');
    const bad = async (args: string[], message: RegExp) => {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    const mv = ['network', 'create', '-d', 'macvlan', '--subnet', '10.99.0.0/24'];
    await bad([...mv, '-o', 'parent=nosuch0', 'x'], /parent interface "nosuch0" does not exist/);
    await bad([...mv, 'x'], /needs -o parent=IFACE/);
    await bad(['network', 'create', '-d', 'macvlan', '-o', 'parent=p0', 'x'], /needs --subnet/);
    await bad([...mv, '-o', 'parent=p0', '-o', 'mode=hairpin', 'x'], /mode=hairpin: expected one of bridge, private, vepa, passthru/);
    await bad([...mv, '-o', 'parent=p0', '-o', 'host_shim=10.98.0.5', 'x'], /10\.98\.0\.5/);
    await bad([...mv, '-o', 'parent=p0', '-o', 'host_shim=10.99.0.1', 'x'], /10\.99\.0\.1.*gateway|gateway.*10\.99\.0\.1/);
    await bad([...mv, '-o', 'parent=p0', '-o', 'icc=false', 'x'], /icc is a bridge option/);
    await bad([...mv, '-o', 'parent=lo', 'x'], /lo is not an Ethernet device/);
    await bad([...mv, '-o', 'parent=p0', '--mtu', '9000', 'x'], /MTU 9000 is more than parent p0's 1500/);
    await bad(['network', 'create', '--subnet', '10.99.1.0/24', '-o', 'mode=vepa', 'x'], /-o mode: option of the macvlan and ipvlan drivers, not of bridge/);
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
    await d.ok([...mv, '-o', 'parent=p0', 'ok']);
    await bad(['network', 'create', '-d', 'ipvlan', '--subnet', '10.99.2.0/24', '-o', 'parent=p0', 'y'], /parent p0 carries network ok already/);
    await bad(['network', 'create', '--subnet', '10.99.3.0/24', '-o', 'parent=p0', '-o', 'gateway_port=false', 'z'], /interface p0 is the uplink or parent of network ok already/); // a bridge's NIC uplink
    await bad(['connect', 'ok', '--netns', ns[0], '--mac', (await macOf(d.hostNs, 'p0'))], /is the parent p0's own/);
    expect(JSON.parse(await d.ok(['network', 'inspect', 'ok']))[0].Endpoints).toEqual({});
  });
});
