/**
 * Host commands for the bench: run a short command to completion (`ip`, `ovs-vsctl`, ...), find a
 * tool on PATH, and the tools' Debian packages for the "not found" message.
 *
 * Everything is asynchronous on purpose: the tsnet path's switch runs on this process's event loop,
 * so a synchronous exec would freeze the very data plane the traffic has to cross. Long-running
 * processes (iperf3 servers, ping, daemons) are not started here but through CleanupStack.spawn, which
 * tracks them for teardown.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Debian package that ships each tool the bench runs. */
export const DEBIAN_PACKAGE: Record<string, string> = {
  ip: 'iproute2',
  iperf3: 'iperf3',
  ping: 'iputils-ping',
  'ovs-vswitchd': 'openvswitch-switch',
  'ovsdb-server': 'openvswitch-switch',
  'ovsdb-tool': 'openvswitch-switch',
  'ovs-vsctl': 'openvswitch-switch',
  haproxy: 'haproxy',
  dockerd: 'docker.io',
  docker: 'docker.io',
  busybox: 'busybox-static',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
};

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's standard input (then closed). */
  input?: string;
}

/** Run `cmd args` to completion and return its stdout; a failure's message names the command and its stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20, env: opts.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `ip netns exec NS cmd args...` as an argument list for `ip`. */
export function inNetns(ns: string, cmd: string, args: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

/** Absolute path of `tool` on PATH (executable), or null. */
export function findOnPath(tool: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** "iperf3 not found on PATH: apt-get install iperf3" for a missing tool. */
export function missingToolMessage(tool: string): string {
  const pkg = DEBIAN_PACKAGE[tool];
  return `${tool} not found on PATH${pkg ? `: install the Debian package ${pkg} (apt-get install ${pkg})` : ''}`;
}

/** The file `ip netns add NAME` makes, for APIs that take a namespace path. */
export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}
