/**
 * ApiServer: JSON over HTTP on a Unix socket (like dockerd's), root-only (mode 0600, made so before
 * the socket accepts anyone: the umask is tightened around listen()).
 *
 *   GET    /v1/networks                       network ls
 *   POST   /v1/networks                       network create
 *   GET    /v1/networks/NAME                  network inspect
 *   DELETE /v1/networks/NAME[?force=1]        network rm
 *   POST   /v1/networks/NAME/connect          connect
 *   POST   /v1/networks/NAME/disconnect       disconnect
 *   POST   /v1/networks/NAME/uplinks          network uplink add (a host interface on a bridge network)
 *   DELETE /v1/networks/NAME/uplinks/IFACE    network uplink rm
 *   GET    /v1/fdb[?network=NAME]             fdb show
 *   POST   /v1/fdb                            fdb add (overlay: a MAC behind a remote VTEP)
 *   GET    /v1/overlay/key                    this host's WireGuard public key (encrypted overlays)
 *   POST   /v1/overlay/secrets                new handshakes with every peer, and their Wireshark key log
 *   DELETE /v1/fdb?network=NAME&mac=MAC       fdb del
 *   GET    /v1/stats                          stats
 *   GET    /v1/ping                           liveness
 *   POST   /v1/capture                        capture: a streaming pcapng/pcap body (capture-service.ts); underlay: true
 *                                             captures an overlay's underlay (capture/underlay-capture.ts)
 *   GET    /v1/captures                       running captures and their counters
 *   DELETE /v1/captures/ID                    stop a capture (its stream ends cleanly)
 *   POST   /v1/networks/NAME/trace            trace one frame through the pipeline (trace-service.ts)
 *   GET    /v1/lb, POST /v1/lb/...            lb (virtual services): see lb-api.ts
 *   POST   /v1/attachments[/check|delete|gc]  CNI / netavark attachments: see attachment-api.ts
 *   GET    /v1/cluster, POST /v1/cluster/gc   cluster ls / gc (with --cluster-store): cluster-routes.ts
 *
 * Errors are `{ error: { code, message } }` with a 4xx/5xx status; bodies over 64 KiB get 413.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FdbAddBody } from './api-schema.js';
import { CaptureBody, ConnectBody, CreateNetworkBody, DisconnectBody, SecretsBody, TraceBody, UplinkBody } from './api-schema.js';
import { CaptureService } from './capture-service.js';
import { traceFrame } from './trace-service.js';
import type { Daemon } from './daemon.js';
import { handleLbRoute } from './lb-api.js';
import { daemonDoctorFindings } from './doctor-checks.js';
import { handleAttachmentRoute } from './attachment-api.js';
import { RuntimeAttachments } from './runtime-attachments.js';
import { localNetworkRequests } from './network-requests.js';
import { TsnError } from '../errors.js';
import { listenRootOnly } from './unix-socket-listener.js';
import { parseRequest, readJsonBody } from './http-json-body.js';
import { handleClusterRoute, type ClusterApi } from '../cluster/cluster-routes.js';

const MAX_BODY = 64 * 1024;
/** How long `overlay secrets` waits for the handshakes it starts: two tries (REKEY_TIMEOUT is 5 s). */
const SECRETS_WAIT_MS = 12_000;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const readBody = (req: IncomingMessage) => readJsonBody(req, MAX_BODY);
const parse = parseRequest;

export class ApiServer {
  private server: Server | null = null;
  private captureService: CaptureService | null = null;
  private runtimeAttachments: RuntimeAttachments | null = null;

  private get captures(): CaptureService {
    return (this.captureService ??= new CaptureService(this.daemon));
  }

