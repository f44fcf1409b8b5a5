/**
 * EtcdClient: etcd's v3 API through its own JSON gateway (grpc-gateway, served by every etcd >= 3.4
 * at /v3/ on the client URL), over plain node:http / node:https. No dependency: the gateway is part
 * of etcd, and what we need is seven calls: range, put, delete range, txn, lease grant / keepalive /
 * revoke, and watch (a streaming POST whose response is one JSON object per line).
 *
 * Keys and values are UTF-8 strings here; on the wire they are base64 (protobuf `bytes` in JSON).
 * Revisions and lease ids are int64 and stay decimal strings or bigint-safe numbers: lease ids
 * routinely exceed 2^53, so they are kept as strings end to end.
 *
 * Every unary call has a deadline (default 2 s) and tries the endpoints in order; when none answers
 * it throws ERR_STORE_UNAVAILABLE (503) naming the store, so control commands fail fast and say why.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { TsnError } from '../errors.js';

export interface EtcdTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdClientOptions {
  /** Client URLs: http://HOST:PORT or https://HOST:PORT. */
  endpoints: readonly string[];
  tls?: EtcdTls;
  /** Deadline of one unary call, per endpoint tried. */
  timeoutMs?: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

export interface RangeResult {
  revision: number;
  kvs: KeyValue[];
}

export type Compare =
  | { key: string; target: 'CREATE'; createRevision: number; result?: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL' }
  | { key: string; target: 'VALUE'; value: string; result?: 'EQUAL' | 'NOT_EQUAL' }
  | { key: string; target: 'MOD'; modRevision: number; result?: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL' };

export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; rangeEnd?: string } }
  | { range: { key: string; rangeEnd?: string } };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** The kvs of each range op, in order (other ops give an empty list). */
  ranges: KeyValue[][];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

export interface WatchHandlers {
  /** A batch of events, all from one revision or consecutive ones, in order. */
  events(events: WatchEvent[], revision: number): void;
  /** The start revision was compacted away: the caller must re-read everything and watch again. */
  compacted(compactRevision: number): void;
  /** The stream ended or failed (store down, network cut); the watch is over. */
  ended(err: Error): void;
}

export interface Watch {
  close(): void;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/**
 * The range end that makes `[prefix, end)` every key starting with `prefix` (etcd's prefix rule: the
 * last byte plus one). Keys here are ASCII by construction (ids, names, addresses).
 */
export function prefixEnd(prefix: string): string {
  if (!/^[\x20-\x7e]+$/.test(prefix)) throw new RangeError(`cluster store key prefix ${JSON.stringify(prefix)}: expected printable ASCII`);
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function kvFrom(raw: Record<string, string | undefined>): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    version: Number(raw.version ?? 0),
    lease: raw.lease ?? '0',
  };
}

function opJson(op: TxnOp): Record<string, unknown> {
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key), ...(op.delete.rangeEnd ? { range_end: b64(op.delete.rangeEnd) } : {}) } };
  return { request_range: { key: b64(op.range.key), ...(op.range.rangeEnd ? { range_end: b64(op.range.rangeEnd) } : {}) } };
}

function compareJson(c: Compare): Record<string, unknown> {
  const base = { key: b64(c.key), target: c.target, result: c.result ?? 'EQUAL' };
  if (c.target === 'CREATE') return { ...base, create_revision: String(c.createRevision) };
  if (c.target === 'MOD') return { ...base, mod_revision: String(c.modRevision) };
  return { ...base, value: b64(c.value) };
}

export class EtcdClient {
  readonly endpoints: readonly URL[];
  private readonly tls: EtcdTls | undefined;
  private readonly timeoutMs: number;
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  private readonly httpsAgent: HttpsAgent;
  /** The endpoint that answered last: tried first next time. */
  private preferred = 0;

