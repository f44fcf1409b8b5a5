/**
 * UiServer: `daemon --ui-listen HOST:PORT` serves the live page (ui-page.ts) and its data
 * (`/view.json`, ui-view.ts) to anyone who reaches it: bind it to loopback (127.0.0.1:9480).
 * Its two actions, `POST /trace` (a dry run through the pipeline) and `POST /capture` (a pcapng of at
 * most `count` frames or `seconds`), need the page's token: made at start, held in memory only, and
 * handed out by the root-only API (`tsnet-switch ui` prints the address with `#token=`), so only
 * who may use the API may use them. Without it the page is read-only.
 *
 * Rates come from the daemon's own clock: every second the server samples the `stats` counters and
 * keeps the rates between the last two samples, so every viewer sees the same numbers whenever it asks.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UiCaptureBody, UiTraceBody } from '../control/api-schema.js';
import { parseRequest, readJsonBody } from '../control/http-json-body.js';
import { CaptureService } from '../control/capture-service.js';
import { traceFrame } from '../control/trace-service.js';
import { TsnError } from '../errors.js';
import type { Daemon } from '../control/daemon.js';
import { portRates, type PortCounters, type PortRate } from '../control/render/port-rates.js';
import { TcpFrontDoor, type TcpListenAddress } from '../control/tcp-listen-address.js';
import { UI_PAGE } from './ui-page.js';
import { uiView } from './ui-view.js';

const SAMPLE_MS = 1000;
const MAX_BODY = 64 * 1024;
const CAPTURE_COUNT = 1000;
const CAPTURE_SECONDS = 10;

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export class UiServer {
  private readonly door: TcpFrontDoor;
  private timer: NodeJS.Timeout | null = null;
  private last: { at: bigint; ports: PortCounters[] } | null = null;
  private rates = new Map<string, PortRate>();
  private interval = 0;
  private captures: CaptureService | null = null;
  /** The actions' credential (base64url, 24 random bytes); never written anywhere. */
  readonly token = randomBytes(24).toString('base64url');

  constructor(
    private readonly daemon: Daemon,
    listenOn: TcpListenAddress,
  ) {
    this.door = new TcpFrontDoor(listenOn, '--ui-listen', (req, res) => this.handle(req, res));
  }

  /** Where it listens; null until listen() returned. */
  get address(): TcpListenAddress | null {
    return this.door.address;
  }

  async listen(): Promise<TcpListenAddress> {
    const address = await this.door.listen();
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
    return address;
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

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const given = Buffer.from(m?.[1] ?? '');
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((err) => {
      const e = err as TsnError;
      if (!(err instanceof TsnError)) this.daemon.log(`ui: ${(err as Error).stack ?? String(err)}`);
      if (res.headersSent) return void res.destroy();
      reply(res, err instanceof TsnError ? e.status : 500, 'application/json', JSON.stringify({ code: e.code ?? 'ERR_INTERNAL', error: e.message ?? String(err) }));
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://ui').pathname;
    if (req.method === 'POST' && (path === '/trace' || path === '/capture')) {
      if (!this.authorized(req)) throw new TsnError('ERR_UI_TOKEN', `${path.slice(1)} needs the page's token: open the address \`tsnet-switch ui\` prints (it ends in #token=…)`);
      const body = await readJsonBody(req, MAX_BODY);
      if (path === '/trace') {
        const t = parseRequest(UiTraceBody, body);
        return reply(res, 200, 'application/json', JSON.stringify(traceFrame(this.daemon, t.network, { in: t.in, frame: t.frame })));
      }
      const c = parseRequest(UiCaptureBody, body);
      const captures = (this.captures ??= new CaptureService(this.daemon));
      const session = captures.start({ target: c.target, format: 'pcapng', count: c.count ?? CAPTURE_COUNT, filter: c.filter }, req, res);
      // Bounded in time too, so a quiet port still ends in a file.
      const timer = setTimeout(() => !session.ended && session.end('stopped'), (c.seconds ?? CAPTURE_SECONDS) * 1000);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain; charset=utf-8', `${req.method} ${path} not allowed: the page is read-only but for POST /trace and /capture with its token\n`);
    if (path === '/') return reply(res, 200, 'text/html; charset=utf-8', UI_PAGE);
    if (path === '/view.json') return reply(res, 200, 'application/json', JSON.stringify(uiView(this.daemon, this.rates, this.interval)));
    return reply(res, 404, 'text/plain; charset=utf-8', `no such path ${path}: the page is at /\n`);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.door.close();
  }
}
