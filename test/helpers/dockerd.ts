/**
 * A real dockerd (Debian's docker.io, 20.10) and a tsnet-switch daemon serving the Docker plugin, for
 * integration tests, changing nothing of the host:
 *  - both run in a network namespace made for the test (it plays "the host": gateway ports, nft
 *    tables, forwarding all live there), and in a private mount namespace whose /run is a tmpfs, so
 *    the plugin socket dockerd looks for in the fixed /run/docker/plugins never appears on the host;
 *    a `sleep` holds the two namespaces, both daemons join them with nsenter (not `ip netns exec`,
 *    which remounts /sys and hides the cgroup mounts dockerd needs);
 *  - dockerd has its own --data-root, --exec-root, --pidfile and -H socket in a temp dir,
 *    --iptables=false --ip6tables=false --bridge=none (or with its bridge, for the bench);
 *  - the image is `docker import` of a busybox-static tree: no registry.
 * cleanup() removes the containers, stops dockerd (and so its containerd) and the daemon, kills the
 * holder and deletes the namespace; it checks no dockerd/containerd of ours is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runCli, type CliResult } from './daemon.js';
import { addNetns, delNetns, sh, uniqueTag } from './netns.js';

export const TEST_IMAGE = 'tsnet-busybox:test';
const BUSYBOX_APPLETS = ['sh', 'ping', 'ip', 'nc', 'sleep', 'cat', 'httpd', 'wget', 'echo', 'true', 'ls', 'hostname'];

function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class DockerHost {
  readonly tag = uniqueTag();
  readonly hostNs = `tsnd-${this.tag}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'tsnet-docker-'));
  readonly dockerSock = join(this.dir, 'docker.sock');
  readonly apiSock = join(this.dir, 'api.sock');
  readonly stateDir = join(this.dir, 'state');
  private holder: ChildProcess | null = null;
  dockerd: ChildProcess | null = null;
  tsnet: ChildProcess | null = null;
  dockerLog = '';
  tsnetLog = '';
  /** containerd started by our dockerd, for the leak check. */
  private containerdPids = new Set<number>();

  constructor(private readonly opts: { bridge?: boolean; liveRestore?: boolean } = {}) {}

  async setup(): Promise<void> {
    await addNetns(this.hostNs);
    this.holder = spawn('nsenter', [`--net=/run/netns/${this.hostNs}`, 'unshare', '--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
    // The holder is in its namespaces once unshare has exec'd sleep.
    // Never go on before it is: the tmpfs below would be mounted over the host's own /run.
    let inside = false;
    for (let i = 0; i < 500 && !inside; i++) {
      const comm = existsSync(`/proc/${this.holder.pid}/comm`) ? readFileSync(`/proc/${this.holder.pid}/comm`, 'utf8').trim() : '';
      inside = comm === 'sleep';
      if (!inside) await new Promise((r) => setTimeout(r, 20));
    }
    if (!inside) throw new Error(`the namespace holder (pid ${this.holder.pid}) did not reach its private mount namespace within 10 s`);
    await this.inNs('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tsnet-test-run', '/run']);
    await this.inNs('mkdir', ['-p', '/run/docker/plugins']);
    await sh('ip', ['-n', this.hostNs, 'link', 'set', 'lo', 'up']);
  }

  /** nsenter arguments that put a command in the test's network and mount namespaces. */
  nsenterArgs(): string[] {
    return ['-t', String(this.holder!.pid), '-m', '-n'];
  }

  inNs(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
    return sh('nsenter', [...this.nsenterArgs(), cmd, ...args], { timeoutMs });
  }

  async startDockerd(): Promise<void> {
    const args = [
      ...this.nsenterArgs(),
      'dockerd',
      '--data-root', join(this.dir, 'data'),
      '--exec-root', join(this.dir, 'exec'),
      '--pidfile', join(this.dir, 'docker.pid'),
      '-H', `unix://${this.dockerSock}`,
      '--iptables=false',
      '--ip6tables=false',
      ...(this.opts.bridge ? [] : ['--bridge=none']),
      ...(this.opts.liveRestore ? ['--live-restore'] : []),
    ];
    const from = this.dockerLog.length;
    const d = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    d.stdout!.on('data', (b) => (this.dockerLog += b));
    d.stderr!.on('data', (b) => (this.dockerLog += b));
    this.dockerd = d;
    const deadline = Date.now() + 60_000;
    while (!this.dockerLog.slice(from).includes('API listen on')) {
      if (d.exitCode !== null) throw new Error(`dockerd exited (${d.exitCode}):\n${this.dockerLog.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`dockerd did not start:\n${this.dockerLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // nsenter without --fork execs: the child is dockerd itself.
    const cd = await sh('pgrep', ['-P', String(d.pid), '-x', 'containerd']).catch(() => '');
    for (const p of cd.split('\n').filter(Boolean)) this.containerdPids.add(Number(p));
  }

  async stopDockerd(): Promise<void> {
    const d = this.dockerd;
    if (!d) return;
    d.kill('SIGTERM');
    if (!(await waitExit(d, 30_000))) {
      d.kill('SIGKILL');
      await waitExit(d, 5000);
    }
    for (const p of this.containerdPids) {
      for (let i = 0; i < 50 && pidAlive(p); i++) await new Promise((r) => setTimeout(r, 100));
      if (pidAlive(p)) process.kill(p, 'SIGKILL');
    }
    this.dockerd = null;
  }

  async startTsnet(extra: string[] = []): Promise<void> {
    const from = this.tsnetLog.length;
    const t = spawn('nsenter', [...this.nsenterArgs(), process.execPath, CLI, 'daemon', '--state-dir', this.stateDir, '--socket', this.apiSock, '--docker-api', `unix://${this.dockerSock}`, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.stdout!.on('data', (b) => (this.tsnetLog += b));
    t.stderr!.on('data', (b) => (this.tsnetLog += b));
    this.tsnet = t;
    const deadline = Date.now() + 15_000;
    while (!this.tsnetLog.slice(from).includes('listening on')) {
      if (t.exitCode !== null) throw new Error(`tsnet-switch daemon exited (${t.exitCode}): ${this.tsnetLog}`);
      if (Date.now() > deadline) throw new Error(`tsnet-switch daemon did not start: ${this.tsnetLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the tsnet daemon: SIGTERM (clean) or SIGKILL (a crash). */
  async stopTsnet(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const t = this.tsnet;
    if (!t) return;
    t.kill(signal);
    if (!(await waitExit(t, 10_000))) {
      t.kill('SIGKILL');
      await waitExit(t, 5000);
    }
    this.tsnet = null;
  }

  docker(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return new Promise((resolve) => {
      const c = spawn('docker', ['-H', `unix://${this.dockerSock}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
      c.on('close', (code) => {
        clearTimeout(t);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** A docker command that must succeed; returns its stdout, trimmed. */
  async dockerOk(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.docker(args, timeoutMs);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}\ntsnet log:\n${this.tsnetLog.slice(-3000)}`);
    return r.stdout.trim();
  }

  tsnetCli(args: string[]): Promise<CliResult> {
    return runCli(args, this.apiSock);
  }

  async tsnetOk(args: string[]): Promise<string> {
    const r = await this.tsnetCli(args);
    if (r.code !== 0) throw new Error(`tsnet-switch ${args.join(' ')} exited ${r.code}: ${r.stderr}\ndaemon log:\n${this.tsnetLog.slice(-3000)}`);
    return r.stdout;
  }

  /** `docker import` of a busybox-static tree, with a page for httpd in /www. */
  async importImage(): Promise<void> {
    const root = join(this.dir, 'image');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'www'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(root, 'bin', a));
    writeFileSync(join(root, 'www/index.html'), 'hello from a tsnet container\n');
    const tar = join(this.dir, 'image.tar');
    await sh('tar', ['-C', root, '-cf', tar, '.']);
    await this.dockerOk(['import', tar, TEST_IMAGE]);
  }

  async cleanup(): Promise<void> {
    // With --live-restore, containers outlive a stopped dockerd (a test that failed while it was
    // down): start it again so it can remove them, rather than leave their shims running.
    if (!this.dockerd && this.opts.liveRestore && existsSync(join(this.dir, 'data'))) await this.startDockerd().catch(() => undefined);
    if (this.dockerd) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids], 120_000);
      const nets = (await this.docker(['network', 'ls', '-q', '--filter', 'driver=tsnet'])).stdout.split('\n').filter(Boolean);
      for (const n of nets) await this.docker(['network', 'rm', n]);
    }
    await this.stopDockerd().catch(() => undefined);
    await this.stopTsnet().catch(() => undefined);
    if (this.holder?.pid && pidAlive(this.holder.pid)) this.holder.kill('SIGKILL');
    if (this.holder) await waitExit(this.holder, 5000);
    await delNetns(this.hostNs);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Processes of ours that must be gone after cleanup (empty when all is well). */
  leftovers(): number[] {
    const pids = [...this.containerdPids];
    const d = this.dockerd?.pid;
    if (d) pids.push(d);
    // Container shims of this dockerd (their -address is under our dir).
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
        if (cmd.startsWith('/usr/bin/containerd-shim') && cmd.includes(this.dir)) pids.push(Number(e));
      } catch {
        /* gone */
      }
    }
    return pids.filter(pidAlive);
  }
}
