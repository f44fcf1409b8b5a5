/**
 * The CLI's side of the capture API: POST /v1/capture on the daemon's socket, and hand back the
 * streaming response once the daemon has accepted (status 200, header x-capture-id). A refusal (bad
 * filter, unknown target) arrives as the usual JSON error and becomes a TsnError with its code.
 * `stopCapture` asks the daemon to end a capture cleanly (its stream then ends with statistics).
 */
import { request, type IncomingMessage } from 'node:http';
import { ApiClient } from '../control/api-client.js';
import type { CaptureRequest } from '../control/capture-service.js';
import { TsnError } from '../errors.js';

export interface OpenCapture {
  id: string;
  format: 'pcapng' | 'pcap';
  response: IncomingMessage;
  /** Abort the request (the daemon sees the client go and ends the capture). */
  abort(): void;
}

export function openCapture(socketPath: string, body: CaptureRequest): Promise<OpenCapture> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, method: 'POST', path: '/v1/capture', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        if ((res.statusCode ?? 500) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let e: { code?: string; message?: string } | undefined;
            try {
              e = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.error;
            } catch {
              /* not JSON */
            }
            reject(TsnError.received(e?.code ?? 'ERR_DAEMON', res.statusCode ?? 500, e?.message ?? `daemon answered ${res.statusCode}`));
          });
          return;
        }
        const type = String(res.headers['content-type'] ?? '');
        resolve({
          id: String(res.headers['x-capture-id'] ?? ''),
          format: type.includes('pcapng') ? 'pcapng' : 'pcap',
          response: res,
          abort: () => req.destroy(),
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new TsnError('ERR_NO_DAEMON', `cannot reach the daemon at ${socketPath} (${err.code}): start it with \`tsnet-switch daemon\`, or point --socket / TSNET_SWITCH_SOCKET at it`));
      } else if (err.code === 'EACCES') {
        reject(new TsnError('ERR_NO_DAEMON', `permission denied on ${socketPath}: the API socket is root-only`));
      } else reject(err);
    });
    req.end(payload);
  });
}

export function stopCapture(socketPath: string, id: string): Promise<unknown> {
  return new ApiClient(socketPath).call('DELETE', `/v1/captures/${encodeURIComponent(id)}`);
}
