/**
 * daemon --busy-poll: after a burst the readiness check keeps polling the ports (readiness.c). With it
 * on, a bridge network still forwards every frame (ping, TCP), the replies are taken from the spin
 * (stats' engine.busyPoll.hits), and with it off nothing spins. Bad values are refused by name before
 * the daemon takes anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes } from '../helpers/daemon.js';
import { kill, nsExec, nsSpawn, privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping busy-poll integration tests: ${skip}`);
const CLI = join(import.meta.dirname, '../../bin/tsnet-switch.js');

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

interface BusyPoll {
  budgetUs: number;
  spins: number;
  hits: number;
}

async function pingAll(ns: string, ip: string, count: number): Promise<number> {
  const out = await nsExec(ns, 'ping', ['-c', String(count), '-i', '0.01', '-W', '1', ip], { timeoutMs: 30_000 });
  return Number(/(\d+) received/.exec(out)?.[1] ?? -1);
}

describe.skipIf(skip !== null)('daemon --busy-poll', () => {
  it('forwards every frame with the spin on, takes replies from it, and spins not at all when off', async () => {
    const { d, ns } = await daemonWithSandboxes(2, ['--busy-poll', '50'], (f) => cleanup.push(f));
    await d.ok(['network', 'create', '-d', 'bridge', '--subnet', '10.62.0.0/24', '-o', 'bridge.name=tsnbp0', 'bp']);
    await d.ok(['connect', 'bp', '--netns', ns[0], '--ip', '10.62.0.2']);
    await d.ok(['connect', 'bp', '--netns', ns[1], '--ip', '10.62.0.3']);

    expect(await pingAll(ns[0], '10.62.0.3', 100)).toBe(100);
    const server = nsSpawn(ns[1], 'iperf3', ['-s', '-1', '-B', '10.62.0.3']);
    try {
      await new Promise((r) => setTimeout(r, 400));
      const j = JSON.parse(await nsExec(ns[0], 'iperf3', ['-c', '10.62.0.3', '-t', '1', '-J'], { timeoutMs: 20_000 }));
      expect(j.end.sum_received.bytes).toBeGreaterThan(10e6);
    } finally {
      kill(server);
    }
    const on = JSON.parse(await d.ok(['stats', '--json'])).engine.busyPoll as BusyPoll;
    expect(on.budgetUs).toBe(50);
    // Each echo reply comes back within the 50 µs budget of the request's burst far more often
    // than not; hits count the calls a spin made.
    expect(on.hits).toBeGreaterThan(50);
    expect(on.spins).toBeGreaterThan(0);

    // The same daemon started again without the flag: no spin at all.
    await d.kill();
    await d.start([]);
    expect(await pingAll(ns[0], '10.62.0.3', 20)).toBe(20);
    const off = JSON.parse(await d.ok(['stats', '--json'])).engine.busyPoll as BusyPoll;
    expect(off).toEqual({ budgetUs: 0, spins: 0, hits: 0 });
  });

  it('refuses a bad --busy-poll or TSNET_SWITCH_BUSY_POLL by name, before it takes a state dir', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-bp-'));
    try {
      for (const [args, env] of [
        [['--busy-poll', '2000'], {}],
        [['--busy-poll=-5'], {}],
        [['--busy-poll', '1.5'], {}],
        [[], { TSNET_SWITCH_BUSY_POLL: 'fast' }],
      ] as [string[], Record<string, string>][]) {
        const r = spawnSync(process.execPath, [CLI, 'daemon', '--state-dir', join(dir, 'state'), '--socket', join(dir, 'api.sock'), '--docker-plugin', 'off', ...args], {
          encoding: 'utf8',
          env: { ...process.env, ...env },
          timeout: 20_000,
        });
        expect(r.status, r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(/--busy-poll "?[-\w.]+"?: expected whole microseconds from 0 \(off\) to 1000/);
        expect(existsSync(join(dir, 'state'))).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
