/**
 * UiServer: `daemon --ui-listen HOST:PORT` serves the live page (ui-page.ts) and its data
 * (`/view.json`, ui-view.ts). Read-only: it answers GET for those two paths and nothing else, so it
 * changes nothing whoever reaches it; bind it to loopback (the documented default, 127.0.0.1:9480).
 *
 * Rates come from the daemon's own clock: every second the server samples the `stats` counters and
 * keeps the rates between the last two samples, so every viewer sees the same numbers whenever it asks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Daemon } from '../control/daemon.js';
import { portRates, type PortCounters, type PortRate } from '../control/render/port-rates.js';
import { listenTcp, type TcpListenAddress } from '../control/tcp-listen-address.js';
import { UI_PAGE } from './ui-page.js';
import { uiView } from './ui-view.js';

const SAMPLE_MS = 1000;

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export class UiServer {
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private last: { at: bigint; ports: PortCounters[] } | null = null;
  private rates = new Map<string, PortRate>();
  private interval = 0;
  address: TcpListenAddress | null = null;

  constructor(
    private readonly daemon: Daemon,
    private readonly listenOn: TcpListenAddress,
  ) {}

  async listen(): Promise<TcpListenAddress> {
    const server = createServer((req, res) => this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    this.address = await listenTcp(server, this.listenOn, '--ui-listen');
    this.server = server;
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
    return this.address;
  }

  private sample(): void {
    const now = { at: process.hrtime.bigint(), ports: (this.daemon.stats() as { ports: PortCounters[] }).ports };
    if (this.last) {
      const seconds = Number(now.at - this.last.at) / 1e9;
      this.rates = new Map(portRates(this.last.ports, now.ports, seconds).map((r) => [`${r.network}\0${r.port}`, r]));
      this.interval = Math.round(seconds * 10) / 10;
    }
    this.last = now;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://ui').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain; charset=utf-8', `${req.method} not allowed: the page is read-only\n`);
    if (path === '/') return reply(res, 200, 'text/html; charset=utf-8', UI_PAGE);
    if (path === '/view.json') {
      try {
        return reply(res, 200, 'application/json', JSON.stringify(uiView(this.daemon, this.rates, this.interval)));
      } catch (err) {
        this.daemon.log(`ui: ${(err as Error).stack ?? String(err)}`);
        return reply(res, 500, 'text/plain; charset=utf-8', `view failed: ${(err as Error).message}\n`);
      }
    }
    return reply(res, 404, 'text/plain; charset=utf-8', `no such path ${path}: the page is at /\n`);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.server;
    this.server = null;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  }
}
