/**
 * The rest of `network create` and `connect` through the CLI: the null driver, internal networks
 * (no gateway port, no default route), --mtu, --ip-range and --aux-address, connecting by --pid and
 * disconnecting by interface name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { daemonWithSandboxes } from '../helpers/daemon.js';
import { kill, nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping network option tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function world() {
  const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
  return { d, c1: ns[0], c2: ns[1] };
}

const linkNames = async (ns: string) => (JSON.parse(await sh('ip', ['-n', ns, '-j', 'link'])) as { ifname: string }[]).map((l) => l.ifname);
const ping = (ns: string, ip: string) =>
  nsExec(ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', ip]).then(
    () => true,
    () => false,
  );

describe.skipIf(skip !== null)('network options', () => {
  it('internal network: no gateway port, no default route, containers still talk; --mtu applies', async () => {
    const { d, c1, c2 } = await world();
    const hostBefore = await linkNames(d.hostNs);
    await d.ok(['network', 'create', '--subnet', '10.91.0.0/24', '--mtu', '1400', '-o', 'internal=true', 'back']);
    expect(await linkNames(d.hostNs)).toEqual(hostBefore);
    await d.ok(['connect', 'back', '--netns', c1]);
    await d.ok(['connect', 'back', '--netns', c2]);
    expect(await sh('ip', ['-n', c1, 'route', 'show', 'default'])).toBe('');
    const link = JSON.parse(await sh('ip', ['-n', c1, '-j', 'link', 'show', 'eth0']))[0];
    expect(link.mtu).toBe(1400);
    expect(await ping(c1, '10.91.0.3')).toBe(true);
    expect(await ping(c1, '10.91.0.1')).toBe(false); // the gateway address exists nowhere
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'back']))[0];
    expect(inspect).toMatchObject({ Internal: true, MTU: 1400, GatewayPort: null });
  });

  it('--ip-range and --aux-address shape allocation', async () => {
    const { d, c1, c2 } = await world();
    await d.ok(['network', 'create', '--subnet', '10.92.0.0/24', '--ip-range', '10.92.0.128/30', '--aux-address', 'router=10.92.0.129', 'ranged']);
    const a = JSON.parse(await d.ok(['connect', 'ranged', '--netns', c1, '--json']));
    const b = JSON.parse(await d.ok(['connect', 'ranged', '--netns', c2, '--json']));
    expect([a.ip, b.ip]).toEqual(['10.92.0.128', '10.92.0.130']); // .129 is reserved
    const inspect = JSON.parse(await d.ok(['network', 'inspect', 'ranged']))[0];
    expect(inspect.IPAM.Config[0]).toMatchObject({ IPRange: '10.92.0.128/30', AuxiliaryAddresses: { router: '10.92.0.129' } });
  });

  it('connects a sandbox by --pid and disconnects it by interface name', async () => {
    const { d, c1 } = await world();
    await d.ok(['network', 'create', '--subnet', '10.93.0.0/24', 'bypid']);
    const sleeper = spawn('ip', ['netns', 'exec', c1, 'sleep', '60'], { stdio: 'ignore' });
    cleanup.push(async () => kill(sleeper));
    await new Promise((r) => setTimeout(r, 200));
    const ep = JSON.parse(await d.ok(['connect', 'bypid', '--pid', String(sleeper.pid), '--ifname', 'tsn0', '--json']));
    expect(ep.sandbox).toEqual({ kind: 'pid', pid: sleeper.pid });
    expect(await linkNames(c1)).toContain('tsn0'); // the process's namespace is c1's
    expect(await ping(c1, '10.93.0.1')).toBe(true);
    await d.ok(['disconnect', 'bypid', 'tsn0']);
    expect(await linkNames(c1)).not.toContain('tsn0');
  });

  it('null driver: an endpoint is recorded, nothing is plumbed', async () => {
    const { d, c1 } = await world();
    await d.ok(['network', 'create', '-d', 'null', 'none']);
    const ep = JSON.parse(await d.ok(['connect', 'none', '--netns', c1, '--json']));
    expect(ep.ip).toBeNull();
    expect(await linkNames(c1)).toEqual(['lo']);
    const bad = await d.cli(['network', 'create', '-d', 'null', '--subnet', '10.94.0.0/24', 'none2']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/null driver takes no IPAM options/);
    await d.ok(['disconnect', 'none', ep.id]);
    await d.ok(['network', 'rm', 'none']);
  });
});