  constructor(opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new TsnError('ERR_BAD_OPTION', 'the cluster store needs at least one etcd endpoint');
    this.endpoints = opts.endpoints.map((e) => new URL(e));
    this.tls = opts.tls;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(opts.tls ?? {}) });
  }

  /** How errors and logs name the store: etcd://host:port[,host:port]. */
  get description(): string {
    return `etcd://${this.endpoints.map((u) => u.host).join(',')}`;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private unavailable(detail: string): TsnError {
    return new TsnError('ERR_STORE_UNAVAILABLE', `the cluster store ${this.description} is unreachable (${detail}): overlay networks keep forwarding with what they know, but changes to them need the store`);
  }

  private open(url: URL, path: string, body: string, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void, timeoutMs: number | null) {
    const isTls = url.protocol === 'https:';
    const req = (isTls ? httpsRequest : httpRequest)(
      {
        host: url.hostname,
        port: url.port || (isTls ? 443 : 2379),
        method: 'POST',
        path,
        agent: isTls ? this.httpsAgent : this.httpAgent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ...(isTls ? (this.tls ?? {}) : {}),
      },
      onResponse,
    );
    req.on('error', onError);
    if (timeoutMs !== null) {
      // A deadline for the whole request, queueing for a pooled socket included: req.setTimeout only
      // starts once a socket is assigned, so a request queued behind stuck ones would wait forever.
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.once('close', () => clearTimeout(deadline));
    }
    req.end(body);
    return req;
  }

  /** One unary call: POST path, JSON in, JSON out; the next endpoint on a connection failure. */
  async call(path: string, body: unknown): Promise<Record<string, any>> {
    const text = JSON.stringify(body);
    const errors: string[] = [];
    for (let k = 0; k < this.endpoints.length; k++) {
      const i = (this.preferred + k) % this.endpoints.length;
      const url = this.endpoints[i];
      try {
        const out = await new Promise<{ status: number; json: Record<string, any> }>((resolve, reject) => {
          this.open(
            url,
            path,
            text,
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('error', reject);
              res.on('end', () => {
                try {
                  resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') });
                } catch {
                  reject(new Error(`not JSON from ${path} (HTTP ${res.statusCode})`));
                }
              });
            },
            reject,
            this.timeoutMs,
          );
        });
        if (out.status >= 500 && /unavailable|no leader|timed out/i.test(String(out.json.error ?? out.json.message ?? ''))) {
          errors.push(`${url.host}: ${out.json.error ?? out.json.message}`);
          continue;
        }
        if (out.status !== 200) {
          throw new TsnError('ERR_STORE_REFUSED', `the cluster store ${this.description} refused ${path}: HTTP ${out.status} ${out.json.error ?? out.json.message ?? ''}`.trim());
        }
        this.preferred = i;
        return out.json;
      } catch (err) {
        if (err instanceof TsnError) throw err;
        errors.push(`${url.host}: ${(err as Error).message}`);
      }
    }
    throw this.unavailable(errors.join('; '));
  }

  async range(key: string, rangeEnd?: string): Promise<RangeResult> {
    const r = await this.call('/v3/kv/range', { key: b64(key), ...(rangeEnd ? { range_end: b64(rangeEnd) } : {}) });
    return { revision: Number(r.header?.revision ?? 0), kvs: (r.kvs ?? []).map(kvFrom) };
  }

  rangePrefix(prefix: string): Promise<RangeResult> {
    return this.range(prefix, prefixEnd(prefix));
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const r = await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
    return Number(r.header?.revision ?? 0);
  }

  async delete(key: string, rangeEnd?: string): Promise<number> {
    const r = await this.call('/v3/kv/deleterange', { key: b64(key), ...(rangeEnd ? { range_end: b64(rangeEnd) } : {}) });
    return Number(r.deleted ?? 0);
  }

  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const r = await this.call('/v3/kv/txn', { compare: compare.map(compareJson), success: success.map(opJson), failure: failure.map(opJson) });
    const responses: Record<string, any>[] = r.responses ?? [];
    return {
      succeeded: r.succeeded === true,
      revision: Number(r.header?.revision ?? 0),
      ranges: responses.map((x) => (x.response_range?.kvs ?? []).map(kvFrom)),
    };
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    if (!r.ID) throw new TsnError('ERR_STORE_REFUSED', `the cluster store ${this.description} granted no lease: ${r.error ?? JSON.stringify(r)}`);
    return { id: String(r.ID), ttl: Number(r.TTL) };
  }

  /**
   * Renew a lease once. The gateway's keepalive is a stream; one request gets one answer, so each
   * renewal is its own short POST. Returns the new TTL; 0 means the lease is gone (expired).
   */
  async leaseKeepAlive(id: string): Promise<number> {
    const r = await this.call('/v3/lease/keepalive', { ID: id });
    return Number(r.result?.TTL ?? 0);
  }

  async leaseRevoke(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  async compact(revision: number): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision), physical: true });
  }

  /**
   * Watch every key under `prefix` from `startRevision` (inclusive). The stream has no deadline; it
   * ends when the store goes away, and the caller decides when to try again.
   */
  watchPrefix(prefix: string, startRevision: number, h: WatchHandlers): Watch {
    const body = JSON.stringify({ create_request: { key: b64(prefix), range_end: b64(prefixEnd(prefix)), start_revision: String(startRevision), progress_notify: true } });
    let done = false;
    const finish = (err: Error) => {
      if (done) return;
      done = true;
      h.ended(err);
    };
    const url = this.endpoints[this.preferred];
    const req = this.open(
      url,
      '/v3/watch',
      body,
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          finish(new Error(`watch refused: HTTP ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while (!done && (nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) this.watchLine(line, h, finish);
          }
        });
        res.on('end', () => finish(new Error('watch stream ended')));
        res.on('error', (e) => finish(e));
      },
      (e) => finish(e),
      null,
    );
    // A half-open TCP connection would hang forever: etcd sends progress notifications (every 10 min
    // by default), so only the socket's own errors and the store's close end it; keepalive probes catch the rest.
    req.on('socket', (s) => s.setKeepAlive(true, 1000));
    return {
      close: () => {
        done = true;
        req.destroy();
      },
    };
  }

  private watchLine(line: string, h: WatchHandlers, finish: (err: Error) => void): void {
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(line);
    } catch {
      finish(new Error(`watch sent a line that is not JSON: ${line.slice(0, 80)}`));
      return;
    }
    if (msg.error) {
      finish(new Error(`watch failed: ${msg.error.message ?? JSON.stringify(msg.error)}`));
      return;
    }
    const r = msg.result ?? {};
    if (r.compact_revision && Number(r.compact_revision) > 0) {
      finish(new Error('watch compacted'));
      h.compacted(Number(r.compact_revision));
      return;
    }
    if (r.canceled) {
      finish(new Error(`watch canceled by the store: ${r.cancel_reason ?? ''}`));
      return;
    }
    const events: WatchEvent[] = (r.events ?? []).map((e: Record<string, any>) => ({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv: kvFrom(e.kv ?? {}) }));
    if (events.length) h.events(events, Number(r.header?.revision ?? 0));
  }
}
