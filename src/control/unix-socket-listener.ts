/**
 * One way to serve HTTP on a root-only Unix socket, for the API socket and the Docker plugin socket:
 * a socket left by a daemon that died is removed, one something still answers on is refused, and
 * the socket is mode 0600 before it accepts anyone (the umask is tightened around listen()).
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { createConnection } from 'node:net';
import { TsnError } from '../errors.js';

/** Is something answering on this socket path? (connect(2) to it) */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** listen(2) on `path` as 0600; `busy` is the error text when a live server holds the path. */
export async function listenRootOnly(server: Server, path: string, busy: string): Promise<void> {
  if (existsSync(path)) {
    if (await socketAlive(path)) throw new TsnError('ERR_DAEMON_RUNNING', busy);
    unlinkSync(path); // stale, from a daemon that died
  }
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  chmodSync(path, 0o600);
}
