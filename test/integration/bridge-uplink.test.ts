/**
 * A NIC on a bridge network (issue #17's "IPAM underlay" flow, as Docker users do with `brctl addif`):
 * `-o parent=IFACE` makes a host interface a port of the switch, the LAN's router is the containers'
 * default route (`--aux-address DefaultGatewayIPv4=IP`), and `-o gateway_port=false` leaves the
 * host-side gateway port off. The "NIC" is one end of a veth pair in the daemon's host namespace; the
 * other end is in a LAN namespace (test/helpers/lan.ts) whose host plays the router, with an address
 * beyond the LAN on its loopback.
 */
import { iperfTcpBytes, pingOk } from '../helpers/traffic.js';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes } from '../helpers/daemon.js';
import { makeLan } from '../helpers/lan.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason(['iperf3']);
if (skip) console.warn(`skipping bridge uplink integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function pingWithin(ns: string, ip: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) if (await pingOk(ns, ip, { count: 1, waitS: 1 })) return true;
  return false;
}

describe.skipIf(skip !== null)('a bridge network with a NIC uplink', () => {
  it('puts containers on the LAN behind its router; learns the LAN side; survives the NIC going down and up and a daemon kill -9', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const lan = await makeLan({ hostNs: d.hostNs, hostCidr: '10.212.0.1/24' });
    cleanup.push(() => lan.teardown());
    await sh('ip', ['-n', lan.ns, 'addr', 'add', '10.213.0.1/32', 'dev', 'lo']); // beyond the router
    const [c1] = ns;
    await d.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.212.0.0/24', '--gateway', '10.212.0.254', '--aux-address', 'DefaultGatewayIPv4=10.212.0.1', '-o', 'parent=p0', '-o', 'gateway_port=false', 'lanbr']);
    const ep = JSON.parse(await d.ok(['connect', 'lanbr', '--netns', c1, '--json']));
    expect(ep.ip).toBe('10.212.0.2');
    expect(await sh('ip', ['-n', c1, 'route', 'show', 'default'])).toMatch(/default via 10\.212\.0\.1 dev eth0/);
    // No gateway port: no device of ours in the host namespace besides the NIC.
    expect(await sh('ip', ['-n', d.hostNs, '-o', 'link', 'show'])).not.toMatch(/tsn-/);

    expect(await pingOk(c1, '10.212.0.1', { waitS: 1 })).toBe(true); // the router, on the LAN
    expect(await pingOk(lan.ns, '10.212.0.2', { waitS: 1 })).toBe(true); // and the LAN to the container
    expect(await pingOk(c1, '10.213.0.1', { waitS: 1 })).toBe(true); // beyond the router, by the default route
    expect(await iperfTcpBytes(lan.ns, c1, '10.212.0.1')).toBeGreaterThan(10e6);
    expect(await iperfTcpBytes(c1, lan.ns, '10.212.0.2')).toBeGreaterThan(10e6);

    // The router's MAC is learned behind the uplink, like any port's.
    const routerMac = JSON.parse(await sh('ip', ['-n', lan.ns, '-j', 'link', 'show', 'dev', 'br0']))[0].address;
    const fdb = JSON.parse(await d.ok(['fdb', 'show', 'lanbr', '--json'])) as { mac: string; port: string; type: string }[];
    expect(fdb.find((e) => e.mac === routerMac)).toMatchObject({ port: 'p0', type: 'learned' });
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'lanbr']))[0];
    expect(inspect.Uplinks).toMatchObject([{ Interface: 'p0', Attached: true, Up: true, Loop: { Blocked: false, LoopFrames: 0 } }]);
    // Its one uplink is all it has beyond itself (no gateway port): removing it is refused, nothing changes.
    const last = await d.cli(['network', 'uplink', 'rm', 'lanbr', 'p0']);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toContain('p0 is the last uplink of network lanbr, which has no gateway port');
    expect(inspect.GatewayPort).toBeNull();

    // The NIC goes down and comes back: traffic resumes by itself.
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'p0', 'down']);
    expect(await pingOk(c1, '10.212.0.1', { count: 1, waitS: 1 })).toBe(false);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'p0', 'up']);
    expect(await pingWithin(c1, '10.212.0.1', 8000)).toBe(true);

    // kill -9 and a new daemon: the uplink is opened again, the container still reaches the LAN.
    await d.kill('SIGKILL');
    await d.start();
    expect(await pingWithin(c1, '10.212.0.1', 8000)).toBe(true);
    expect(JSON.parse(await d.ok(['network', 'inspect', 'lanbr']))[0].Uplinks).toMatchObject([{ Interface: 'p0', Attached: true }]);

    await d.ok(['network', 'rm', '--force', 'lanbr']);
    // The NIC is the host's: it stays, and is no longer promiscuous for us.
    const link = JSON.parse(await sh('ip', ['-n', d.hostNs, '-d', '-j', 'link', 'show', 'dev', 'p0']))[0];
    expect(link.promiscuity).toBe(0);
  }, 90_000);

  it('network uplink add|rm on a running network; a hairpinning LAN and two cabled uplinks are loops: cut, counted, blocked, and the LAN still works', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const lan = await makeLan({ hostNs: d.hostNs, hostCidr: '10.217.0.1/24' });
    cleanup.push(() => lan.teardown());
    const [c1, c2] = ns;
    await d.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.217.0.0/24', '--gateway', '10.217.0.254', '--aux-address', 'router=10.217.0.1', 'lanbr2']);
    await d.ok(['connect', 'lanbr2', '--netns', c1]);
    await d.ok(['connect', 'lanbr2', '--netns', c2]);
    expect(await pingOk(c1, '10.217.0.1', { count: 1, waitS: 1 })).toBe(false); // no uplink yet
    await d.ok(['network', 'uplink', 'add', 'lanbr2', 'p0']);
    expect(await pingWithin(c1, '10.217.0.1', 5000)).toBe(true);

    // A LAN switch that hairpins: every frame we send comes back by p0. The containers' own broadcasts
    // are cut there (their MACs stay theirs), and unicast with the router goes on.
    await lan.setHairpin(true);
    await sh('ip', ['-n', c1, 'neigh', 'flush', 'all']);
    expect(await pingOk(c1, '10.217.0.1', { count: 2, waitS: 1 })).toBe(true);
    const loopDrops = async (port: string) => {
      const stats = JSON.parse(await d.ok(['stats', '--json'])) as { ports: { port: string; drops: Record<string, number> }[] };
      return stats.ports.find((p) => p.port === port)?.drops['uplink-loop'] ?? 0;
    };
    expect(await loopDrops('p0')).toBeGreaterThan(0);
    await lan.setHairpin(false);

    // Two more uplinks that are the two ends of one veth pair: a loop through the host.
    await sh('ip', ['-n', d.hostNs, 'link', 'add', 'la0', 'type', 'veth', 'peer', 'name', 'lb0']);
    cleanup.push(() => sh('ip', ['-n', d.hostNs, 'link', 'del', 'la0']).then(() => undefined));
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'la0', 'up']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'lb0', 'up']);
    await d.ok(['network', 'uplink', 'add', 'lanbr2', 'la0']);
    await d.ok(['network', 'uplink', 'add', 'lanbr2', 'lb0']);
    // Echo requests c2's kernel received (counted before it ignores a broadcast one): not its other traffic.
    const rxPackets = async () => {
      const lines = (await nsExec(c2, 'cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Icmp:'));
      return Number(lines[1].split(/\s+/)[lines[0].split(/\s+/).indexOf('InEchos')]);
    };
    const before = await rxPackets();
    // 30 broadcast pings from c1: each one goes out by la0 and by lb0 and comes back by the other.
    await nsExec(c1, 'ping', ['-b', '-c', '30', '-i', '0.01', '-W', '1', '10.217.0.255']).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const got = (await rxPackets()) - before;
    expect(got).toBe(30); // c2 saw each broadcast once: not twice, not a storm
    expect((await loopDrops('la0')) + (await loopDrops('lb0'))).toBeGreaterThanOrEqual(60);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'lanbr2']))[0];
    expect(inspect.Uplinks.map((u: { Interface: string }) => u.Interface)).toEqual(['p0', 'la0', 'lb0']);
    const looped = inspect.Uplinks.filter((u: { Loop: { Blocks: number } }) => u.Loop.Blocks > 0).map((u: { Interface: string }) => u.Interface);
    expect(looped.length).toBeGreaterThan(0);
    expect(looped).not.toContain('p0');
    expect(inspect.Uplinks.find((u: { Interface: string }) => u.Interface === 'p0').Loop.Blocked).toBe(false);
    expect(d.log).toMatch(/network lanbr2: uplink l[ab]0 blocked for floods/);
    // The loop did not move c1's MAC off its port, and the LAN behind p0 still answers.
    const c1Mac = JSON.parse(await sh('ip', ['-n', c1, '-j', 'link', 'show', 'dev', 'eth0']))[0].address;
    const fdb = JSON.parse(await d.ok(['fdb', 'show', 'lanbr2', '--json'])) as { mac: string; port: string }[];
    const c1Entry = fdb.find((e) => e.mac === c1Mac);
    expect(c1Entry).toBeDefined();
    expect(c1Entry!.port).not.toMatch(/^(p0|la0|lb0)/);
    expect(await pingOk(c1, '10.217.0.1', { count: 1, waitS: 1 })).toBe(true);
    expect(await pingOk(c1, '10.217.0.3', { count: 1, waitS: 1 })).toBe(true);

    // Bad input, each with its message; nothing changes.
    const refused = async (args: string[], text: string) => {
      const r = await d.cli(['network', 'uplink', ...args]);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toContain(text);
    };
    await refused(['add', 'lanbr2', 'nope0'], 'parent interface "nope0" does not exist');
    await refused(['add', 'lanbr2', 'la0'], 'interface la0 is an uplink of network lanbr2 already');
    await refused(['rm', 'lanbr2', 'nope0'], 'interface nope0 is not an uplink of network lanbr2: its uplinks are p0, la0, lb0');
    await refused(['add', 'nonet', 'p0'], 'nonet');
    await d.ok(['network', 'create', '--subnet', '10.218.0.0/24', 'other']);
    const otherGw = JSON.parse(await d.ok(['network', 'inspect', 'other']))[0].GatewayPort.Interface;
    await refused(['add', 'lanbr2', otherGw], `interface ${otherGw} is network other's own gateway port`);

    // kill -9: the next daemon opens all three again.
    await d.kill('SIGKILL');
    await d.start();
    expect(JSON.parse(await d.ok(['network', 'inspect', 'lanbr2']))[0].Uplinks).toMatchObject([{ Interface: 'p0', Attached: true }, { Interface: 'la0', Attached: true }, { Interface: 'lb0', Attached: true }]);
    await d.ok(['network', 'uplink', 'rm', 'lanbr2', 'la0']);
    await d.ok(['network', 'uplink', 'rm', 'lanbr2', 'lb0']);
    expect(JSON.parse(await d.ok(['network', 'inspect', 'lanbr2']))[0].Uplinks.map((u: { Interface: string }) => u.Interface)).toEqual(['p0']);
    const la0 = JSON.parse(await sh('ip', ['-n', d.hostNs, '-d', '-j', 'link', 'show', 'dev', 'la0']))[0];
    expect(la0.promiscuity).toBe(0);
    expect(await pingWithin(c1, '10.217.0.1', 5000)).toBe(true);
    await d.ok(['network', 'uplink', 'rm', 'lanbr2', 'p0']); // it has a gateway port: its last uplink may go
    expect(JSON.parse(await d.ok(['network', 'inspect', 'lanbr2']))[0].Uplinks).toBeUndefined();
    expect(await pingOk(c1, '10.217.0.1', { count: 1, waitS: 1 })).toBe(false);
  }, 120_000);

  it('refuses bad uplink options, naming the value, and makes nothing', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    const lan = await makeLan({ hostNs: d.hostNs, hostCidr: '10.214.0.1/24' });
    cleanup.push(() => lan.teardown());
    const refused = async (args: string[], text: string) => {
      const r = await d.cli(['network', 'create', '-d', 'bridge', ...args]);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toContain(text);
    };
    await refused(['--subnet', '10.214.0.0/24', '-o', 'parent=nope0', 'x1'], 'parent interface "nope0" does not exist');
    await refused(['--subnet', '10.214.0.0/24', '-o', 'gateway_port=false', 'x2'], '-o gateway_port=false without -o parent=IFACE');
    await refused(['--subnet', '10.214.0.0/24', '-o', 'gateway_port=maybe', '-o', 'parent=p0', 'x3'], '-o gateway_port=maybe: expected true or false');
    await refused(['--subnet', '10.214.0.0/24', '--gateway', '10.214.0.254', '--aux-address', 'DefaultGatewayIPv4=10.214.0.1', 'x4'], 'DefaultGatewayIPv4=10.214.0.1 without -o parent=IFACE');
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
    // One network per host interface: a second bridge, or a macvlan network, on p0 is refused.
    await d.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.214.0.0/24', '-o', 'parent=p0', '-o', 'gateway_port=false', 'first']);
    await refused(['--subnet', '10.215.0.0/24', '-o', 'parent=p0', '-o', 'gateway_port=false', 'second'], 'interface p0 is the uplink or parent of network first already');
    const mv = await d.cli(['network', 'create', '-d', 'macvlan', '--subnet', '10.216.0.0/24', '-o', 'parent=p0', 'mv']);
    expect(mv.code).not.toBe(0);
    expect(mv.stderr).toContain('parent p0 carries network first already');
    expect((JSON.parse(await d.ok(['network', 'ls', '--json'])) as { name: string }[]).map((n) => n.name)).toEqual(['first']);
    const nsLinks = await nsExec(d.hostNs, 'ip', ['-o', 'link', 'show']);
    expect(nsLinks).not.toMatch(/tsn-/);
  }, 60_000);
});
