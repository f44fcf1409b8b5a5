/**
 * The CNI plugin driven exactly as a runtime drives it (test/helpers/cni-runtime.ts: environment +
 * stdin, inside the namespace that plays the host), each result parsed against its version's schema
 * (test/helpers/cni-schema.ts): every verb and version, ping through the switch, DEL twice, ADD of an
 * existing attachment, ADD after a daemon restart, GC, STATUS with the daemon up and down, and bad
 * configurations each with its spec error code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonWithSandboxes, runCli, type TestDaemon } from '../helpers/daemon.js';
import { CniRuntime, SYSTEM_CNI_DIR, type Attachment, type ConfList } from '../helpers/cni-runtime.js';
import { checkError, checkResult, VersionSchema } from '../helpers/cni-schema.js';
import { linkNames, pings, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping CNI plugin tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;


/** A daemon, `n` container namespaces, and the plugin installed by `tsnet-switch cni install` into a temp bin dir. */
async function setup(n: number): Promise<{ d: TestDaemon; ns: string[]; rt: CniRuntime; bin: string }> {
  const { d, ns } = await daemonWithSandboxes(n, [], (f) => cleanup.push(f));
  const bin = mkdtempSync(join(tmpdir(), 'tsnet-cni-bin-'));
  cleanup.push(async () => rmSync(bin, { recursive: true, force: true }));
  const inst = await runCli(['cni', 'install', '--dir', bin], d.socket);
  expect(inst.code, inst.stderr).toBe(0);
  expect(inst.stdout.trim()).toBe(join(bin, 'tsnet-switch'));
  return { d, ns, rt: new CniRuntime(d.hostNs, [bin, SYSTEM_CNI_DIR]), bin };
}

const att = (id: string, ns: string, ifname = 'eth0'): Attachment => ({ containerId: id, netns: `/var/run/netns/${ns}`, ifname });
const list = (version: string, plugin: Record<string, unknown>, name = 'cninet'): ConfList => ({ cniVersion: version, name, plugins: [{ type: 'tsnet-switch', ...plugin }] });
const conf = (version: string, plugin: Record<string, unknown>, name = 'cninet') => ({ cniVersion: version, name, type: 'tsnet-switch', ...plugin });

