/**
 * Sandboxes: a container's network namespace, named the three ways users have one at hand — a name
 * under /var/run/netns (`ip netns add`), a path to a namespace file, or the PID of a process inside
 * it (`docker inspect -f '{{.State.Pid}}'`). Resolving checks the namespace is there, so a typo or a
 * dead PID is a clear error before anything is made.
 */
import { existsSync } from 'node:fs';
import { TsnError } from '../errors.js';
import type { SandboxRef } from './model.js';

export const NETNS_RUN_DIR = '/var/run/netns';

export function sandboxFrom(opts: { netns?: string; pid?: number }): SandboxRef {
  if (opts.netns !== undefined && opts.pid !== undefined) {
    throw new TsnError('ERR_BAD_SANDBOX', 'give either --netns NAME|PATH or --pid PID, not both');
  }
  if (opts.pid !== undefined) {
    if (!Number.isInteger(opts.pid) || opts.pid < 1) throw new TsnError('ERR_BAD_SANDBOX', `--pid ${opts.pid}: expected a process id (a positive integer)`);
    return { kind: 'pid', pid: opts.pid };
  }
  if (opts.netns === undefined || opts.netns === '') {
    throw new TsnError('ERR_BAD_SANDBOX', 'a sandbox is needed: --netns NAME|PATH or --pid PID');
  }
  if (opts.netns.includes('/')) return { kind: 'path', path: opts.netns };
  if (opts.netns === '.' || opts.netns === '..') throw new TsnError('ERR_BAD_SANDBOX', `--netns ${opts.netns}: not a namespace name`);
  return { kind: 'netns', name: opts.netns };
}

/** The namespace file behind a sandbox reference; throws ERR_NO_SUCH_SANDBOX if it is not there. */
export function resolveSandbox(ref: SandboxRef): string {
  switch (ref.kind) {
    case 'netns': {
      const path = `${NETNS_RUN_DIR}/${ref.name}`;
      if (!existsSync(path)) {
        throw new TsnError('ERR_NO_SUCH_SANDBOX', `network namespace ${JSON.stringify(ref.name)} does not exist: expected a name listed by \`ip netns list\`, a path to a namespace file, or --pid PID`);
      }
      return path;
    }
    case 'path':
      if (!existsSync(ref.path)) throw new TsnError('ERR_NO_SUCH_SANDBOX', `namespace file ${ref.path} does not exist`);
      return ref.path;
    case 'pid': {
      const path = `/proc/${ref.pid}/ns/net`;
      if (!existsSync(path)) throw new TsnError('ERR_NO_SUCH_SANDBOX', `process ${ref.pid} does not exist (a dead PID?): expected the PID of a running process in the container`);
      return path;
    }
  }
}

export function describeSandbox(ref: SandboxRef): string {
  return ref.kind === 'netns' ? ref.name : ref.kind === 'path' ? ref.path : `pid ${ref.pid}`;
}
