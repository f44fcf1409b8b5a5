/**
 * The Docker plugin socket: HTTP POST + JSON on a Unix socket that dockerd finds by name in
 * /run/docker/plugins (tsnet.sock: the driver and the IPAM driver are both called `tsnet`). It
 * answers /Plugin.Activate with both roles and routes /NetworkDriver.* and /IpamDriver.* to
 * network-driver-plugin.ts and ipam-driver-plugin.ts. As the protocol asks: an unknown method is
 * 404 (libnetwork then treats it as not implemented), a body that does not parse is 400, and an
 * operation that fails is `{"Err": message}` with the error's 4xx/5xx status (Docker shows the message
 * to the user; its IPAM proxy ignores an Err that comes with 200).
 */
import { existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Daemon } from '../control/daemon.js';
import { TsnError } from '../errors.js';
import { listenRootOnly } from '../control/unix-socket-listener.js';
import { DockerContainerNames } from './container-names.js';
import { DockerPools } from './docker-pools.js';
import { IpamDriverPlugin } from './ipam-driver-plugin.js';
import { NetworkDriverPlugin } from './network-driver-plugin.js';
import { readJsonBody } from '../control/http-json-body.js';
import { localNetworkRequests, type NetworkRequests } from '../control/network-requests.js';

export const DEFAULT_DOCKER_PLUGIN_SOCKET = '/run/docker/plugins/tsnet.sock';
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
const MAX_BODY = 1 << 20;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** libnetwork posts an object, sometimes an empty body or `null`: both are `{}`. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const v = (await readJsonBody(req, MAX_BODY)) ?? {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new TsnError('ERR_BAD_JSON', 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

export class DockerPluginServer {
  private server: Server | null = null;
  private readonly network: NetworkDriverPlugin;
  private readonly ipam: IpamDriverPlugin;
  constructor(
    private readonly daemon: Daemon,
    readonly socketPath: string,
    /** With a cluster store: its endpoints (etcd://…) and the requests that go through it. */
    cluster: { store: string; requests: NetworkRequests } | null = null,
    /** dockerd's API socket, for container names (container-names.ts); null: off. */
    dockerApi: string | null = null,
    /** Log every call with its body (TSNET_DOCKER_DEBUG=1). */
    private readonly verbose = process.env.TSNET_DOCKER_DEBUG === '1',
  ) {
    const pools = new DockerPools();
    const names = dockerApi ? new DockerContainerNames(dockerApi, (m) => daemon.log(m)) : null;
    const requests = cluster?.requests ?? localNetworkRequests(daemon);
    this.network = new NetworkDriverPlugin(daemon, pools, requests, cluster?.store ?? null, names);
    this.ipam = new IpamDriverPlugin(daemon, pools, requests);
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o755 });
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    await listenRootOnly(server, this.socketPath, `something answers on the Docker plugin socket ${this.socketPath} already (another tsnet-switch daemon?): stop it, or give --docker-plugin PATH|off`);
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const e = err as { status?: number; message?: string };
    if (err instanceof TsnError && (err.code === 'ERR_BAD_JSON' || err.code === 'ERR_BODY_TOO_LARGE')) return send(res, err.status, { Err: err.message });
    if (!(err instanceof TsnError) && !(typeof (err as { code?: unknown }).code === 'string')) this.daemon.log(`docker plugin: internal error: ${(err as Error)?.stack ?? String(err)}`);
    this.daemon.log(`docker: refused: ${e?.message ?? String(err)}`);
    // Not 200: libnetwork's IPAM proxy reads an `Err` only from an error status (its driver proxy from both).
    send(res, typeof e?.status === 'number' && e.status >= 400 ? e.status : 500, { Err: e?.message ?? String(err) });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://tsnet').pathname;
    const body = await readJson(req);
    if (req.method !== 'POST') return send(res, 404, { Err: `${req.method} ${path}: the plugin protocol is POST only` });
    if (path === '/Plugin.Activate') return send(res, 200, { Implements: ['NetworkDriver', 'IpamDriver'] });
    const m = /^\/(NetworkDriver|IpamDriver)\.([A-Za-z]+)$/.exec(path);
    if (m && this.verbose) this.daemon.log(`docker: ${m[1]}.${m[2]} ${JSON.stringify(body)}`);
    const answer = m ? await (m[1] === 'NetworkDriver' ? this.network.handle(m[2], body) : this.ipam.handle(m[2], body)) : undefined;
    if (answer === undefined) return send(res, 404, { Err: `${path}: not implemented by tsnet` });
    send(res, 200, answer);
  }
}
