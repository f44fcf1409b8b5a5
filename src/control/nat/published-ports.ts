/**
 * Published ports: `connect --publish HOSTPORT:PORT[/tcp|udp]` and Docker's port bindings
 * (`docker run -p`, passed to the remote driver in ProgramExternalConnectivity). Parsed and checked
 * here before anything is made: a host port/protocol pair forwards to one endpoint only.
 */
import { TsnError } from '../../errors.js';
import type { PublishedPort } from '../model.js';

function portNumber(text: string, what: string, spec: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new TsnError('ERR_BAD_OPTION', `--publish ${spec}: ${what} ${JSON.stringify(text)} is not a port: expected 1 to 65535 (HOSTPORT:PORT[/tcp|udp], e.g. 8080:80/tcp)`);
  }
  return n;
}

/** `8080:80`, `8080:80/tcp`, `5353:53/udp`. */
export function parsePublish(spec: string): PublishedPort {
  const m = /^([^:/]+):([^:/]+)(?:\/(.*))?$/.exec(spec);
  if (!m) throw new TsnError('ERR_BAD_OPTION', `--publish ${JSON.stringify(spec)}: expected HOSTPORT:PORT[/tcp|udp], e.g. 8080:80/tcp`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') throw new TsnError('ERR_BAD_OPTION', `--publish ${spec}: protocol ${JSON.stringify(m[3])} is not supported: expected tcp or udp`);
  return { proto, hostPort: portNumber(m[1], 'host port', spec), port: portNumber(m[2], 'port', spec) };
}

export function formatPublish(p: PublishedPort): string {
  return `${p.hostPort}:${p.port}/${p.proto}`;
}

/** Refuse a host port/protocol published twice, within `wanted` or by another endpoint in `taken`. */
export function checkPublishFree(wanted: readonly PublishedPort[], taken: Iterable<{ owner: string; publish: readonly PublishedPort[] }>): void {
  const seen = new Map<string, string>();
  for (const t of taken) for (const p of t.publish) seen.set(`${p.proto}/${p.hostPort}`, t.owner);
  const mine = new Set<string>();
  for (const p of wanted) {
    const key = `${p.proto}/${p.hostPort}`;
    if (mine.has(key)) throw new TsnError('ERR_PORT_IN_USE', `host port ${p.hostPort}/${p.proto} is published twice in one request`);
    mine.add(key);
    const owner = seen.get(key);
    if (owner) throw new TsnError('ERR_PORT_IN_USE', `host port ${p.hostPort}/${p.proto} is published already by ${owner}: choose another host port`);
  }
}
