/**
 * `tsnet-switch top` in a real terminal (tmux, with a private server socket): the screen shows the
 * network's ports, the rates change while a ping runs and fall when it stops, q quits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { kill, privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason(['tmux']);
if (skip) console.warn(`skipping top tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== null)('tsnet-switch top', () => {
  it('draws the ports with live rates under tmux, sorted busiest first, and quits on q', async () => {
    const { d, ns } = await daemonWithSandboxes(3, [], (f) => cleanup.push(f));
    expect((await runCli(['network', 'create', '--subnet', '10.97.0.0/24', 'topnet'], d.socket)).code).toBe(0);
    for (const n of ns) expect((await runCli(['connect', 'topnet', '--netns', n], d.socket)).code).toBe(0);
    const ports = (JSON.parse((await runCli(['stats', '--json'], d.socket)).stdout) as { ports: { network: string; port: string }[] }).ports.filter((p) => p.network === 'topnet').map((p) => p.port);
    const busy = ports.find((p) => p.includes(ns[0]))!;
    const idle = ports.find((p) => p.includes(ns[2]))!;
    expect(busy && idle).toBeTruthy();

    const tmux = (...args: string[]) => spawnSync('tmux', ['-L', `tsnt-top-${d.tag}`, ...args], { encoding: 'utf8' });
    cleanup.push(async () => void tmux('kill-server'));
    const screen = () => tmux('capture-pane', '-p', '-t', 'top').stdout;
    const started = tmux('new-session', '-d', '-s', 'top', '-x', '200', '-y', '40', `${process.execPath} ${CLI} top --socket ${d.socket} --interval 0.5`);
    expect(started.status, started.stderr).toBe(0);

    // ns[0] pings ns[1] every 10 ms: its port is the busiest; ns[2]'s stays idle.
    const ping = spawn('ip', ['netns', 'exec', ns[0], 'ping', '-q', '-i', '0.01', '-w', '4', '10.97.0.3'], { stdio: 'ignore' });
    cleanup.push(async () => kill(ping));
    await sleep(2000);
    const during = screen();
    expect(during).toContain('tsnet-switch top');
    for (const p of [busy, idle]) expect(during).toContain(p);
    const line = (text: string, port: string) => text.split('\n').find((l) => l.includes(port)) ?? '';
    const rxPps = (text: string, port: string) => Number(line(text, port).trim().split(/\s+/)[2].replace(/k$/, 'e3'));
    expect(rxPps(during, busy)).toBeGreaterThan(20); // ~100/s sent; the screen says so
    // A new sandbox's own chatter (IPv6 ND, RS) reaches the idle port too, far below the ping's rate.
    expect(rxPps(during, idle)).toBeLessThan(rxPps(during, busy) / 4);
    // Busiest first: the pinging port's row comes before the idle one.
    expect(during.indexOf(line(during, busy))).toBeLessThan(during.indexOf(line(during, idle)));
    // The same sample for scripts: --once --json, busiest first.
    const once = await runCli(['top', '--once', '--json', '--interval', '0.5'], d.socket);
    expect(once.code, once.stderr).toBe(0);
    const rows = (JSON.parse(once.stdout) as { network: string; port: string; rxPps: number }[]).filter((r) => r.network === 'topnet');
    expect(rows.find((r) => r.port === busy)!.rxPps).toBeGreaterThan(20);
    expect(rows[0].port).toBe(busy);

    await new Promise((r) => ping.once('exit', r));
    await sleep(1500);
    const after = screen();
    expect(after).not.toBe(during);
    expect(rxPps(after, busy)).toBeLessThan(rxPps(during, busy) / 4);

    tmux('send-keys', '-t', 'top', 'q');
    await sleep(800);
    expect(tmux('has-session', '-t', 'top').status).not.toBe(0);
  });

  it('refuses a bad interval or sort key, naming it', async () => {
    const r = await runCli(['top', '--interval', 'fast'], '/tmp/none.sock');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--interval "fast": expected seconds from 0.1 to 3600');
    const s = await runCli(['top', '--sort', 'cpu'], '/tmp/none.sock');
    expect(s.stderr).toContain('--sort "cpu": expected one of rx, tx, drops, name');
    const j = await runCli(['top', '--json'], '/tmp/none.sock');
    expect(j.code).toBe(1);
    expect(j.stderr).toContain('--json needs --once (the live view is for a terminal)');
  });
});
