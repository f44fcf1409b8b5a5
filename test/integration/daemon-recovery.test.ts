/**
 * What a restarted or second daemon may and may not do with devices and addresses (from review
 * findings): a second daemon on the same state is refused before it touches anything; adoption
 * never recreates a device that is gone; a device that cannot be adopted for another reason keeps
 * its endpoint and address; a network whose gateway device vanished can still be removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TapPort } from '../../src/dataplane/ports/tap-port.js';
import { TestDaemon, daemonWithSandboxes } from '../helpers/daemon.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping daemon recovery tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const links = async (ns: string) => (JSON.parse(await sh('ip', ['-n', ns, '-j', 'link'])) as { ifname: string }[]).map((l) => l.ifname);
const ping = (ns: string, ip: string) =>
  nsExec(ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', ip]).then(
    () => true,
    () => false,
  );

describe.skipIf(skip !== null)('daemon recovery', () => {
  it('refuses a second daemon on the same state before it adopts or writes anything', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    await d.ok(['network', 'create', '--subnet', '10.101.0.0/24', 'n']);
    await d.ok(['connect', 'n', '--netns', ns[0]]);
    await d.ok(['connect', 'n', '--netns', ns[1]]);
    const stateBefore = readFileSync(join(d.stateDir, 'state.json'), 'utf8');
    const second = new TestDaemon();
    cleanup.push(() => second.teardown());
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      import('node:child_process').then(({ spawn }) => {
        const c = spawn(process.execPath, [join(import.meta.dirname, '../../bin/tsnet-switch.js'), 'daemon', '--state-dir', d.stateDir, '--socket', second.socket, '--docker-plugin', 'off']);
        let out = '';
        c.stderr.on('data', (x) => (out += x));
        c.on('exit', (code) => resolve({ code, out }));
      });
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/already using the state/);
    expect(readFileSync(join(d.stateDir, 'state.json'), 'utf8')).toBe(stateBefore);
    expect(await ping(ns[0], '10.101.0.3')).toBe(true); // the first daemon kept its devices
  });

  it('never recreates a device that vanished while the daemon was down; releases only that endpoint', async () => {
    const { d, ns } = await daemonWithSandboxes(3, [], (f) => cleanup.push(f));
    const [c1, c2, c3] = ns;
    await d.ok(['network', 'create', '--subnet', '10.102.0.0/24', 'n']);
    await d.ok(['connect', 'n', '--netns', c1]);
    await d.ok(['connect', 'n', '--netns', c2]);
    await d.kill('SIGKILL');
    await sh('ip', ['-n', c2, 'link', 'del', 'eth0']);
    await d.start();
    expect(d.log).toMatch(/1 endpoint\(s\) adopted, 1 released/);
    expect(await links(c2)).not.toContain('eth0'); // not recreated
    expect(await ping(c1, '10.102.0.1')).toBe(true);
    const ep = JSON.parse(await d.ok(['connect', 'n', '--netns', c3, '--json']));
    expect(ep.ip).toBe('10.102.0.4'); // .3 was released; the cursor moves on before reusing it
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'n']))[0];
    expect(Object.keys(inspect.Endpoints)).toHaveLength(2);
  });

  it('keeps an endpoint and its address when its device is busy at start, instead of handing the address out', async () => {
    const { d, ns } = await daemonWithSandboxes(3, [], (f) => cleanup.push(f));
    const [c1, c2, c3] = ns;
    await d.ok(['network', 'create', '--subnet', '10.103.0.0/24', 'n']);
    await d.ok(['connect', 'n', '--netns', c1]);
    await d.ok(['connect', 'n', '--netns', c2]);
    await d.kill('SIGKILL');
    // Something else holds c2's TAP (a debugger, a second switch): adoption gets EBUSY.
    const holder = TapPort.open('eth0', { netns: `/var/run/netns/${c2}`, persist: true });
    try {
      await d.start();
      expect(d.log).toMatch(/not re-adopted, kept: .*EBUSY/);
      expect(d.log).toMatch(/1 endpoint\(s\) adopted, 1 kept unattached/);
      const ep = JSON.parse(await d.ok(['connect', 'n', '--netns', c3, '--json']));
      expect(ep.ip).toBe('10.103.0.4'); // .3 still belongs to c2
      const inspect = JSON.parse(await d.ok(['network', 'inspect', 'n']))[0];
      const attached = Object.values(inspect.Endpoints).map((e) => (e as { Attached: boolean }).Attached);
      expect(attached.sort()).toEqual([false, true, true]);
    } finally {
      holder.close();
    }
  });

  it('removes a network whose gateway device was deleted from outside', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    await d.ok(['network', 'create', '--subnet', '10.104.0.0/24', '-o', 'bridge.name=tsngone0', 'n']);
    await d.ok(['connect', 'n', '--netns', ns[0]]);
    await sh('ip', ['-n', d.hostNs, 'link', 'del', 'tsngone0']);
    await d.ok(['network', 'rm', '--force', 'n']);
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
    expect(await links(ns[0])).not.toContain('eth0');
    // And the file agrees after a restart.
    await d.kill('SIGKILL');
    await d.start();
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
  });
});
