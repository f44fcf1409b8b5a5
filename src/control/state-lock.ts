/**
 * StateLock: one daemon per state directory. A second daemon on the same state would try to adopt
 * devices the first one holds (EBUSY) and then rewrite its state file without them, so it must stop
 * before touching anything. The lock is a pid file created with O_EXCL; one left by a daemon that
 * died (kill -9) is taken over when its pid is no longer a running node process.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsnError } from '../errors.js';

function isRunningNode(pid: number): boolean {
  if (!Number.isInteger(pid) || pid < 1 || pid === process.pid) return false;
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return /(^|\/)node[^/]*$/.test(argv0) || argv0.includes('tsnet-switch');
  } catch {
    return false; // no such process
  }
}

export class StateLock {
  private constructor(readonly file: string) {}

  static acquire(stateDir: string): StateLock {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, 'daemon.pid');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return new StateLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(file, 'utf8').trim());
        if (isRunningNode(pid)) {
          throw new TsnError('ERR_DAEMON_RUNNING', `a daemon (pid ${pid}) is already using the state in ${stateDir}; stop it first (or remove ${file} if that process is not a tsnet-switch daemon)`);
        }
        rmSync(file, { force: true }); // stale: its daemon is gone
      }
    }
    throw new TsnError('ERR_DAEMON_RUNNING', `could not take the lock ${file}`);
  }

  /** The pid of the running daemon that holds the lock on `stateDir`, or null if none does. */
  static holder(stateDir: string): number | null {
    try {
      const pid = Number(readFileSync(join(stateDir, 'daemon.pid'), 'utf8').trim());
      return isRunningNode(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  release(): void {
    try {
      if (Number(readFileSync(this.file, 'utf8').trim()) === process.pid) rmSync(this.file, { force: true });
    } catch {
      /* already gone */
    }
  }
}
