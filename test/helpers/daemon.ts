/**
 * A tsnet-switch daemon for integration tests, run from the built CLI (bin/ -> dist/, what users run)
 * inside a test namespace that plays the host, so a gateway port's address and routes never touch the
 * real host. State and socket live in a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addNetns, delNetns, uniqueTag } from './netns.js';

export const CLI = resolve(import.meta.dirname, '../../bin/tsnet-switch.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], socket: string, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolveP) => {
    const child = spawn(process.execPath, [CLI, ...args, '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolveP({ code: code ?? -1, stdout, stderr });
    });
  });
}

export class TestDaemon {
  readonly tag = uniqueTag();
  readonly hostNs = `tsnt-${this.tag}-h`;
  readonly dir = mkdtempSync(join(tmpdir(), 'tsnet-test-'));
  readonly socket = join(this.dir, 'api.sock');
  readonly stateDir = join(this.dir, 'state');
  child: ChildProcess | null = null;
  log = '';

  /** Tests never serve the Docker plugin on the host's /run/docker/plugins (test/helpers/dockerd.ts runs one privately). */
  constructor(private readonly extraArgs: string[] = []) {}

  async setup(): Promise<void> {
    await addNetns(this.hostNs);
    await this.start();
  }

  /** Starts the daemon (again); `extraArgs` replace the constructor's for this start (e.g. another --state-dir). */
  async start(extraArgs: string[] = this.extraArgs): Promise<void> {
    const from = this.log.length;
    // Also for a start with other arguments: `ip netns exec` shares the host's /run, and a killed
    // daemon would leave its plugin socket there.
    const plugin = extraArgs.includes('--docker-plugin') ? [] : ['--docker-plugin', 'off'];
    const child = spawn('ip', ['netns', 'exec', this.hostNs, process.execPath, CLI, 'daemon', '--state-dir', this.stateDir, '--socket', this.socket, ...extraArgs, ...plugin], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (!this.log.slice(from).includes('listening on')) {
      if (child.exitCode !== null) throw new Error(`daemon exited (${child.exitCode}): ${this.log}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  cli(args: string[]): Promise<CliResult> {
    return runCli(args, this.socket);
  }

  /** Run a CLI command that must succeed; returns stdout. */
  async ok(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`tsnet-switch ${args.join(' ')} exited ${r.code}: ${r.stderr}\ndaemon log:\n${this.log}`);
    return r.stdout;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill(signal);
    });
  }

  async teardown(): Promise<void> {
    await this.kill('SIGKILL');
    await delNetns(this.hostNs);
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A test daemon plus `n` empty sandboxes (network namespaces named tsnt-TAG-c1..cN). Register the
 * returned teardown before anything can fail: it kills the daemon and deletes every namespace.
 */
export async function daemonWithSandboxes(
  n: number,
  extraArgs: string[] = [],
  onTeardown: (f: () => Promise<void>) => void,
): Promise<{ d: TestDaemon; ns: string[] }> {
  const d = new TestDaemon(extraArgs);
  const tag = uniqueTag();
  const ns = Array.from({ length: n }, (_, i) => `tsnt-${tag}-c${i + 1}`);
  onTeardown(async () => {
    await d.teardown();
    for (const x of ns) await delNetns(x);
  });
  await d.setup();
  for (const x of ns) await addNetns(x);
  return { d, ns };
}
