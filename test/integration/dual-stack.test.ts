/**
 * Dual-stack bridge networks (issue #17 part 1, first slice): `network create --ipv6 --subnet V4
 * --subnet V6` gives every endpoint an IPv6 address and an IPv6 default route via the gateway port's
 * IPv6 address, as Docker's `--ipv6` does; port security covers the assigned IPv6 address; IPAM is
 * persisted; bad input is refused by name and leaves nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes } from '../helpers/daemon.js';
import { makeLan } from '../helpers/lan.js';
import { underlayHosts } from '../helpers/underlay-hosts.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';
import { iperfTcpBytes, pingOk, tcpdumpWhile } from '../helpers/traffic.js';

const skip = privilegedSkipReason(['iperf3']);
if (skip) console.warn(`skipping dual-stack integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function v6Addrs(ns: string): Promise<string[]> {
  const j = JSON.parse(await sh('ip', ['-n', ns, '-6', '-j', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j.flatMap((l) => l.addr_info.filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen}`));
}

describe.skipIf(skip !== null)('dual-stack bridge networks', () => {
  it('IPv6 addresses and default routes; ping6 and TCP between containers and to the gateway; port security; kept across kill -9', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const [c1, c2] = ns;
    await d.ok(['network', 'create', '--ipv6', '--subnet', '10.218.0.0/24', '--subnet', 'fd00:218::/64', '-o', 'port_security=ip', 'ds']);
    const e1 = JSON.parse(await d.ok(['connect', 'ds', '--netns', c1, '--json']));
    const e2 = JSON.parse(await d.ok(['connect', 'ds', '--netns', c2, '--ip6', 'fd00:218::99', '--json']));
    expect([e1.ip, e1.ip6, e1.prefixLen6]).toEqual(['10.218.0.2', 'fd00:218::2', 64]);
    expect([e2.ip, e2.ip6]).toEqual(['10.218.0.3', 'fd00:218::99']);
    expect(await v6Addrs(c1)).toEqual(['fd00:218::2/64']);
    expect(await sh('ip', ['-n', c1, '-6', 'route', 'show', 'default'])).toMatch(/default via fd00:218::1 dev eth0/);
    // The gateway port holds the gateway's IPv6 address on the host side.
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'ds']))[0];
    expect(inspect.EnableIPv6).toBe(true);
    expect(inspect.IPAM.Config).toEqual([
      { Subnet: '10.218.0.0/24', Gateway: '10.218.0.1' },
      { Subnet: 'fd00:218::/64', Gateway: 'fd00:218::1' },
    ]);
    expect(inspect.GatewayPort.IPv6Address).toBe('fd00:218::1/64');
    expect(inspect.Endpoints[e2.id].IPv6Address).toBe('fd00:218::99/64');
    expect(await sh('ip', ['-n', d.hostNs, '-6', 'addr', 'show', 'dev', inspect.GatewayPort.Interface])).toContain('fd00:218::1/64');

    expect(await pingOk(c1, 'fd00:218::99', { waitS: 2 })).toBe(true);
    expect(await pingOk(c2, 'fd00:218::2', { waitS: 2 })).toBe(true);
    expect(await pingOk(c1, 'fd00:218::1', { waitS: 2 })).toBe(true); // the gateway
    expect(await pingOk(c1, '10.218.0.3', { waitS: 2 })).toBe(true); // and IPv4 alongside
    expect(await iperfTcpBytes(c2, c1, 'fd00:218::99')).toBeGreaterThan(10e6);
    // trace takes IPv6 specs: c2's MAC is found by its IPv6 address; a spoofed source is explained.
    const traced = JSON.parse(await d.ok(['trace', 'ds', '--in', c1, '--json', 'tcp', '[fd00:218::2]:4000', '>', '[fd00:218::99]:80']));
    expect(traced.outputs).toEqual([`${c2}:eth0`]);
    const spoofedTrace = await d.ok(['trace', 'ds', '--in', c1, 'icmp6', 'fd00:218::55', '>', 'fd00:218::99']);
    expect(spoofedTrace).toMatch(/^ingress +drop spoofed-src-ipv6: /m);

    // Port security: a source address the port was not given is dropped and counted.
    await sh('ip', ['-n', c1, '-6', 'addr', 'add', 'fd00:218::77/64', 'dev', 'eth0', 'nodad']);
    expect(await pingOk(c1, 'fd00:218::99', { count: 1, waitS: 1, extra: ['-I', 'fd00:218::77'] })).toBe(false);
    const stats = JSON.parse(await d.ok(['stats', '--json'])) as { ports: { port: string; drops: Record<string, number> }[] };
    expect(stats.ports.find((p) => p.port === `${c1}:eth0`)?.drops['spoofed-src-ipv6']).toBeGreaterThan(0);
    await sh('ip', ['-n', c1, '-6', 'addr', 'del', 'fd00:218::77/64', 'dev', 'eth0']);
    // A forged Neighbor Advertisement (c1 claims c2's global address with its own MAC) and a rogue
    // Router Advertisement (c1 as the network's router), sent on a packet socket: dropped, counted.
    const mac1 = (await nsExec(c1, 'cat', ['/sys/class/net/eth0/address'])).trim();
    const py = `
import socket, struct
mac = bytes.fromhex("${mac1.replace(/:/g, '')}")
def csum(src, dst, icmp):
    data = src + dst + struct.pack("!I", len(icmp)) + bytes([0, 0, 0, 58]) + icmp
    s = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return icmp[:2] + struct.pack("!H", ~s & 0xffff) + icmp[4:]
def frame(src, icmp):
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, "ff02::1")
    icmp = csum(s, d, icmp)
    return bytes.fromhex("333300000001") + mac + bytes.fromhex("86dd") + struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + s + d + icmp
na = bytes([136, 0, 0, 0, 0x20, 0, 0, 0]) + socket.inet_pton(socket.AF_INET6, "fd00:218::99") + bytes([2, 1]) + mac
ra = bytes([134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]) + bytes([1, 1]) + mac
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); p.bind(("eth0", 0))
for _ in range(2): p.send(frame("fd00:218::2", na)); p.send(frame("fd00:218::2", ra))
`;
    await nsExec(c1, 'python3', ['-c', py], { timeoutMs: 30_000 });
    const dropsOf = async () => (JSON.parse(await d.ok(['stats', '--json'])) as { ports: { port: string; drops: Record<string, number> }[] }).ports.find((p) => p.port === `${c1}:eth0`)!.drops;
    for (let i = 0; i < 50 && ((await dropsOf())['ipv6-router-msg'] ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await dropsOf()).toMatchObject({ 'spoofed-nd': 2, 'ipv6-router-msg': 2 });
    const routes2 = await sh('ip', ['-n', c2, '-6', 'route', 'show', 'default']);
    expect(routes2).toMatch(/^default via fd00:218::1 dev eth0/);
    expect(routes2).not.toMatch(/proto ra/); // c2 took no route from c1's advertisement

    // kill -9 and a new daemon: addresses and pools are as they were.
    await d.kill('SIGKILL');
    await d.start();
    expect(await pingOk(c1, 'fd00:218::99', { waitS: 2, tries: 3 })).toBe(true);
    await d.ok(['disconnect', 'ds', c2]);
    expect(await v6Addrs(c2).catch(() => [])).toEqual([]);
    const again = JSON.parse(await d.ok(['connect', 'ds', '--netns', c2, '--json']));
    expect(again.ip6).toBe('fd00:218::3'); // serial: after ::2, which c1 still holds
    expect(await pingOk(c2, 'fd00:218::2', { waitS: 2 })).toBe(true);
    await d.ok(['network', 'rm', '--force', 'ds']);
    expect(await sh('ip', ['-n', d.hostNs, '-o', 'link', 'show'])).not.toMatch(/tsn-/);
  }, 90_000);

  it('refuses bad dual-stack input, naming the value, and makes nothing', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const [c1] = ns;
    const refused = async (args: string[], text: string) => {
      const r = await d.cli(args);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stderr).toContain(text);
    };
    await refused(['network', 'create', '--subnet', 'fd00:219::/64', 'x1'], '--subnet fd00:219::/64 is IPv6: add --ipv6');
    await refused(['network', 'create', '--ipv6', '--subnet', '10.219.0.0/24', 'x2'], '--ipv6 needs an IPv6 --subnet');
    await refused(['network', 'create', '--ipv6', '--subnet', 'fd00:219::5/64', 'x3'], 'has host bits set: did you mean fd00:219::/64?');
    await refused(['network', 'create', '--subnet', '10.219.0.0/24', '--subnet', '10.220.0.0/24', 'x4'], 'a network takes one IPv4 and one IPv6 subnet at most');
    await refused(['network', 'create', '-d', 'null', '--ipv6', '--subnet', 'fd00:219::/64', 'x5'], 'the null driver has no IPv6');
    await refused(['network', 'create', '--ipv6', '--subnet', '10.219.0.0/24', '--subnet', 'fd00:219::/64', '--gateway', 'fd00:21a::1', 'x6'], 'IPv6 gateway fd00:21a::1 is outside the IPv6 subnet fd00:219::/64');
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);

    await d.ok(['network', 'create', '--ipv6', '--subnet', '10.219.0.0/24', '--subnet', 'fd00:219::/64', 'ds1']);
    await refused(['network', 'create', '--ipv6', '--subnet', '10.221.0.0/24', '--subnet', 'fd00:219::/48', 'ds2'], 'IPv6 subnet fd00:219::/48 overlaps fd00:219::/64 of network ds1');
    await refused(['connect', 'ds1', '--netns', c1, '--ip6', 'fd00:999::5'], '--ip6 fd00:999::5 is outside the IPv6 subnet fd00:219::/64');
    await refused(['connect', 'ds1', '--netns', c1, '--ip6', 'fd00:219::1'], '--ip6 fd00:219::1 is the IPv6 gateway of fd00:219::/64');
    await d.ok(['network', 'create', '--subnet', '10.222.0.0/24', 'v4only']);
    await refused(['connect', 'v4only', '--netns', c1, '--ip6', 'fd00:219::5'], 'network v4only has no IPv6 subnet');
    // Nothing was made by the refused connects: no interface in the sandbox, no address taken.
    expect(await nsExec(c1, 'ip', ['-o', 'link', 'show'])).not.toMatch(/eth0/);
    const e = JSON.parse(await d.ok(['connect', 'ds1', '--netns', c1, '--json']));
    expect([e.ip, e.ip6]).toEqual(['10.219.0.2', 'fd00:219::2']);
    expect((JSON.parse(await d.ok(['network', 'ls', '--json'])) as { name: string; subnet6: string | null }[]).map((n) => [n.name, n.subnet6])).toEqual([
      ['ds1', 'fd00:219::/64'],
      ['v4only', null],
    ]);
  }, 60_000);

  it('macvlan: IPv6 endpoints on the LAN, their default route via the LAN router', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const [c1] = ns;
    const lan = await makeLan({ hostNs: d.hostNs, hostCidr: '10.223.0.1/24' });
    cleanup.push(() => lan.teardown());
    await sh('ip', ['-n', lan.ns, 'addr', 'add', 'fd00:223::1/64', 'dev', 'br0', 'nodad']);
    await d.ok(['network', 'create', '-d', 'macvlan', '--ipv6', '--subnet', '10.223.0.0/24', '--subnet', 'fd00:223::/64', '--gateway', '10.223.0.1', '-o', 'parent=p0', 'mv6']);
    const e = JSON.parse(await d.ok(['connect', 'mv6', '--netns', c1, '--json']));
    expect([e.ip, e.ip6]).toEqual(['10.223.0.2', 'fd00:223::2']);
    expect(await sh('ip', ['-n', c1, '-6', 'route', 'show', 'default'])).toMatch(/default via fd00:223::1 dev eth0/);
    expect(await pingOk(c1, 'fd00:223::1', { waitS: 2 })).toBe(true);
    expect(await pingOk(lan.ns, 'fd00:223::2', { waitS: 2 })).toBe(true);
    expect(await pingOk(c1, '10.223.0.1', { waitS: 2 })).toBe(true);
  }, 60_000);

  it('ipvlan: IPv6 endpoints demultiplexed by address, all with the parent\'s MAC and no colliding link-local', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const [c1, c2] = ns;
    const lan = await makeLan({ hostNs: d.hostNs, hostCidr: '10.224.0.1/24' });
    cleanup.push(() => lan.teardown());
    await sh('ip', ['-n', lan.ns, 'addr', 'add', 'fd00:224::1/64', 'dev', 'br0', 'nodad']);
    await d.ok(['network', 'create', '-d', 'ipvlan', '--ipv6', '--subnet', '10.224.0.0/24', '--subnet', 'fd00:224::/64', '--gateway', '10.224.0.1', '-o', 'parent=p0', 'iv6']);
    const e1 = JSON.parse(await d.ok(['connect', 'iv6', '--netns', c1, '--json']));
    const e2 = JSON.parse(await d.ok(['connect', 'iv6', '--netns', c2, '--json']));
    expect([e1.ip6, e2.ip6]).toEqual(['fd00:224::2', 'fd00:224::3']);
    expect(e1.mac).toBe(e2.mac); // the parent's
    for (const c of [c1, c2]) expect(await sh('ip', ['-n', c, '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).toBe('');
    expect(await pingOk(c1, 'fd00:224::1', { waitS: 2 })).toBe(true); // the LAN's host
    expect(await pingOk(lan.ns, 'fd00:224::3', { waitS: 2 })).toBe(true); // and back, to c2 by its address
    expect(await pingOk(c1, 'fd00:224::3', { waitS: 2 })).toBe(true); // sibling to sibling, same MAC
    expect(await pingOk(c2, '10.224.0.2', { waitS: 2 })).toBe(true); // IPv4 alongside
  }, 60_000);

  it('overlay: IPv6 inside the VXLAN between two tsnet hosts (static peers, one IPv6 ip-range per host)', async () => {
    const { hosts } = await underlayHosts(2, '198.18.2', (f) => cleanup.push(f));
    for (const [i, h] of hosts.entries()) {
      const peer = hosts[1 - i].vtep;
      await h.d.ok(['network', 'create', '-d', 'overlay', '--ipv6', '--subnet', '10.225.0.0/24', '--subnet', 'fd00:225::/64', '--ip-range', i === 0 ? '10.225.0.0/25' : '10.225.0.128/25', '--ip-range', i === 0 ? 'fd00:225::100/120' : 'fd00:225::200/120', '-o', 'vni=925', '-o', `vtep=${h.vtep}`, '-o', `peers=${peer}`, 'ov6']);
      await h.d.ok(['connect', 'ov6', '--netns', h.c]);
    }
    expect(await v6Addrs(hosts[0].c)).toEqual(['fd00:225::100/64']);
    expect(await v6Addrs(hosts[1].c)).toEqual(['fd00:225::200/64']);
    expect(await pingOk(hosts[0].c, 'fd00:225::200', { waitS: 2, tries: 3 })).toBe(true);
    expect(await pingOk(hosts[1].c, 'fd00:225::100', { waitS: 2 })).toBe(true);
    expect(await iperfTcpBytes(hosts[1].c, hosts[0].c, 'fd00:225::200')).toBeGreaterThan(10e6);
    // ND suppression: host 1 learned c2's address from its advertisement; asked again, it answers locally.
    await sh('ip', ['-n', hosts[0].c, '-6', 'neigh', 'flush', 'dev', 'eth0']);
    expect(await pingOk(hosts[0].c, 'fd00:225::200', { count: 1, waitS: 2 })).toBe(true);
    const ov = JSON.parse(await hosts[0].d.ok(['network', 'inspect', 'ov6']))[0].Overlay;
    expect(ov.Neighbors6).toBeGreaterThanOrEqual(2); // c1's own (static) and c2's (learned)
    expect(ov.NdSuppressed).toBeGreaterThanOrEqual(1);
    // A static remote entry with its IPv6 address: solicited, answered here (the host behind it need not exist).
    await hosts[0].d.ok(['fdb', 'add', 'ov6', '02:42:0a:e1:02:77', '--vtep', hosts[1].vtep, '--ip6', 'fd00:225::277']);
    await nsExec(hosts[0].c, 'ping', ['-c', '1', '-W', '1', 'fd00:225::277']).catch(() => undefined);
    expect(await sh('ip', ['-n', hosts[0].c, '-6', 'neigh', 'show', 'fd00:225::277'])).toContain('lladdr 02:42:0a:e1:02:77');
    expect(JSON.parse(await hosts[0].d.ok(['network', 'inspect', 'ov6']))[0].Overlay.StaticFDB).toEqual([{ MacAddress: '02:42:0a:e1:02:77', VTEP: hosts[1].vtep, IPv4Address: null, IPv6Address: 'fd00:225::277' }]);
    const badFdb = await hosts[0].d.cli(['fdb', 'add', 'ov6', '02:42:0a:e1:02:78', '--vtep', hosts[1].vtep, '--ip6', 'fd00:999::1']);
    expect(badFdb.stderr).toContain("--ip6 fd00:999::1 is not in ov6's IPv6 subnet fd00:225::/64");
    const v = (JSON.parse(await hosts[0].d.ok(['stats', '--json'])) as { vteps: { rxPackets: number; drops: Record<string, number> }[] }).vteps;
    expect(v[0].rxPackets).toBeGreaterThan(100); // it went through VXLAN
    expect(v[0].drops).toEqual({});
    // Too big for the underlay: the sender gets an ICMPv6 Packet Too Big from the switch and its kernel
    // takes the overlay's MTU (1450) for that destination.
    await sh('ip', ['-n', hosts[0].c, 'link', 'set', 'eth0', 'mtu', '1500']);
    // 1420 + 8 + 40: a 1468-byte IPv6 packet, more than the overlay's 1450 and less than the interface's 1500.
    const dump = await tcpdumpWhile(hosts[0].c, 'eth0', ['-vv', 'icmp6'], () => nsExec(hosts[0].c, 'ping', ['-c', '2', '-W', '1', '-s', '1420', '-M', 'do', 'fd00:225::200']).catch((e) => String(e)));
    expect(dump).toMatch(/packet too big, mtu 1450/);
    expect(await sh('ip', ['-n', hosts[0].c, '-6', 'route', 'get', 'fd00:225::200']), dump).toMatch(/mtu 1450/);
    const drops0 = (JSON.parse(await hosts[0].d.ok(['stats', '--json'])) as { ports: { port: string; drops: Record<string, number> }[] }).ports.find((p) => p.port === `${hosts[0].c}:eth0`)!.drops;
    expect(drops0['overlay-mtu-exceeded']).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
