/**
 * CleanupStack, the bench's teardown ledger: undo actions run newest first, each even when an earlier
 * one failed, once however many callers unwind; scopes unwind with their parent; a closed stack
 * refuses new work and runs a late undo at once; spawned processes carry the run marker in their
 * environment and are stopped and reaped (SIGTERM, then SIGKILL after the grace). No root needed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BenchInterrupted, CleanupStack, RUN_MARKER_ENV } from '../../../src/bench/cleanup-stack.js';

describe('CleanupStack', () => {
  it('runs undo actions newest first, all of them despite failures, and only once', async () => {
    const stack = new CleanupStack('t1');
    const ran: string[] = [];
    stack.defer('a', () => void ran.push('a'));
    stack.defer('b', () => {
      ran.push('b');
      throw new Error('b broke');
    });
    stack.defer('c', async () => void ran.push('c'));
    const [e1, e2] = await Promise.all([stack.unwind(), stack.unwind()]);
    expect(ran).toEqual(['c', 'b', 'a']);
    expect(e1).toEqual(['b: b broke']);
    expect(e2).toBe(e1);
    expect(await stack.unwind()).toBe(e1);
  });

  it('a scope unwinds with its parent, before the parent\'s older actions', async () => {
    const root = new CleanupStack('t2');
    const ran: string[] = [];
    root.defer('root-old', () => void ran.push('root-old'));
    const scope = root.scope();
    scope.defer('scoped', () => void ran.push('scoped'));
    await root.unwind();
    expect(ran).toEqual(['scoped', 'root-old']);
    expect(scope.closed).toBe(true);
  });

  it('a closed stack (or a scope of one) refuses new work and runs a late undo at once', async () => {
    const root = new CleanupStack('t3');
    const scope = root.scope();
    await root.unwind();
    let undone = false;
    expect(() => scope.defer('late', () => void (undone = true))).toThrow(BenchInterrupted);
    await new Promise((r) => setImmediate(r));
    expect(undone).toBe(true);
    expect(() => scope.spawn('sleep', ['10'])).toThrow(BenchInterrupted);
    expect(() => root.scope()).toThrow(BenchInterrupted);
    await expect(scope.netns('never-made')).rejects.toThrow(BenchInterrupted);
  });

  it('spawned processes carry TSNET_BENCH_RUN=tag and are stopped and reaped at unwind', async () => {
    const stack = new CleanupStack('t4tag');
    const p = stack.spawn('sleep', ['30']);
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(`/proc/${p.pid}/environ`, 'latin1').split('\0')).toContain(`${RUN_MARKER_ENV}=t4tag`);
    expect(p.running).toBe(true);
    expect(await stack.leftovers()).toEqual([`process ${p.pid} (sleep)`]);
    await stack.unwind();
    expect(p.running).toBe(false);
    expect(p.exitSignal).toBe('SIGTERM');
    expect(() => readFileSync(`/proc/${p.pid}/stat`)).toThrow(); // reaped, not a zombie
    expect(await stack.leftovers()).toEqual([]);
  });

  it('a process that ignores SIGTERM is killed after the grace period', async () => {
    const stack = new CleanupStack('t5');
    // No grandchildren (a shell loop's `sleep` would be orphaned to PID 1 when the shell is killed).
    const p = stack.spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'], { stopGraceMs: 300 });
    await p.waitForOutput(/ready/, 5000);
    const t0 = Date.now();
    await stack.unwind();
    expect(p.exitSignal).toBe('SIGKILL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('waitForOutput and finish report the tool\'s own words when it fails', async () => {
    const stack = new CleanupStack('t6');
    try {
      const p = stack.spawn('sh', ['-c', 'echo "no such host" >&2; exit 2']);
      await expect(p.waitForOutput(/listening/, 5000)).rejects.toThrow(/sh exited \(2\) before printing \/listening\/: no such host/);
      await expect(p.finish(5000)).rejects.toThrow('sh failed (2): no such host');
      const slow = stack.spawn('sleep', ['5']);
      await expect(slow.finish(200)).rejects.toThrow('sleep: still running after 200 ms; killed');
      expect(slow.running).toBe(false);
    } finally {
      await stack.unwind();
    }
  });
});
