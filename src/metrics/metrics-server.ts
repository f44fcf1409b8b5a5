/**
 * MetricsServer: `daemon --metrics-listen HOST:PORT` serves GET /metrics in Prometheus's text format
 * (switch-metrics.ts reads the counters when a scrape comes). A front door on TCP, off by default,
 * read-only: it answers nothing but /metrics (and `/` with a pointer to it), so binding it to loopback
 * or a monitoring network exposes counters and names, never the API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Daemon } from '../control/daemon.js';
import { listenTcp, type TcpListenAddress } from '../control/tcp-listen-address.js';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition-format.js';
import { collectSwitchMetrics } from './switch-metrics.js';

function reply(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export class MetricsServer {
  private server: Server | null = null;
  /** Where it listens (the kernel's port when asked for port 0); null until listen() returned. */
  address: TcpListenAddress | null = null;

  constructor(
    private readonly daemon: Daemon,
    private readonly listenOn: TcpListenAddress,
  ) {}

  /** Bind and listen; an address that cannot be bound is a TsnError naming it. */
  async listen(): Promise<TcpListenAddress> {
    const server = createServer((req, res) => this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const bound = await listenTcp(server, this.listenOn, '--metrics-listen');
    this.server = server;
    this.address = bound;
    return this.address;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain; charset=utf-8', `${req.method} not allowed: GET /metrics\n`, { allow: 'GET, HEAD' });
    if (path === '/metrics') {
      let text: string;
      try {
        text = renderExposition(collectSwitchMetrics(this.daemon));
      } catch (err) {
        this.daemon.log(`metrics: ${(err as Error).stack ?? String(err)}`);
        return reply(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${(err as Error).message}\n`);
      }
      return reply(res, 200, EXPOSITION_CONTENT_TYPE, text);
    }
    if (path === '/') return reply(res, 200, 'text/plain; charset=utf-8', 'tsnet-switch: metrics are at /metrics\n');
    return reply(res, 404, 'text/plain; charset=utf-8', `no such path ${path}: metrics are at /metrics\n`);
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections(); // a scraper's keep-alive connection would hold close() open
    await closed;
  }
}
