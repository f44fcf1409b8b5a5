/**
 * Run a system tool (nft, sysctl, ip) in the namespace the daemon treats as the host: directly when
 * that is the daemon's own namespace, through nsenter when it is another (tests and `bench` run the
 * daemon with --host-netns). Synchronous and bounded, for the control plane's few short commands.
 */
import { spawnSync } from 'node:child_process';

export interface HostCommandResult {
  ok: boolean;
  stdout: string;
  /** stderr trimmed, or why the command could not run at all. */
  err: string;
}

export function runInHost(hostNetns: string | null, cmd: string, args: string[], input?: string): HostCommandResult {
  const [file, argv] = hostNetns ? ['nsenter', [`--net=${hostNetns}`, '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { input, encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, stdout: '', err: r.error.message };
  return { ok: r.status === 0, stdout: r.stdout ?? '', err: (r.stderr ?? '').trim() };
}