  constructor(
    private readonly daemon: Daemon,
    readonly socketPath: string,
    /** With --cluster-store: overlay requests go through the store (src/cluster/cluster-routes.ts). */
    private readonly cluster: ClusterApi | null = null,
  ) {}

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    await listenRootOnly(server, this.socketPath, `a daemon is already listening on ${this.socketPath}`);
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    this.captureService?.stopAll(); // capture streams end cleanly, or close() would wait for them
    await new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections?.();
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof TsnError) {
      send(res, err.status, { error: { code: err.code, message: err.message } });
      return;
    }
    const e = err as { code?: string; message?: string };
    // A syscall error from the addon (EPERM, EBUSY…) is the caller's to see, with its errno name.
    if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      send(res, 500, { error: { code: e.code, message: e.message ?? String(err) } });
      return;
    }
    this.daemon.log(`internal error: ${(err as Error)?.stack ?? String(err)}`);
    send(res, 500, { error: { code: 'ERR_INTERNAL', message: (err as Error)?.message ?? String(err) } });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tsnet-switch');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await readBody(req) : undefined;
    const d = this.daemon;
    if (parts[0] !== 'v1') throw new TsnError('ERR_NOT_FOUND', `no such API path ${url.pathname}: paths start with /v1/`);
    const [, resource, name, action] = parts;
    if (resource === 'ping' && method === 'GET') return send(res, 200, { ok: true });
    const clusterAnswer = await handleClusterRoute(this.cluster, d, method, parts, url.searchParams, body, parse);
    if (clusterAnswer) return send(res, clusterAnswer[0], clusterAnswer[1]);
    if (resource === 'networks') {
      if (!name && method === 'GET') return send(res, 200, d.listNetworks());
      if (!name && method === 'POST') return send(res, 201, d.createNetwork(parse(CreateNetworkBody, body)));
      if (name && !action && method === 'GET') return send(res, 200, d.inspectNetwork(name));
      if (name && !action && method === 'DELETE') {
        d.removeNetwork(name, url.searchParams.get('force') === '1');
        return send(res, 200, { removed: name });
      }
      if (name && action === 'connect' && method === 'POST') return send(res, 201, d.connect(name, parse(ConnectBody, body)));
      if (name && action === 'disconnect' && method === 'POST') return send(res, 200, d.disconnect(name, parse(DisconnectBody, body).endpoint));
      if (name && action === 'uplinks' && !parts[4] && method === 'POST') return send(res, 201, d.addUplink(name, parse(UplinkBody, body).interface));
      if (name && action === 'uplinks' && parts[4] && method === 'DELETE') return send(res, 200, d.removeUplink(name, parts[4]));
      if (name && action === 'trace' && method === 'POST') return send(res, 200, traceFrame(d, name, parse(TraceBody, body)));
    }
    if (resource === 'fdb' && method === 'GET') return send(res, 200, d.fdbShow(url.searchParams.get('network') ?? undefined));
    if (resource === 'fdb' && !name && method === 'POST') {
      const b = parse(FdbAddBody, body);
      return send(res, 201, d.fdbAdd(b.network, b));
    }
    if (resource === 'fdb' && !name && method === 'DELETE') {
      const network = url.searchParams.get('network');
      const mac = url.searchParams.get('mac');
      if (!network || !mac) throw new TsnError('ERR_BAD_REQUEST', 'DELETE /v1/fdb needs ?network=NAME&mac=MAC');
      return send(res, 200, d.fdbDel(network, mac));
    }
    if (resource === 'overlay' && name === 'key' && !action && method === 'GET') return send(res, 200, { PublicKey: d.overlay.encrypted.publicKey() }); // never the private key
    if (resource === 'overlay' && name === 'secrets' && !action && method === 'POST') {
      const { passive } = parse(SecretsBody, body ?? {});
      return send(res, 200, await d.overlay.encrypted.secrets(passive !== undefined ? passive * 1000 : SECRETS_WAIT_MS, passive === undefined)); // session keys, on request only
    }
    if (resource === 'stats' && method === 'GET') return send(res, 200, d.stats());
    if (resource === 'ui' && method === 'GET') return send(res, 200, d.ui ? { url: d.ui.url, token: d.ui.token, open: `${d.ui.url}#token=${d.ui.token}` } : { url: null });
    if (resource === 'doctor' && method === 'GET') return send(res, 200, { findings: daemonDoctorFindings(d) });
    if (resource === 'capture' && !name && method === 'POST') return void this.captures.start(parse(CaptureBody, body), req, res);
    if (resource === 'captures' && !name && method === 'GET') return send(res, 200, this.captures.list());
    if (resource === 'captures' && name && method === 'DELETE') return send(res, 200, this.captures.stop(name));
    const lbAnswer = handleLbRoute(d.lb, method, parts, url.searchParams, body, parse);
    if (lbAnswer) return send(res, lbAnswer[0], lbAnswer[1]);
    const attachAnswer = handleAttachmentRoute((this.runtimeAttachments ??= new RuntimeAttachments(d, this.cluster?.requests ?? localNetworkRequests(d))), method, parts, body, parse);
    if (attachAnswer) {
      const [status, answer] = await attachAnswer;
      return send(res, status, answer);
    }
    throw new TsnError('ERR_NOT_FOUND', `no such API endpoint: ${method} ${url.pathname}`);
  }
}