describe.skipIf(skip !== null)('CNI plugin (spec 1.1) against the daemon', () => {
  it('VERSION answers with the input version and the supported list, without a daemon', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'tsnet-cni-bin-'));
    cleanup.push(async () => rmSync(bin, { recursive: true, force: true }));
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    await runCli(['cni', 'install', '--dir', bin], join(bin, 'no-daemon.sock'));
    const r2 = new CniRuntime(d.hostNs, [bin]);
    for (const v of [...VERSIONS, '0.3.1']) {
      const a = await r2.exec('tsnet-switch', 'VERSION', { cniVersion: v });
      expect(a.code).toBe(0);
      expect(VersionSchema.parse(a.json)).toEqual({ cniVersion: v, supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    }
  });

  for (const version of VERSIONS) {
    it(`ADD, CHECK, DEL, DEL again with cniVersion ${version}: the network is made on first use and two containers ping through the switch`, async () => {
      const { d, ns, rt } = await setup(2);
      const l = list(version, { network: 'cninet', subnet: '10.141.0.0/24', gateway: '10.141.0.1', dns: { nameservers: ['10.141.0.1'], search: ['example.test'] } });
      const a1 = att('ctr-one', ns[0]);
      const a2 = att('ctr-two', ns[1]);
      const r1 = checkResult(version, await rt.add(l, a1));
      const r2 = checkResult(version, await rt.add(l, a2));
      expect(r1.interfaces).toEqual([{ name: 'eth0', mac: '02:42:0a:8d:00:02', ...(version === '1.1.0' ? { mtu: 1500 } : {}), sandbox: a1.netns }]);
      expect(r1.ips).toEqual([{ ...(version === '0.4.0' ? { version: '4' } : {}), address: '10.141.0.2/24', gateway: '10.141.0.1', interface: 0 }]);
      expect(r1.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.141.0.1' }]);
      expect(r1.dns).toEqual({ nameservers: ['10.141.0.1'], search: ['example.test'] });
      expect(r2.ips?.[0].address).toBe('10.141.0.3/24');
      const inspect = JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0];
      expect(inspect.IPAM.Config[0]).toMatchObject({ Subnet: '10.141.0.0/24', Gateway: '10.141.0.1' });
      expect(Object.values(inspect.Endpoints).map((e) => (e as { SandboxPath: string }).SandboxPath).sort()).toEqual([a1.netns, a2.netns].sort());
      expect(await pings(ns[0], '10.141.0.3')).toBe(true);
      expect(await pings(ns[1], '10.141.0.1')).toBe(true);

      await rt.check(l, a1, r1);
      await rt.del(l, a1, r1);
      expect(await linkNames(ns[0])).not.toContain('eth0');
      await rt.del(l, a1, r1); // the spec: DEL of what is gone succeeds
      await rt.del(l, a1, undefined); // and without a prevResult
      const chk = await rt.exec('tsnet-switch', 'CHECK', { ...conf(version, { network: 'cninet' }), prevResult: r1 }, a1);
      expect(chk.code).toBe(1);
      expect(checkError(chk.json).code).toBe(101);
      const after = JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0];
      expect(Object.keys(after.Endpoints)).toHaveLength(1);
      await rt.del(l, a2, r2);
    });
  }

  it('refuses a second ADD of the same (container, ifname) and leaves the first alone; another ifname is a second attachment', async () => {
    const { d, ns, rt } = await setup(2);
    const l = list('1.0.0', { subnet: '10.142.0.0/24' });
    const first = checkResult('1.0.0', await rt.add(l, att('dup', ns[0])));
    const again = await rt.exec('tsnet-switch', 'ADD', conf('1.0.0', { subnet: '10.142.0.0/24' }), att('dup', ns[1]));
    expect(again.code).toBe(1);
    const e = checkError(again.json);
    expect(e.code).toBe(100);
    expect(e.details).toContain('dup');
    expect(await linkNames(ns[1])).not.toContain('eth0');
    // The same container id with another ifname on another network is a second attachment.
    const other = checkResult('1.0.0', await rt.add(list('1.0.0', { network: 'second', subnet: '10.143.0.0/24' }), att('dup', ns[0], 'net1')));
    expect(other.interfaces?.[0].name).toBe('net1');
    expect(await linkNames(ns[0])).toEqual(expect.arrayContaining(['eth0', 'net1']));
    expect(await pings(ns[0], '10.142.0.1')).toBe(true);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0];
    expect(Object.keys(inspect.Endpoints)).toHaveLength(1);
    expect(first.ips?.[0].address).toBe('10.142.0.2/24');
  });

  it('DEL after the container\'s namespace is gone succeeds and releases the address', async () => {
    const { d, ns, rt } = await setup(2);
    const l = list('1.0.0', { subnet: '10.140.0.0/24' });
    const r = await rt.add(l, att('gone', ns[0]));
    await sh('ip', ['netns', 'del', ns[0]]); // the runtime removed the namespace first
    await rt.del(l, att('gone', ns[0]), r);
    expect(JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0].Endpoints).toEqual({});
    const again = checkResult('1.0.0', await rt.add(l, { ...att('next', ns[1]), args: 'IP=10.140.0.2' }));
    expect(again.ips?.[0].address).toBe('10.140.0.2/24'); // the address was released
  });

  it('ADD after a daemon restart: the old attachment is re-adopted, a new one joins it, DEL of both works', async () => {
    const { d, ns, rt } = await setup(2);
    const l = list('1.0.0', { subnet: '10.144.0.0/24' });
    const r1 = await rt.add(l, att('before', ns[0]));
    await d.kill('SIGKILL');
    const down = await rt.exec('tsnet-switch', 'ADD', conf('1.0.0', { subnet: '10.144.0.0/24' }), att('during', ns[1]));
    expect(checkError(down.json).code).toBe(11); // try again later
    expect(await linkNames(ns[1])).not.toContain('eth0');
    await d.start();
    const r2 = checkResult('1.0.0', await rt.add(l, att('after', ns[1])));
    expect(r2.ips?.[0].address).toBe('10.144.0.3/24');
    expect(await pings(ns[1], '10.144.0.2')).toBe(true);
    await rt.check(l, att('before', ns[0]), r1);
    await rt.del(l, att('before', ns[0]), r1);
    await rt.del(l, att('after', ns[1]), r2);
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0];
    expect(Object.keys(inspect.Endpoints)).toHaveLength(0);
  });

  it('GC removes the attachments whose container is not in cni.dev/valid-attachments, and nothing else', async () => {
    const { d, ns, rt } = await setup(4);
    const l = list('1.1.0', { subnet: '10.145.0.0/24' });
    await rt.add(l, att('keep', ns[0]));
    await rt.add(l, att('stale-1', ns[1]));
    await rt.add(l, att('stale-2', ns[2]));
    // An endpoint made by hand (`connect`) is not a runtime's, and GC leaves it alone.
    const hand = await runCli(['connect', 'cninet', '--netns', ns[3], '--ifname', 'hand0', '--json'], d.socket);
    expect(hand.code, hand.stderr).toBe(0);
    const failures = await rt.gc(l, [{ containerID: 'keep', ifname: 'eth0' }]);
    expect(failures).toEqual([]);
    expect(await linkNames(ns[0])).toContain('eth0');
    expect(await linkNames(ns[1])).not.toContain('eth0');
    expect(await linkNames(ns[2])).not.toContain('eth0');
    expect(await linkNames(ns[3])).toContain('hand0');
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'cninet']))[0];
    expect(Object.values(inspect.Endpoints).map((e) => (e as { Interface: string; SandboxPath: string }).Interface).sort()).toEqual(['eth0', 'hand0']);
    expect(await pings(ns[0], '10.145.0.1')).toBe(true);
  });

  it('STATUS is 0 with the daemon up and 50 with it down; a daemon that is down makes DEL and CHECK code 11', async () => {
    const { d, ns, rt } = await setup(1);
    const c = conf('1.1.0', { subnet: '10.146.0.0/24' });
    const up = await rt.exec('tsnet-switch', 'STATUS', c);
    expect(up.code).toBe(0);
    expect(up.stdout).toBe('');
    const r = await rt.add(list('1.1.0', { subnet: '10.146.0.0/24' }), att('s1', ns[0]));
    await d.kill('SIGKILL');
    const downStatus = await rt.exec('tsnet-switch', 'STATUS', c);
    expect(downStatus.code).toBe(1);
    expect(checkError(downStatus.json)).toMatchObject({ cniVersion: '1.1.0', code: 50 });
    expect(checkError((await rt.exec('tsnet-switch', 'DEL', { ...c, prevResult: r }, att('s1', ns[0]))).json).code).toBe(11);
    expect(checkError((await rt.exec('tsnet-switch', 'CHECK', { ...c, prevResult: r }, att('s1', ns[0]))).json).code).toBe(11);
    await d.start();
    expect((await rt.exec('tsnet-switch', 'DEL', { ...c, prevResult: r }, att('s1', ns[0]))).code).toBe(0);
  });

  it('refuses bad configurations and environments with the spec code, naming the bad value, and makes nothing', async () => {
    const { d, ns, rt } = await setup(1);
    const a = att('bad', ns[0]);
    const good = conf('1.0.0', { subnet: '10.147.0.0/24' });
    const cases: { name: string; stdin: unknown; env?: Record<string, string | undefined>; at?: Partial<Attachment>; code: number; text: string }[] = [
      { name: 'not JSON', stdin: '{"cniVersion": "1.0.0",', code: 6, text: 'not JSON' },
      { name: 'old version', stdin: { ...good, cniVersion: '0.3.1' }, code: 1, text: '0.3.1' },
      { name: 'unknown driver', stdin: { ...good, driver: 'vxlan' }, code: 2, text: 'vxlan' },
      { name: 'IPv6 subnet', stdin: { ...good, subnet: 'fd00::/64' }, code: 2, text: 'fd00::/64' },
      { name: 'bad subnet', stdin: { ...good, subnet: '10.147.0.0/33' }, code: 7, text: '10.147.0.0/33' },
      { name: 'host bits', stdin: { ...good, subnet: '10.147.0.5/24' }, code: 7, text: '10.147.0.5/24' },
      { name: 'wrong type', stdin: { ...good, type: 'bridge' }, code: 7, text: 'bridge' },
      { name: 'mtu', stdin: { ...good, mtu: 10 }, code: 7, text: 'mtu' },
      { name: 'ipam plugin missing', stdin: { ...good, ipam: { type: 'no-such-ipam' } }, code: 7, text: 'no-such-ipam' },
      { name: 'no container id', stdin: good, env: { CNI_CONTAINERID: undefined }, code: 4, text: 'CNI_CONTAINERID' },
      { name: 'bad command', stdin: good, env: { CNI_COMMAND: 'ATTACH' }, code: 4, text: 'ATTACH' },
      { name: 'bad ifname', stdin: good, at: { ifname: 'a-very-long-ifname0' }, code: 4, text: 'a-very-long-ifname0' },
      { name: 'no such netns', stdin: good, at: { netns: '/var/run/netns/tsnt-none-here' }, code: 4, text: 'tsnt-none-here' },
      { name: 'unknown CNI_ARGS', stdin: good, at: { args: 'FOO=bar' }, code: 4, text: 'FOO' },
    ];
    for (const c of cases) {
      const r = await rt.exec('tsnet-switch', c.env?.CNI_COMMAND ?? 'ADD', c.stdin, { ...a, ...c.at }, c.env ?? {});
      expect(r.code, c.name).toBe(1);
      const e = checkError(r.json);
      expect(e.code, `${c.name}: ${JSON.stringify(e)}`).toBe(c.code);
      expect(`${e.msg} ${e.details}`, c.name).toContain(c.text);
    }
    expect(await linkNames(ns[0])).not.toContain('eth0');
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]); // no network was made by a refused ADD
    // A network that exists with another subnet: 7, naming both.
    await rt.add(list('1.0.0', { subnet: '10.147.0.0/24' }), att('ok', ns[0]));
    const mismatch = await rt.exec('tsnet-switch', 'ADD', { ...good, subnet: '10.148.0.0/24' }, att('ok2', ns[0], 'eth1'));
    const e = checkError(mismatch.json);
    expect(e.code).toBe(7);
    expect(e.details).toContain('10.147.0.0/24');
    expect(e.details).toContain('10.148.0.0/24');
  });

  it('a static address from runtimeConfig.ips (capability "ips") or CNI_ARGS IP, a MAC from CNI_ARGS', async () => {
    const { ns, rt } = await setup(2);
    const l: ConfList = { cniVersion: '1.0.0', name: 'cninet', plugins: [{ type: 'tsnet-switch', subnet: '10.149.0.0/24', capabilities: { ips: true } }] };
    const r1 = checkResult('1.0.0', await rt.add(l, { ...att('st1', ns[0]), capabilityArgs: { ips: ['10.149.0.77/24'] } }));
    expect(r1.ips?.[0].address).toBe('10.149.0.77/24');
    const r2 = checkResult('1.0.0', await rt.add(l, { ...att('st2', ns[1]), args: 'IgnoreUnknown=1;IP=10.149.0.88;MAC=02:00:00:00:00:88;K8S_POD_NAME=x' }));
    expect(r2.ips?.[0].address).toBe('10.149.0.88/24');
    expect(r2.interfaces?.[0].mac).toBe('02:00:00:00:00:88');
    expect(await pings(ns[0], '10.149.0.88')).toBe(true);
    const taken = await rt.exec('tsnet-switch', 'ADD', conf('1.0.0', { subnet: '10.149.0.0/24' }), { ...att('st3', ns[1], 'eth1'), args: 'IP=10.149.0.77' });
    expect(checkError(taken.json).code).toBe(100);
    expect(existsSync(`/var/run/netns/${ns[1]}`)).toBe(true);
  });
});
