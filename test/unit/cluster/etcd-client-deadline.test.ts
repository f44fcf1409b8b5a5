/**
 * EtcdClient's deadline covers the whole request: a call queued behind stuck ones for one of the
 * pool's sockets fails at its deadline too, instead of waiting for a socket and then a deadline more
 * (seen once: a lease renewal stuck against a live etcd made the next `network create` hang 20 s).
 * The "store" is a loopback HTTP server that takes requests and never answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../../src/cluster/etcd-client.js';

let server: Server | null = null;
let client: EtcdClient | null = null;

afterEach(async () => {
  client?.close();
  client = null;
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

describe('EtcdClient deadline', () => {
  it('fails a call queued behind eight stuck ones at its own deadline, naming the store', async () => {
    let seen = 0;
    server = createServer(() => void seen++); // reads the request, never answers
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const timeoutMs = 1000;
    client = new EtcdClient({ endpoints: [`http://127.0.0.1:${port}`], timeoutMs });
    const started = Date.now();
    // The pool has 8 sockets: the ninth call queues for one.
    const calls = Array.from({ length: 9 }, () =>
      client!.call('/v3/kv/range', { key: 'eA==' }).then(
        () => ({ ok: true, ms: Date.now() - started, message: '' }),
        (err: Error) => ({ ok: false, ms: Date.now() - started, message: err.message }),
      ),
    );
    const results = await Promise.all(calls);
    expect(seen).toBe(8); // the ninth never reached the server: it was still queued at its deadline
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.message).toContain(`etcd://127.0.0.1:${port}`);
      expect(r.message).toContain(`no answer within ${timeoutMs} ms`);
    }
    // Before the fix the queued call got a socket only when the others gave up, then waited a whole
    // deadline more (>= 2 x timeoutMs); now every call ends near one deadline.
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(2 * timeoutMs - 200);
  });
});
