/**
 * MetricsServer: `daemon --metrics-listen HOST:PORT` serves GET /metrics in Prometheus's text format
 * (switch-metrics.ts reads the counters when a scrape comes). A front door on TCP, off by default,
 * read-only: it answers nothing but /metrics (and `/` with a pointer to it), so binding it to loopback
 * or a monitoring network exposes counters and names, never the API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Daemon } from '../control/daemon.js';
import { TcpFrontDoor, type TcpListenAddress } from '../control/tcp-listen-address.js';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition-format.js';
import { collectSwitchMetrics } from './switch-metrics.js';

function reply(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export class MetricsServer {
  private readonly door: TcpFrontDoor;

  constructor(
    private readonly daemon: Daemon,
    listenOn: TcpListenAddress,
  ) {
    this.door = new TcpFrontDoor(listenOn, '--metrics-listen', (req, res) => this.handle(req, res));
  }

  /** Where it listens (the kernel's port when asked for port 0); null until listen() returned. */
  get address(): TcpListenAddress | null {
    return this.door.address;
  }

  /** Bind and listen; an address that cannot be bound is a TsnError naming it. */
  listen(): Promise<TcpListenAddress> {
    return this.door.listen();
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

  close(): Promise<void> {
    return this.door.close();
  }
}
