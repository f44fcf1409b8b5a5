/**
 * A tsnet-switch daemon for a bench path that needs the whole product (drivers that plumb through
 * the control plane: overlay, macvlan): `tsnet-switch daemon` run from the very code this bench runs
 * (this process's node, its exec flags — tsx when run from source — and its entry script), inside the
 * namespace that plays the host, with its state and API socket in a temp dir. It is a child of this
 * process, so teardown stops it (SIGTERM: the daemon closes its socket and ports) and reaps it. Its CPU
 * is its own, from /proc/PID/stat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../control/api-client.js';
import type { CleanupStack } from '../cleanup-stack.js';

export interface BenchDaemon {
  pid: number;
  api: ApiClient;
}

export async function startDaemon(cleanup: CleanupStack, hostNs: string): Promise<BenchDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-daemon-'));
  cleanup.defer(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'api.sock');
  const entry = process.argv[1];
  const p = cleanup.spawn(process.execPath, [...process.execArgv, entry, 'daemon', '--state-dir', join(dir, 'state'), '--socket', socket, '--docker-plugin', 'off'], {
    netns: hostNs,
    label: 'tsnet-switch daemon',
  });
  await p.waitForOutput(/listening on/, 20_000);
  return { pid: p.pid!, api: new ApiClient(socket) };
}
