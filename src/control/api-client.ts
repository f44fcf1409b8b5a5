/**
 * ApiClient: what every CLI command but `daemon` is — a thin client of the daemon's Unix socket.
 * Errors the daemon sends come back as TsnError with the daemon's code and message; an absent daemon
 * is an error that says how to start one.
 */
import { request } from 'node:http';
import { TsnError } from '../errors.js';

export const DEFAULT_SOCKET = '/run/tsnet-switch/api.sock';

export function socketPathFrom(flag?: string): string {
  return flag ?? process.env.TSNET_SWITCH_SOCKET ?? DEFAULT_SOCKET;
}

export class ApiClient {
  constructor(readonly socketPath: string) {}

  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : null;
            } catch {
              return reject(new TsnError('ERR_BAD_RESPONSE', `daemon sent a non-JSON answer (status ${res.statusCode})`));
            }
            if ((res.statusCode ?? 500) >= 400) {
              const e = (json as { error?: { code?: string; message?: string } })?.error;
              return reject(TsnError.received(e?.code ?? 'ERR_DAEMON', res.statusCode ?? 500, e?.message ?? `daemon answered ${res.statusCode}`));
            }
            resolve(json as T);
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(new TsnError('ERR_NO_DAEMON', `cannot reach the daemon at ${this.socketPath} (${err.code}): start it with \`tsnet-switch daemon\`, or point --socket / TSNET_SWITCH_SOCKET at it`));
        } else if (err.code === 'EACCES') {
          reject(new TsnError('ERR_NO_DAEMON', `permission denied on ${this.socketPath}: the API socket is root-only`));
        } else reject(err);
      });
      if (payload) req.write(payload);
      req.end();
    });
  }
}
