/**
 * Overlay networks end to end through the CLI and daemons, across "hosts" (namespaces) joined by a veth
 * underlay, 198.18.0.1/24 and 198.18.0.2/24:
 *   - a tsnet-switch host and a host using the kernel's own vxlan device and a Linux bridge: ping and
 *     TCP both ways, each side learning the other's MAC behind the right VTEP;
 *   - two tsnet-switch hosts (two daemons): ping and TCP both ways; ARP suppression observed on the
 *     underlay (tcpdump decodes VXLAN: the first ARP crosses, the one for the known pair does not);
 *   - isolation: two VNIs on the same hosts never see each other's frames; unknown VNI and a clear I
 *     flag are counted;
 *   - MTU: the default is the underlay's minus 50 and inspect shows it; a larger --mtu is refused;
 *     containers misconfigured at 1500 get ICMP frag-needed and TCP still flows (PMTU discovery);
 *   - bad options and fdb add/del errors name the value.
 */
import { iperfTcpBytes, pingOk, tcpdumpWhile } from '../helpers/traffic.js';
import { afterEach, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { addNetns, delNetns, nsExec, plumb, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping overlay integration tests: ${skip}`);

const VTEP_A = '198.18.0.1';
const VTEP_B = '198.18.0.2';

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

/** A veth between two host namespaces: A gets 198.18.0.1, B 198.18.0.2. Returns A's device name. */
async function underlay(nsA: string, nsB: string, mtu = 1500): Promise<{ devA: string; devB: string }> {
  const tag = uniqueTag();
  const devA = `tu${tag}a`;
  const devB = `tu${tag}b`;
  await sh('ip', ['link', 'add', devA, 'type', 'veth', 'peer', 'name', devB]);
  await plumb(nsA, devA, '02:00:c6:12:00:01', `${VTEP_A}/24`, mtu);
  await plumb(nsB, devB, '02:00:c6:12:00:02', `${VTEP_B}/24`, mtu);
  return { devA, devB };
}

/** A kernel VXLAN host: vxlan device + Linux bridge in `host`, one container `c` with `ip`/24. */
async function kernelHost(host: string, c: string, vni: number, ip: string, mac: string): Promise<void> {
  const tag = uniqueTag();
  await sh('ip', ['-n', host, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(vni), 'local', VTEP_B, 'remote', VTEP_A, 'dstport', '4789']);
  await sh('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['-n', host, 'link', 'set', 'vx0', 'mtu', '1450', 'master', 'br0', 'up']);
  await sh('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
  const inner = `kc${tag}`;
  const outer = `kp${tag}`;
  await sh('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
  await sh('ip', ['link', 'set', outer, 'netns', host]);
  await sh('ip', ['-n', host, 'link', 'set', outer, 'mtu', '1450', 'master', 'br0', 'up']);
  await plumb(c, inner, mac, `${ip}/24`, 1450);
}

function json<T = any>(text: string): T {
  return JSON.parse(text) as T;
}

describe.skipIf(skip !== null)('overlay networks (VXLAN) across hosts', () => {
  it('interoperates with the kernel VXLAN: ping and TCP both ways, learning on both sides', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const hostB = await netns(`tsnt-${tag}-kb`);
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    await underlay(dA.hostNs, hostB);
    await kernelHost(hostB, c2, 4242, '10.81.0.3', '02:42:0a:51:00:03');
    await dA.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.81.0.0/24', '-o', 'vni=4242', '-o', `vtep=${VTEP_A}`, '-o', `peers=${VTEP_B}`, 'ov1']);
    const ep = json(await dA.ok(['connect', 'ov1', '--netns', c1, '--ip', '10.81.0.2', '--json']));
    expect(ep.mac).toBe('02:42:0a:51:00:02');
    const link = json(await sh('ip', ['-n', c1, '-d', '-j', 'link', 'show', 'dev', 'eth0']))[0];
    expect(link.mtu).toBe(1450);
    expect(link.gso_max_segs).toBe(44); // one TSO super-frame fits one UDP_SEGMENT message

    expect(await pingOk(c1, '10.81.0.3', { tries: 3 })).toBe(true);
    expect(await pingOk(c2, '10.81.0.2', { tries: 3 })).toBe(true);
    expect(await iperfTcpBytes(c2, c1, '10.81.0.3')).toBeGreaterThan(5e6);
    expect(await iperfTcpBytes(c1, c2, '10.81.0.2')).toBeGreaterThan(5e6);

    const fdb = json<{ mac: string; vtep: string | null; type: string }[]>(await dA.ok(['fdb', 'show', 'ov1', '--json']));
    expect(fdb.find((e) => e.mac === '02:42:0a:51:00:03')).toMatchObject({ vtep: VTEP_B, type: 'learned' });
    expect(await dA.ok(['fdb', 'show', 'ov1'])).toMatch(/02:42:0a:51:00:03\s+vxlan4242\s+learned\s+\d+s\s+198\.18\.0\.2/);
    const kfdb = await sh('bridge', ['-n', hostB, 'fdb', 'show', 'dev', 'vx0']);
    expect(kfdb).toMatch(new RegExp(`02:42:0a:51:00:02 dst ${VTEP_A.replace(/\./g, '\\.')}`));
    const stats = json(await dA.ok(['stats', '--json']));
    const vx = stats.ports.find((p: { port: string }) => p.port === 'vxlan4242');
    expect(vx.txSegments).toBeGreaterThan(1000); // TSO super-frames were segmented before encapsulation
    expect(stats.vteps[0]).toMatchObject({ vtep: `${VTEP_A}:4789`, networks: [4242] });
  });

  it('joins two tsnet-switch hosts: ping and TCP both ways; ARP for a known pair never crosses the underlay', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const dB = await daemon();
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    const { devA } = await underlay(dA.hostNs, dB.hostNs);
    const create = (d: TestDaemon, vtep: string, peer: string) =>
      d.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.82.0.0/24', '-o', 'vni=5000', '-o', `vtep=${vtep}`, '-o', `peers=${peer}`, 'ov']);
    await create(dA, VTEP_A, VTEP_B);
    await create(dB, VTEP_B, VTEP_A);
    await dA.ok(['connect', 'ov', '--netns', c1, '--ip', '10.82.0.2']);
    await dB.ok(['connect', 'ov', '--netns', c2, '--ip', '10.82.0.3']);

    const first = await tcpdumpWhile(dA.hostNs, devA, ['udp', 'port', '4789'], async () => {
      expect(await pingOk(c1, '10.82.0.3', { tries: 3 })).toBe(true);
    });
    expect(first).toMatch(/ethertype ARP \(0x0806\).*Request who-has 10\.82\.0\.3/); // unknown pair: it crosses (head-end)
    expect(first).toMatch(/VXLAN, flags \[I\] \(0x08\), vni 5000/);
    expect(await pingOk(c2, '10.82.0.2', { tries: 3 })).toBe(true);
    expect(await iperfTcpBytes(c2, c1, '10.82.0.3')).toBeGreaterThan(5e6);
    expect(await iperfTcpBytes(c1, c2, '10.82.0.2')).toBeGreaterThan(5e6);

    // Forget the neighbour in both containers: they ARP again, and the switches answer locally.
    await nsExec(c1, 'ip', ['neigh', 'flush', 'all']);
    await nsExec(c2, 'ip', ['neigh', 'flush', 'all']);
    const again = await tcpdumpWhile(dA.hostNs, devA, ['udp', 'port', '4789'], async () => {
      expect(await pingOk(c1, '10.82.0.3', { tries: 3 })).toBe(true);
      expect(await pingOk(c2, '10.82.0.2', { tries: 3 })).toBe(true);
    });
    expect(again).toMatch(/ICMP echo request/);
    expect(again).not.toMatch(/ARP/);
    const inspA = json(await dA.ok(['network', 'inspect', 'ov']))[0];
    const inspB = json(await dB.ok(['network', 'inspect', 'ov']))[0];
    expect(inspA.Overlay.ArpSuppressed).toBeGreaterThan(0);
    expect(inspB.Overlay.ArpSuppressed).toBeGreaterThan(0);
    expect(inspA.Overlay).toMatchObject({ VNI: 5000, VTEP: `${VTEP_A}:4789`, Peers: [VTEP_B], UnderlayMTU: 1500, EffectiveMTU: 1450 });
  });

  it('isolates two VNIs on the same hosts, and counts unknown VNIs and a clear I flag', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const dB = await daemon();
    await underlay(dA.hostNs, dB.hostNs);
    const ns = {
      a100: await netns(`tsnt-${tag}-a1`),
      a200: await netns(`tsnt-${tag}-a2`),
      b100: await netns(`tsnt-${tag}-b1`),
      b200: await netns(`tsnt-${tag}-b2`),
    };
    for (const [d, vtep, peer] of [
      [dA, VTEP_A, VTEP_B],
      [dB, VTEP_B, VTEP_A],
    ] as const) {
      await d.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.83.0.0/24', '-o', 'vni=100', '-o', `vtep=${vtep}`, '-o', `peers=${peer}`, 'n100']);
      await d.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.84.0.0/24', '-o', 'vni=200', '-o', `vtep=${vtep}`, '-o', `peers=${peer}`, 'n200']);
    }
    await dA.ok(['connect', 'n100', '--netns', ns.a100, '--ip', '10.83.0.2']);
    await dA.ok(['connect', 'n200', '--netns', ns.a200, '--ip', '10.84.0.2']);
    await dB.ok(['connect', 'n100', '--netns', ns.b100, '--ip', '10.83.0.3']);
    const b200 = json(await dB.ok(['connect', 'n200', '--netns', ns.b200, '--ip', '10.84.0.3', '--json']));
    expect(await pingOk(ns.a200, '10.84.0.3', { tries: 3 })).toBe(true);

    const seen = await tcpdumpWhile(ns.b200, 'eth0', [], async () => {
      expect(await pingOk(ns.a100, '10.83.0.3', { tries: 3 })).toBe(true);
      await nsExec(ns.a100, 'ping', ['-b', '-c', '2', '-i', '0.2', '-W', '1', '10.83.0.255']).catch(() => undefined);
      // Unicast on VNI 100 to the MAC of the VNI 200 container: flooded inside VNI 100 only.
      await nsExec(ns.a100, 'ip', ['neigh', 'replace', '10.83.0.99', 'lladdr', b200.mac, 'dev', 'eth0']);
      await nsExec(ns.a100, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', '10.83.0.99']).catch(() => undefined);
    });
    expect(seen).not.toMatch(/10\.83\./);
    expect(seen).not.toMatch(/02:42:0a:53:00:02/);

    // Crafted datagrams from host B to A's VTEP: an unknown VNI, then the same with the I flag clear.
    const inner = 'ffffffffffff02420a530009080600010800060400010242' + '0a5300090a530009000000000000' + '0a530002';
    const send = (hex: string) =>
      nsExec(dB.hostNs, process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');s.send(Buffer.from('${hex}','hex'),4789,'${VTEP_A}',()=>s.close())`]);
    await send('0800000000030900' + inner);
    await send('0000000000006400' + inner);
    await new Promise((r) => setTimeout(r, 300));
    const stats = json(await dA.ok(['stats', '--json']));
    expect(stats.vteps[0].drops).toMatchObject({ 'vxlan-unknown-vni': 1, 'vxlan-bad-flags': 1 });
    expect(stats.vteps[0].networks).toEqual([100, 200]);
  });

  it('defaults the MTU to the underlay minus 50, refuses what cannot fit, and answers too-big packets with ICMP', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const dB = await daemon();
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    await underlay(dA.hostNs, dB.hostNs, 1400);
    const bad = await dA.cli(['network', 'create', '-d', 'overlay', '--subnet', '10.85.0.0/24', '--mtu', '1400', '-o', `peers=${VTEP_B}`, 'ov']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/MTU 1400 does not fit the underlay: VXLAN adds 50 bytes and tu\w+ \(198\.18\.0\.1\) has MTU 1400; expected at most 1350/);
    for (const [d, peer] of [
      [dA, VTEP_B],
      [dB, VTEP_A],
    ] as const) {
      await d.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.85.0.0/24', '-o', 'vni=7', '-o', `peers=${peer}`, 'ov']); // vtep: the only address
    }
    const insp = json(await dA.ok(['network', 'inspect', 'ov']))[0];
    expect(insp.MTU).toBe(1350);
    expect(insp.Overlay).toMatchObject({ UnderlayMTU: 1400, EffectiveMTU: 1350, VTEP: `${VTEP_A}:4789` });
    await dA.ok(['connect', 'ov', '--netns', c1, '--ip', '10.85.0.2']);
    await dB.ok(['connect', 'ov', '--netns', c2, '--ip', '10.85.0.3']);
    expect(await pingOk(c1, '10.85.0.3', { tries: 3 })).toBe(true);
    // The classic breakage: containers at 1500 over a small underlay. Never silent: ICMP frag-needed.
    for (const c of [c1, c2]) await nsExec(c, 'ip', ['link', 'set', 'eth0', 'mtu', '1500']);
    const out = await nsExec(c1, 'sh', ['-c', 'ping -c 2 -i 0.3 -W 2 -M do -s 1472 10.85.0.3 2>&1; true']);
    expect(out).toMatch(/From 10\.85\.0\.3 icmp_seq=1 Frag needed and DF set \(mtu = 1350\)/);
    expect(out).toMatch(/message too long, mtu=1350/); // the sender learned the path MTU
    expect(await iperfTcpBytes(c2, c1, '10.85.0.3')).toBeGreaterThan(1e6); // PMTU discovery converged
    const stats = json(await dA.ok(['stats', '--json']));
    const net = stats.networks.find((n: { network: string }) => n.network === 'ov');
    expect(net.drops['overlay-mtu-exceeded']).toBeGreaterThan(0);
  });

  it('refuses bad overlay options and fdb requests, naming the value', async () => {
    const tag = uniqueTag();
    const dA = await daemon();
    const other = await netns(`tsnt-${tag}-o`);
    await underlay(dA.hostNs, other);
    const bad = async (args: string[], message: RegExp) => {
      const r = await dA.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    const create = ['network', 'create', '-d', 'overlay', '--subnet', '10.86.0.0/24'];
    await bad([...create, '-o', 'vni=0', 'x'], /vni=0: expected a VXLAN network identifier 1\.\.16777215/);
    await bad([...create, '-o', 'vni=16777216', 'x'], /vni=16777216/);
    await bad([...create, '-o', 'peers=198.18.0.2,bogus', 'x'], /"bogus" is not a valid IPv4 address/);
    await bad([...create, '-o', `peers=${VTEP_A}`, 'x'], /198\.18\.0\.1 is the local VTEP itself/);
    await bad([...create, '-o', 'peers=224.0.0.1', 'x'], /224\.0\.0\.1 is not a unicast address/);
    await bad([...create, '-o', 'vtep=198.18.0.77', 'x'], /vtep=198\.18\.0\.77: not an address of this host; expected one of: 198\.18\.0\.1/);
    await bad([...create, '-o', 'learning=maybe', 'x'], /learning=maybe: expected true or false/);
    await bad([...create, '-o', 'port=0', 'x'], /port=0: expected a UDP port/);
    await bad(['network', 'create', '-o', 'vni=5', 'x'], /-o vni=5: unknown option/); // not for bridge networks
    await dA.ok([...create, '-o', 'vni=9', 'a']);
    await bad(['network', 'create', '-d', 'overlay', '--subnet', '10.87.0.0/24', '-o', 'vni=9', 'b'], /VNI 9 is used by another overlay network/);
    await dA.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.87.0.0/24', '-o', 'vni=10', 'b']);
    await bad(['fdb', 'add', 'a', 'zz:zz', '--vtep', VTEP_B], /zz:zz/);
    await bad(['fdb', 'add', 'a', '02:42:0a:56:00:09', '--vtep', 'nope'], /"nope" is not a valid IPv4 address/);
    await bad(['fdb', 'add', 'a', '02:42:0a:56:00:09', '--vtep', VTEP_A], /this host's own VTEP/);
    await bad(['fdb', 'add', 'a', '02:42:0a:56:00:09', '--vtep', VTEP_B, '--ip', '10.99.0.1'], /10\.99\.0\.1 is not in a's subnet 10\.86\.0\.0\/24/);
    await bad(['fdb', 'del', 'a', '02:42:0a:56:00:77'], /no remote entry for 02:42:0a:56:00:77 on a/);
    await dA.ok(['fdb', 'add', 'a', '02:42:0a:56:00:09', '--vtep', VTEP_B, '--ip', '10.86.0.9']);
    expect(await dA.ok(['fdb', 'show', 'a'])).toMatch(/02:42:0a:56:00:09\s+vxlan9\s+static\s+-\s+198\.18\.0\.2/);
    expect(json(await dA.ok(['network', 'inspect', 'a']))[0].Overlay.StaticFDB).toEqual([{ MacAddress: '02:42:0a:56:00:09', VTEP: VTEP_B, IPv4Address: '10.86.0.9' }]);
    // The static entry survives a restart.
    await dA.kill('SIGTERM');
    await dA.start();
    expect(await dA.ok(['fdb', 'show', 'a'])).toMatch(/02:42:0a:56:00:09\s+vxlan9\s+static\s+-\s+198\.18\.0\.2/);
    expect(await dA.ok(['fdb', 'del', 'a', '02:42:0a:56:00:09'])).toMatch(/static/);
    await dA.ok(['network', 'rm', 'a']);
    await dA.ok(['network', 'rm', 'b']);
    expect(json(await dA.ok(['stats', '--json'])).vteps).toEqual([]); // the last network closed the sockets
  });
});
