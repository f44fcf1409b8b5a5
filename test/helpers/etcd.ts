/**
 * A real etcd (Debian's etcd-server) for tests, run inside a namespace the test made, on an address of
 * that namespace, with a data dir of its own; stopped (SIGKILL) at the end. `stop()` / `start()` again
 * keep the data dir, as an etcd that went away and came back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nsExec } from './netns.js';

export class TestEtcd {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsnet-etcd-'));
  child: ChildProcess | null = null;
  log = '';

  constructor(
    readonly ns: string,
    readonly ip: string,
    readonly clientPort = 2379,
    readonly peerPort = 2380,
  ) {}

  get url(): string {
    return `http://${this.ip}:${this.clientPort}`;
  }

  /** What a daemon's --cluster-store takes. */
  get storeUrl(): string {
    return `etcd://${this.ip}:${this.clientPort}`;
  }

  async start(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      'ip',
      ['netns', 'exec', this.ns, 'etcd', '--name', 'test', '--data-dir', join(this.dir, 'data'), '--listen-client-urls', this.url, '--advertise-client-urls', this.url, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`, '--logger', 'zap', '--log-outputs', 'stderr'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode}): ${this.log.slice(-2000)}`);
      const ok = await this.ctl(['endpoint', 'health']).then(
        () => true,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`etcd did not become healthy: ${this.log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** etcdctl against this etcd, from inside its namespace. */
  ctl(args: string[]): Promise<string> {
    return nsExec(this.ns, 'etcdctl', ['--endpoints', this.url, '--dial-timeout', '2s', '--command-timeout', '3s', ...args], { timeoutMs: 10_000 });
  }

  /** The store's current revision. */
  async revision(): Promise<number> {
    const j = JSON.parse(await this.ctl(['endpoint', 'status', '-w', 'json']));
    return Number(j[0].Status.header.revision);
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGKILL');
    });
  }

  async teardown(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
