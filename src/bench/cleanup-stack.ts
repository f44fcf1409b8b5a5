/**
 * CleanupStack: everything a bench run makes — network namespaces, child processes, switch ports,
 * daemons, temp dirs — is registered here the moment it exists, with the action that undoes it.
 * unwind() runs those actions newest first, each one even when an earlier one failed, and only once
 * however many callers ask (the normal `finally`, a SIGINT handler, a SIGTERM handler at the same time).
 *
 * Scopes nest: the run owns a stack, each scenario a scope() of it, each measurement a scope of that,
 * so a scenario's topology goes when the scenario ends, and a Ctrl-C unwinds whatever is alive from
 * the root. Once a stack is unwinding it is closed: creating something through it throws
 * BenchInterrupted, and an undo action registered late runs at once, so a half-finished step can never
 * leave anything behind.
 *
 * Every process the bench spawns carries TSNET_BENCH_RUN=<run tag> in its environment (inherited
 * through `ip netns exec` and by daemons), so a leftover can be found in /proc/PID/environ — the tests
 * assert there is none. Children are spawned directly (no daemonizing) so that this process reaps them:
 * PID 1 on these machines does not reap orphans.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { run } from './host-commands.js';

export const RUN_MARKER_ENV = 'TSNET_BENCH_RUN';

/** The run was interrupted (Ctrl-C, SIGTERM) or its stack is already unwinding. */
export class BenchInterrupted extends Error {
  override name = 'BenchInterrupted';
  constructor(message = 'bench interrupted: tearing down') {
    super(message);
  }
}

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec NS`, which execs: the pid is the tool's). */
  netns?: string;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** Grace between SIGTERM and SIGKILL at teardown (default 2 s). */
  stopGraceMs?: number;
  /** Name in messages (default: the command). */
  label?: string;
}

/** A child process the bench started; teardown stops it and waits for its exit (so it is reaped). */
export class TrackedProcess {
  output = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private readonly waiters: { re: RegExp; resolve: () => void }[] = [];

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
    private readonly stopGraceMs: number,
  ) {
    const onData = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 4 << 20) this.output = this.output.slice(-(1 << 20)); // bounded
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i].re.test(this.output)) this.waiters.splice(i, 1)[0].resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
      child.once('error', (err) => {
        this.output += `\n${err.message}`;
        this.exitCode = this.exitCode ?? -1;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Resolve once the output matches `re`; reject if the process exits first or after `timeoutMs`. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<void> {
    if (re.test(this.output)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${this.label}: no ${re} within ${timeoutMs} ms; output: ${this.tail()}`)), timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (err) reject(err);
        else resolve();
      };
      const waiter = { re, resolve: () => done() };
      this.waiters.push(waiter);
      void this.exited.then(() => {
        if (this.waiters.includes(waiter)) done(new Error(`${this.label} exited (${this.exitCode ?? this.exitSignal}) before printing ${re}: ${this.tail()}`));
      });
    });
  }

  /** Wait for a normal exit; throws (with the output's tail) on a non-zero exit or after `timeoutMs`. */
  async finish(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const r = await Promise.race([this.exited.then(() => 'exited' as const), timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.stop();
      throw new Error(`${this.label}: still running after ${timeoutMs} ms; killed. Output: ${this.tail()}`);
    }
    if (this.exitCode !== 0) throw new Error(`${this.label} failed (${this.exitCode ?? this.exitSignal}): ${this.tail()}`);
    return this.output;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone (reaped). */
  async stop(): Promise<void> {
    if (!this.running || this.child.pid === undefined) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.stopGraceMs)));
    const killed = await Promise.race([this.exited.then(() => false), graceOver]);
    clearTimeout(timer);
    if (killed && this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  tail(chars = 400): string {
    const t = this.output.trim();
    return t.length > chars ? `…${t.slice(-chars)}` : t || '(no output)';
  }
}

interface UndoAction {
  label: string;
  fn: () => Promise<void> | void;
}

export class CleanupStack {
  private readonly actions: UndoAction[] = [];
  private unwinding: Promise<string[]> | null = null;
  /** Everything ever created through this stack or its scopes, for the leftover check. */
  private readonly registry: { namespaces: Set<string>; processes: Set<TrackedProcess> };

  constructor(
    /** Marks every spawned process (TSNET_BENCH_RUN=tag). */
    readonly runTag: string,
    private readonly parent: CleanupStack | null = null,
  ) {
    this.registry = parent ? parent.registry : { namespaces: new Set(), processes: new Set() };
  }

  /** True once unwinding started here or in an ancestor. */
  get closed(): boolean {
    return this.unwinding !== null || (this.parent?.closed ?? false);
  }

  /** Register an undo action. On a closed stack it runs at once and BenchInterrupted is thrown. */
  defer(label: string, fn: () => Promise<void> | void): void {
    if (this.closed) {
      void Promise.resolve()
        .then(fn)
        .catch(() => undefined);
      throw new BenchInterrupted();
    }
    this.actions.push({ label, fn });
  }

  /** A nested stack, unwound with this one if not unwound before. */
  scope(): CleanupStack {
    if (this.closed) throw new BenchInterrupted();
    const child = new CleanupStack(this.runTag, this);
    this.actions.push({ label: 'scope', fn: async () => void (await child.unwind()) });
    return child;
  }

  /** `ip netns add NAME`, loopback up; deleted at unwind. */
  async netns(name: string): Promise<string> {
    if (this.closed) throw new BenchInterrupted();
    await run('ip', ['netns', 'add', name]);
    this.registry.namespaces.add(name);
    this.defer(`netns ${name}`, async () => {
      await run('ip', ['netns', 'del', name]);
      this.registry.namespaces.delete(name);
    });
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Start a long-running process (never detached); stopped and reaped at unwind. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): TrackedProcess {
    if (this.closed) throw new BenchInterrupted();
    const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env, [RUN_MARKER_ENV]: this.runTag },
    });
    const label = `${opts.label ?? cmd}${opts.netns ? ` (in ${opts.netns})` : ''}`;
    const p = new TrackedProcess(label, child, opts.stopGraceMs ?? 2000);
    this.registry.processes.add(p);
    void p.exited.then(() => this.registry.processes.delete(p));
    this.defer(`process ${label}`, () => p.stop());
    return p;
  }

  /**
   * Run every undo action, newest first; each runs even if an earlier one failed. Returns the
   * failures as sentences. Idempotent: later calls get the same promise.
   */
  unwind(): Promise<string[]> {
    if (!this.unwinding) {
      this.unwinding = (async () => {
        const errors: string[] = [];
        while (this.actions.length) {
          const a = this.actions.pop()!;
          try {
            await a.fn();
          } catch (err) {
            errors.push(`${a.label}: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
        return errors;
      })();
    }
    return this.unwinding;
  }

  /**
   * What the run made and is still there after unwinding: namespaces still listed by `ip netns`,
   * processes still running. Empty when teardown was clean.
   */
  async leftovers(): Promise<string[]> {
    const out: string[] = [];
    const listed = await run('ip', ['netns', 'list']).catch(() => '');
    const names = new Set(listed.split('\n').map((l) => l.split(' ')[0]).filter(Boolean));
    for (const ns of this.registry.namespaces) if (names.has(ns)) out.push(`network namespace ${ns}`);
    for (const p of this.registry.processes) if (p.running) out.push(`process ${p.pid} (${p.label})`);
    return out;
  }
}
