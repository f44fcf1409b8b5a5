/**
 * Reconcile at start and the host-subnet check, with real devices: a daemon killed and its state
 * wiped leaves its gateway TAP (with the gateway address) and its containers' TAPs behind; the next
 * start finds them by their marker (interface alias) and removes them. A device of the host holding
 * or routing a subnet makes `network create` refuse it, naming the device, unless --force. A device
 * of another state dir is kept while that state lists it, and removed once that state is gone. The
 * NAT table (`ip tsnet-switch`) is found the same way, by the owner in its comment.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping reconcile tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

type Link = { ifname: string; ifalias?: string };
const links = async (ns: string) => JSON.parse(await sh('ip', ['-n', ns, '-j', 'link', 'show'])) as Link[];
const addrs = async (ns: string) => (JSON.parse(await sh('ip', ['-n', ns, '-j', '-4', 'addr', 'show'])) as { ifname: string; addr_info: { local: string }[] }[]).flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}`));

describe.skipIf(skip !== null)('reconcile at start', () => {
  it('a killed daemon whose state was wiped: its gateway and endpoint TAPs are found by marker and removed', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const gw = (await d.ok(['network', 'create', '--subnet', '10.94.0.0/24', '--json', 'front'])) && JSON.parse(await d.ok(['network', 'inspect', 'front', '--json']))[0].GatewayPort.Interface as string;
    const ep = JSON.parse(await d.ok(['--json', 'connect', 'front', '--netns', ns[0]])) as { id: string };
    // Both carry the marker: owner = the state dir, the network, the role.
    const gwLink = (await links(d.hostNs)).find((l) => l.ifname === gw)!;
    expect(gwLink.ifalias).toMatch(new RegExp(`^tsnet-switch/1 owner=${encodeURIComponent(d.stateDir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} net=\\S+ role=gateway$`));
    expect((await links(ns[0])).find((l) => l.ifname === 'eth0')!.ifalias).toMatch(new RegExp(`role=endpoint ep=${ep.id}$`));
    // A device of someone else with a name like ours, unmarked: never touched.
    await sh('ip', ['-n', d.hostNs, 'link', 'add', 'tsn-notours', 'type', 'veth', 'peer', 'name', 'tsn-notours2']);

    await d.kill('SIGKILL');
    rmSync(join(d.stateDir, 'state.json'));
    expect(await addrs(d.hostNs)).toContain(`${gw} 10.94.0.1`); // the orphan holds the gateway address
    await d.start();
    expect(d.log).toMatch(new RegExp(`reconcile: interface ${gw} in the host namespace: removed \\(made by this daemon as the gateway of network`));
    expect(d.log).toMatch(/reconcile: interface eth0 in \/var\/run\/netns\/\S+: removed \(made by this daemon as endpoint/);
    const after = (await links(d.hostNs)).map((l) => l.ifname);
    expect(after).not.toContain(gw);
    expect(after).toContain('tsn-notours');
    expect((await links(ns[0])).map((l) => l.ifname)).toEqual(['lo']);
    // The subnet is free again: a new network takes it, and its containers reach their gateway.
    await d.ok(['network', 'create', '--subnet', '10.94.0.0/24', 'front2']);
    await d.ok(['connect', 'front2', '--netns', ns[0]]);
    await sh('ip', ['netns', 'exec', ns[0], 'ping', '-c', '1', '-W', '2', '10.94.0.1']);
  }, 90_000);

  it('network create refuses a subnet a host device holds or routes, naming it, unless --force', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    await sh('ip', ['-n', d.hostNs, 'link', 'add', 'vpn0', 'type', 'veth', 'peer', 'name', 'vpn0p']);
    await sh('ip', ['-n', d.hostNs, 'addr', 'add', '10.95.0.1/24', 'dev', 'vpn0']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'vpn0p', 'up']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'vpn0', 'up']);
    await sh('ip', ['-n', d.hostNs, 'route', 'add', '10.96.4.0/22', 'dev', 'vpn0']);
    let r = await d.cli(['network', 'create', '--subnet', '10.95.0.0/24', 'a']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('subnet 10.95.0.0/24 is in use on this host: vpn0 holds 10.95.0.1/24');
    expect(r.stderr).toContain('--force');
    r = await d.cli(['network', 'create', '--subnet', '10.96.5.0/24', 'b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('vpn0 routes 10.96.4.0/22');
    // Nothing half-made: no network, no device.
    expect(JSON.parse(await d.ok(['network', 'ls', '--json']))).toEqual([]);
    expect((await links(d.hostNs)).map((l) => l.ifname).sort()).toEqual(['lo', 'vpn0', 'vpn0p']);
    await d.ok(['network', 'create', '--subnet', '10.97.0.0/24', 'c']); // a free one is fine
    await d.ok(['network', 'create', '--subnet', '10.96.5.0/24', '--force', 'b']);
    expect((JSON.parse(await d.ok(['network', 'ls', '--json'])) as { name: string }[]).map((n) => n.name).sort()).toEqual(['b', 'c']);
  }, 60_000);

  it('another state dir\'s device is kept while its state lists it, refused as a subnet, and removed once that state is gone', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    await d.ok(['network', 'create', '--subnet', '10.98.0.0/24', 'old']);
    const gw = JSON.parse(await d.ok(['network', 'inspect', 'old']))[0].GatewayPort.Interface as string;
    await d.kill('SIGTERM');
    const other = join(d.dir, 'other-state');
    await d.start(['--state-dir', other]);
    expect(d.log).toContain(`reconcile: interface ${gw} in the host namespace: kept (belongs to the stopped daemon of state dir ${d.stateDir}`);
    expect((await links(d.hostNs)).map((l) => l.ifname)).toContain(gw);
    const r = await d.cli(['network', 'create', '--subnet', '10.98.0.0/24', 'new']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${gw} holds 10.98.0.1/24 (a tsnet-switch device of state dir ${d.stateDir})`);
    await d.kill('SIGTERM');
    rmSync(d.stateDir, { recursive: true, force: true });
    await d.start(['--state-dir', other]);
    expect(d.log).toContain(`reconcile: interface ${gw} in the host namespace: removed (made by a daemon whose state (${d.stateDir}) is gone)`);
    expect((await links(d.hostNs)).map((l) => l.ifname)).not.toContain(gw);
    await d.ok(['network', 'create', '--subnet', '10.98.0.0/24', 'new']);
  }, 90_000);

  it('the NAT table of a killed daemon is removed by its owner comment when no state wants it, kept while one does, never when unmarked', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    const table = () => sh('ip', ['netns', 'exec', d.hostNs, 'nft', 'list', 'table', 'ip', 'tsnet-switch']).catch(() => null);
    await d.ok(['network', 'create', '--subnet', '10.89.0.0/24', '-o', 'masquerade=true', 'out']);
    const made = await table();
    expect(made).toContain(`comment "tsnet-switch/1 owner=${encodeURIComponent(d.stateDir)}"`);
    expect(made).toContain('ip saddr 10.89.0.0/24');

    // Wiped state, same state dir: the restarted daemon asks for no NAT, so its old table goes.
    await d.kill('SIGKILL');
    rmSync(join(d.stateDir, 'state.json'));
    await d.start();
    expect(d.log).toContain('reconcile: nftables table ip tsnet-switch in the host namespace: removed (made by this daemon, whose state asks for no masquerade or published ports now)');
    expect(await table()).toBeNull();

    // Another state dir: kept while the killed daemon's state still masquerades, removed once that state is gone.
    await d.ok(['network', 'create', '--subnet', '10.89.0.0/24', '-o', 'masquerade=true', 'out']);
    await d.kill('SIGKILL');
    const other = join(d.dir, 'other-state');
    await d.start(['--state-dir', other]);
    expect(d.log).toContain(`reconcile: nftables table ip tsnet-switch in the host namespace: kept (belongs to the stopped daemon of state dir ${d.stateDir}`);
    expect(await table()).toContain('ip saddr 10.89.0.0/24');
    await d.kill('SIGTERM');
    rmSync(d.stateDir, { recursive: true, force: true });
    await d.start(['--state-dir', other]);
    expect(d.log).toContain(`reconcile: nftables table ip tsnet-switch in the host namespace: removed (made by a daemon whose state (${d.stateDir}) is gone)`);
    expect(await table()).toBeNull();

    // A table of that name without our marker is someone else's: reported, left alone.
    await sh('ip', ['netns', 'exec', d.hostNs, 'nft', 'add', 'table', 'ip', 'tsnet-switch']);
    await d.kill('SIGTERM');
    await d.start(['--state-dir', other]);
    expect(d.log).toContain('reconcile: nftables table ip tsnet-switch in the host namespace: kept (it carries no tsnet-switch owner marker');
    expect(await table()).not.toBeNull();
  }, 90_000);

  it('never replaces the NAT table a running daemon of another state dir keeps in the same namespace, and doctor says why', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    const table = () => sh('ip', ['netns', 'exec', d.hostNs, 'nft', 'list', 'table', 'ip', 'tsnet-switch']);
    await d.ok(['network', 'create', '--subnet', '10.87.0.0/24', '-o', 'masquerade=true', 'first']);
    // A second daemon, its own state dir and socket, in the same host namespace.
    const socket2 = join(d.dir, 'second.sock');
    const second = spawn('ip', ['netns', 'exec', d.hostNs, process.execPath, CLI, 'daemon', '--state-dir', join(d.dir, 'second-state'), '--socket', socket2, '--docker-plugin', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    second.stdout!.on('data', (b) => (log += b));
    second.stderr!.on('data', (b) => (log += b));
    cleanup.push(async () => {
      if (second.exitCode === null) await new Promise<void>((r) => (second.once('exit', () => r()), second.kill('SIGKILL')));
    });
    for (const end = Date.now() + 15_000; !log.includes('listening on'); ) {
      if (Date.now() > end || second.exitCode !== null) throw new Error(`second daemon did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const made = await runCli(['network', 'create', '--subnet', '10.86.0.0/24', '-o', 'masquerade=true', 'other'], socket2);
    expect(made.code, made.stderr).toBe(0);
    expect(log).toContain(`nat: the nftables table ip tsnet-switch here belongs to the running daemon of state dir ${d.stateDir}: not replacing it`);
    const t = await table();
    expect(t).toContain('ip saddr 10.87.0.0/24'); // the first daemon's rules are intact
    expect(t).not.toContain('10.86.0.0/24');
    const doc = JSON.parse((await runCli(['doctor', '--json'], socket2)).stdout) as { findings: { check: string; problem: string }[] };
    expect(doc.findings.find((f) => f.check === 'nat')?.problem).toContain(`belongs to the running daemon of state dir ${d.stateDir}`);
    // The first daemon itself reports nothing of the kind.
    const own = JSON.parse((await d.cli(['doctor', '--json'])).stdout) as { findings: { check: string }[] };
    expect(own.findings.filter((f) => f.check === 'nat')).toEqual([]);
  }, 90_000);
});
