/**
 * An overlay over an IPv6 underlay, end to end through the CLI and a daemon: the tsnet-switch host
 * (fd00:17::1) and a host using the kernel's own vxlan device over IPv6 with a Linux bridge
 * (fd00:17::2), joined by a veth (addresses added nodad):
 *   - `vxlan ... local fd00:17::2 remote fd00:17::1`: ping both ways, iperf3 TCP both ways, each side
 *     learning the other's MAC behind the other's IPv6 VTEP; the underlay carries UDP over IPv6 to
 *     port 4789 (tcpdump decodes the VXLAN), nothing over IPv4; MTU 1430 (underlay - 70) for the
 *     endpoint, and a container at 1500 gets ICMP frag-needed with mtu 1430;
 *   - the kernel with no remote and `bridge fdb append 00:00:00:00:00:00 dev vx0 dst fd00:17::1`, and a
 *     static `fdb add --vtep fd00:17::2` here (learning off): ping both ways, shown by fdb show and
 *     inspect, kept across a restart;
 *   - refusals naming the value: IPv6 peers on an IPv4 VTEP and back, an IPv4 --vtep on an IPv6
 *     overlay, -o encrypted=true on an IPv6 VTEP, link-local and multicast peers.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { addNetns, delNetns, nsExec, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';
import { pingOk, tcpdumpWhile } from '../helpers/traffic.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping overlay-over-IPv6 integration tests: ${skip}`);

const VTEP_A = 'fd00:17::1';
const VTEP_B = 'fd00:17::2';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function netns(name: string): Promise<string> {
  cleanup.push(() => delNetns(name));
  await addNetns(name);
  return name;
}

async function daemon(): Promise<TestDaemon> {
  const d = new TestDaemon();
  cleanup.push(() => d.teardown());
  await d.setup();
  return d;
}

/** A link moved into `ns` with a MAC and an address added nodad (IPv6: usable at once), up. */
async function plumbNodad(ns: string, ifname: string, mac: string, cidr: string, mtu?: number): Promise<void> {
  await sh('ip', ['link', 'set', 'dev', ifname, 'netns', ns]);
  await sh('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'address', mac, ...(mtu ? ['mtu', String(mtu)] : [])]);
  await sh('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : [])]);
  await sh('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'up']);
}

/** A veth between two host namespaces: A gets fd00:17::1/64, B fd00:17::2/64. Returns B's device. */
async function underlay6(nsA: string, nsB: string): Promise<string> {
  const tag = uniqueTag();
  const devA = `tu${tag}a`;
  const devB = `tu${tag}b`;
  await sh('ip', ['link', 'add', devA, 'type', 'veth', 'peer', 'name', devB]);
  await plumbNodad(nsA, devA, '02:00:fd:17:00:01', `${VTEP_A}/64`);
  await plumbNodad(nsB, devB, '02:00:fd:17:00:02', `${VTEP_B}/64`);
  return devB;
}

/** A kernel VXLAN-over-IPv6 host: vxlan device (remote VTEP_A, or none) + Linux bridge in `host`, container `c`. */
async function kernelHost(host: string, c: string, vni: number, ip: string, mac: string, remote: boolean): Promise<void> {
  const tag = uniqueTag();
  await sh('ip', ['-n', host, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(vni), 'local', VTEP_B, ...(remote ? ['remote', VTEP_A] : []), 'dstport', '4789']);
  if (!remote) await sh('bridge', ['-n', host, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', VTEP_A]);
  await sh('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['-n', host, 'link', 'set', 'vx0', 'mtu', '1430', 'master', 'br0', 'up']);
  await sh('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
  const inner = `kc${tag}`;
  const outer = `kp${tag}`;
  await sh('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
  await sh('ip', ['link', 'set', outer, 'netns', host]);
  await sh('ip', ['-n', host, 'link', 'set', outer, 'mtu', '1430', 'master', 'br0', 'up']);
  await plumbNodad(c, inner, mac, `${ip}/24`, 1430);
}

/** iperf3 TCP for 1 s from `clientNs` to a server in `serverNs` on `ip`, started with --pidfile and killed by its pid; bytes received. */
async function iperfBytes(serverNs: string, clientNs: string, ip: string): Promise<number> {
  const pidfile = join(tmpdir(), `tsnt-iperf-${uniqueTag()}.pid`);
  await nsExec(serverNs, 'iperf3', ['-s', '-D', '-1', '-B', ip, '--pidfile', pidfile]);
  try {
    const end = Date.now() + 5000;
    while (!(await nsExec(serverNs, 'ss', ['-Htln', `sport = :5201`])).includes('5201')) {
      if (Date.now() > end) throw new Error('iperf3 server did not listen');
      await new Promise((r) => setTimeout(r, 50));
    }
    const j = JSON.parse(await nsExec(clientNs, 'iperf3', ['-c', ip, '-t', '1', '-J'], { timeoutMs: 30_000 }));
    return j.end.sum_received.bytes as number;
  } finally {
    let pid = NaN;
    try {
      pid = Number(readFileSync(pidfile, 'utf8').trim());
    } catch {
      // gone already: a one-shot (-1) server exits after its test and removes its pidfile
    }
    if (pid > 0) await sh('kill', ['-9', String(pid)]).catch(() => undefined);
    await sh('rm', ['-f', pidfile]);
  }
}

function json<T = any>(text: string): T {
  return JSON.parse(text) as T;
}

describe.skipIf(skip !== null)('overlay networks over an IPv6 underlay', () => {
  it('interoperates with the kernel VXLAN over IPv6: ping and TCP both ways, learning, UDP/IPv6 on port 4789, MTU 1430', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const hostB = await netns(`tsnt-${tag}-kb`);
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    const devB = await underlay6(dA.hostNs, hostB);
    await kernelHost(hostB, c2, 4243, '10.88.0.3', '02:42:0a:58:00:03', true);
    await dA.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.88.0.0/24', '-o', 'vni=4243', '-o', `vtep=${VTEP_A}`, '-o', `peers=${VTEP_B}`, 'ov6']);
    const insp = json(await dA.ok(['network', 'inspect', 'ov6']))[0];
    expect(insp.MTU).toBe(1430);
    expect(insp.Overlay).toMatchObject({ VNI: 4243, VTEP: `[${VTEP_A}]:4789`, Peers: [VTEP_B], UnderlayMTU: 1500, EffectiveMTU: 1430 });
    await dA.ok(['connect', 'ov6', '--netns', c1, '--ip', '10.88.0.2']);
    const link = json(await sh('ip', ['-n', c1, '-d', '-j', 'link', 'show', 'dev', 'eth0']))[0];
    expect(link.mtu).toBe(1430);

    const dump = await tcpdumpWhile(hostB, devB, ['-c', '8', 'udp', 'port', '4789'], async () => {
      expect(await pingOk(c1, '10.88.0.3', { tries: 3 })).toBe(true);
      expect(await pingOk(c2, '10.88.0.2', { tries: 3 })).toBe(true);
    });
    const lines = dump.split('\n').filter((l) => l.includes('VXLAN'));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    // Every underlay frame is IPv6 (ethertype 0x86dd) UDP to 4789, both ways, VNI 4243 decoded.
    expect(lines.every((l) => /ethertype IPv6 \(0x86dd\).*fd00:17::[12]\.\d+ > fd00:17::[12]\.4789: VXLAN, flags \[I\] \(0x08\), vni 4243/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes(`${VTEP_A}.`) && l.includes(`> ${VTEP_B}.4789`))).toBe(true);
    expect(lines.some((l) => l.includes(`${VTEP_B}.`) && l.includes(`> ${VTEP_A}.4789`))).toBe(true);

    expect(await iperfBytes(c2, c1, '10.88.0.3')).toBeGreaterThan(5e6);
    expect(await iperfBytes(c1, c2, '10.88.0.2')).toBeGreaterThan(5e6);

    const fdb = json<{ mac: string; vtep: string | null; type: string }[]>(await dA.ok(['fdb', 'show', 'ov6', '--json']));
    expect(fdb.find((e) => e.mac === '02:42:0a:58:00:03')).toMatchObject({ vtep: VTEP_B, type: 'learned' });
    expect(await dA.ok(['fdb', 'show', 'ov6'])).toMatch(/02:42:0a:58:00:03\s+vxlan4243\s+learned\s+\d+s\s+fd00:17::2/);
    expect(await sh('bridge', ['-n', hostB, 'fdb', 'show', 'dev', 'vx0'])).toMatch(/02:42:0a:58:00:02 dst fd00:17::1/);
    const stats = json(await dA.ok(['stats', '--json']));
    expect(stats.vteps[0]).toMatchObject({ vtep: `[${VTEP_A}]:4789`, networks: [4243], remoteVteps: { known: 1, refused: 0 } });
    expect(stats.ports.find((p: { port: string }) => p.port === 'vxlan4243').txSegments).toBeGreaterThan(1000);

    // A container misconfigured at 1500 over the IPv6 underlay: ICMP frag-needed says 1430.
    await nsExec(c1, 'ip', ['link', 'set', 'eth0', 'mtu', '1500']);
    const out = await nsExec(c1, 'sh', ['-c', 'ping -c 2 -i 0.3 -W 2 -M do -s 1472 10.88.0.3 2>&1; true']);
    expect(out).toMatch(/Frag needed and DF set \(mtu = 1430\)|message too long, mtu=1430/);
  });

  it('works with a kernel VTEP that has no remote (bridge fdb append ... dst fd00:17::1) and a static fdb add --vtep fd00:17::2, across a restart', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const hostB = await netns(`tsnt-${tag}-kb`);
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    await underlay6(dA.hostNs, hostB);
    await kernelHost(hostB, c2, 4244, '10.89.0.3', '02:42:0a:59:00:03', false);
    // No peers, no learning: the static entry alone says where the kernel host's container lives.
    await dA.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.89.0.0/24', '-o', 'vni=4244', '-o', `vtep=${VTEP_A}`, '-o', 'learning=false', 'st6']);
    expect(await dA.ok(['fdb', 'add', 'st6', '02:42:0a:59:00:03', '--vtep', 'FD00:17:0::2', '--ip', '10.89.0.3'])).toMatch(/02:42:0a:59:00:03 dst fd00:17::2 ip 10\.89\.0\.3/);
    await dA.ok(['connect', 'st6', '--netns', c1, '--ip', '10.89.0.2']);
    expect(await pingOk(c1, '10.89.0.3', { tries: 3 })).toBe(true); // ARP answered here, the echo by the static VTEP
    expect(await pingOk(c2, '10.89.0.2', { tries: 3 })).toBe(true);
    const row = /02:42:0a:59:00:03\s+vxlan4244\s+static\s+-\s+fd00:17::2/;
    expect(await dA.ok(['fdb', 'show', 'st6'])).toMatch(row);
    expect(json(await dA.ok(['network', 'inspect', 'st6']))[0].Overlay.StaticFDB).toEqual([{ MacAddress: '02:42:0a:59:00:03', VTEP: VTEP_B, IPv4Address: '10.89.0.3' }]);
    await dA.kill('SIGTERM');
    await dA.start();
    expect(await dA.ok(['fdb', 'show', 'st6'])).toMatch(row);
    expect(await pingOk(c1, '10.89.0.3', { tries: 3 })).toBe(true);
  });

  it('refuses mixed families, encryption over IPv6 and addresses a VTEP cannot use, naming the value', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const other = await netns(`tsnt-${tag}-o`);
    await underlay6(dA.hostNs, other);
    await sh('ip', ['-n', dA.hostNs, 'addr', 'add', '198.18.7.1/24', 'dev', 'lo']);
    const bad = async (args: string[], message: RegExp) => {
      const r = await dA.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    const create = ['network', 'create', '-d', 'overlay', '--subnet', '10.90.0.0/24'];
    await bad([...create, '-o', 'vtep=198.18.7.1', '-o', `peers=${VTEP_B}`, 'x'], /-o peers= fd00:17::2 is an IPv6 address but the VTEP 198\.18\.7\.1 is IPv4: a VTEP sends and receives VXLAN over one family; expected IPv4 addresses/);
    await bad([...create, '-o', `vtep=${VTEP_A}`, '-o', 'peers=198.18.7.2', 'x'], /-o peers= 198\.18\.7\.2 is an IPv4 address but the VTEP fd00:17::1 is IPv6/);
    await bad([...create, '-o', `vtep=${VTEP_A}`, '-o', 'peers=fe80::2', 'x'], /fe80::2 is not a unicast IPv6 address a VTEP can use/);
    await bad([...create, '-o', `vtep=${VTEP_A}`, '-o', 'peers=ff02::1', 'x'], /ff02::1 is not a unicast IPv6 address a VTEP can use/);
    await bad([...create, '-o', 'vtep=fd00:17::9', 'x'], /vtep=fd00:17::9: not an address of this host; expected one of: .*fd00:17::1/);
    await bad([...create, '-o', `vtep=${VTEP_A}`, '-o', 'encrypted=true', '-o', 'encrypted.peers=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=@198.18.7.2', 'x'], /-o encrypted=true: the VTEP fd00:17::1 is IPv6, and encrypted overlays run over an IPv4 underlay only/);
    await dA.ok([...create, '-o', `vtep=${VTEP_A}`, '-o', `peers=${VTEP_B}`, '-o', 'vni=5', 'a']);
    await bad(['fdb', 'add', 'a', '02:42:0a:5a:00:09', '--vtep', '198.18.7.2'], /--vtep 198\.18\.7\.2 is an IPv4 address but the VTEP fd00:17::1 is IPv6/);
    await bad(['fdb', 'add', 'a', '02:42:0a:5a:00:09', '--vtep', VTEP_A], /this host's own VTEP/);
    // The same VNI on the IPv4 VTEP of this host is another VTEP: allowed.
    await dA.ok([...create.slice(0, 4), '--subnet', '10.91.0.0/24', '-o', 'vtep=198.18.7.1', '-o', 'vni=5', 'b']);
    expect(json(await dA.ok(['stats', '--json'])).vteps.map((v: { vtep: string }) => v.vtep).sort()).toEqual(['198.18.7.1:4789', `[${VTEP_A}]:4789`]);
    await dA.ok(['network', 'rm', 'a']);
    await dA.ok(['network', 'rm', 'b']);
    expect(json(await dA.ok(['stats', '--json'])).vteps).toEqual([]);
  });
});
