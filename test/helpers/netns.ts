/**
 * Test namespaces and commands. Every name carries the test process id and a random tag so parallel
 * tests never collide; callers delete what they made in `finally`/`afterEach`.
 *
 * Commands run asynchronously: the switch under test lives on this process's event loop, so a
 * synchronous exec would freeze the very data plane the traffic has to cross.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export async function sh(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export async function nsExec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export function nsSpawn(ns: string, cmd: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A short unique tag for device and namespace names (device names are at most 15 bytes). */
export function uniqueTag(): string {
  return (process.pid % 10000).toString(36) + randomBytes(3).toString('hex');
}

export async function addNetns(name: string): Promise<void> {
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export async function delNetns(name: string): Promise<void> {
  await sh('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** Move a host-namespace link into `ns`, give it a MAC, an address and bring it up. */
export async function plumb(ns: string, ifname: string, mac: string, cidr: string, mtu?: number): Promise<void> {
  await sh('ip', ['link', 'set', 'dev', ifname, 'netns', ns]);
  await sh('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'address', mac, ...(mtu ? ['mtu', String(mtu)] : [])]);
  await sh('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', ifname]);
  await sh('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'up']);
}

/** The interface names in a namespace (`ip -j link`). */
export async function linkNames(ns: string): Promise<string[]> {
  return (JSON.parse(await sh('ip', ['-n', ns, '-j', 'link'])) as { ifname: string }[]).map((l) => l.ifname);
}

/** Whether `ip` answers two pings from inside `ns`. */
export function pings(ns: string, ip: string): Promise<boolean> {
  return nsExec(ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', ip]).then(
    () => true,
    () => false,
  );
}

export async function which(tool: string): Promise<boolean> {
  return sh('sh', ['-c', `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
}

export function kill(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Privileged tests: run as root. Outside CI without root they skip and say why; under CI=true a
 * missing privilege or tool is a failure, never a silent skip.
 */
export function privilegedSkipReason(tools: string[] = []): string | null {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    if (process.env.CI) throw new Error('CI=true but the integration tests are not running as root');
    return 'needs root (network namespaces and /dev/net/tun); run as root or under CI';
  }
  void tools;
  return null;
}
