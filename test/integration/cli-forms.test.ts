/**
 * The CLI as users type it, against a live daemon: --socket and --json before the subcommand,
 * --json on inspect/rm/disconnect, --format with Go-template-like paths on network inspect and ls.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, daemonWithSandboxes } from '../helpers/daemon.js';
import { privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping CLI form tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

/** Runs the CLI with exactly these arguments (runCli appends --socket; these forms put it elsewhere). */
const raw = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TSNET_SWITCH_SOCKET: '' } });

describe.skipIf(skip !== null)('CLI forms against a daemon', () => {
  it('global options before the subcommand, --json everywhere, --format', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const S = d.socket;
    let r = raw(['--socket', S, 'network', 'create', '--subnet', '10.93.0.0/24', 'front']);
    expect(r.status, r.stderr).toBe(0);
    r = raw(['--socket', S, '--json', 'connect', 'front', '--netns', ns[0]]);
    expect(r.status, r.stderr).toBe(0);
    const ep = JSON.parse(r.stdout) as { id: string; ip: string };
    expect(ep.ip).toBe('10.93.0.2');

    r = raw(['--socket', S, 'network', 'ls']);
    expect(r.stdout).toMatch(/^NETWORK ID\s+NAME\s+DRIVER/);
    expect(r.stdout).toContain('front');
    r = raw(['--json', '--socket', S, 'network', 'ls']);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name)).toEqual(['front']);

    // inspect: JSON already; --json accepted as a no-op, before or after.
    const a = raw(['network', 'inspect', 'front', '--json', '--socket', S]);
    const b = raw(['--json', '--socket', S, 'network', 'inspect', 'front']);
    expect(a.status, a.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect((JSON.parse(a.stdout) as { Name: string }[])[0].Name).toBe('front');

    // --format, as Docker users' scripts write it.
    expect(raw(['--socket', S, 'network', 'inspect', 'front', '-f', '{{.IPAM.Config}}']).stdout).toMatch(/^\[map\[.*Gateway:10\.93\.0\.1.*Subnet:10\.93\.0\.0\/24.*\]\]\n$/);
    expect(raw(['--socket', S, 'network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', 'front']).stdout).toBe('10.93.0.0/24\n');
    const whole = raw(['--socket', S, 'network', 'inspect', 'front', '-f', '{{json .}}']);
    expect(JSON.parse(whole.stdout)).toEqual((JSON.parse(a.stdout) as unknown[])[0]);
    expect(raw(['--socket', S, 'network', 'inspect', 'front', '-f', '{{range .Endpoints}}{{.IPv4Address}}{{end}}']).stdout).toBe('10.93.0.2/24\n');
    expect(raw(['--socket', S, 'network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Subnet}}']).stdout).toBe('front bridge 10.93.0.0/24\n');
    const badField = raw(['--socket', S, 'network', 'inspect', 'front', '-f', '{{.Nope}}']);
    expect(badField.status).toBe(1);
    expect(badField.stderr).toContain('--format "{{.Nope}}": no field Nope in .');

    r = raw(['--socket', S, '--json', 'disconnect', 'front', ep.id]);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: ep.id });
    r = raw(['--socket', S, 'network', 'rm', 'front', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'front', removed: true });
    expect(raw(['--socket', S, '--json', 'network', 'ls']).stdout.trim()).toBe('[]');
  }, 180_000); // about twenty CLI processes, each a node start: slow on a loaded machine
});
