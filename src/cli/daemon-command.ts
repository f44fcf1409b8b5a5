/**
 * `tsnet-switch daemon`: the one long-running process. It owns the data plane (a SwitchEngine on this
 * event loop) and the state, and serves the API socket. SIGINT/SIGTERM stop it cleanly: the socket
 * goes, the devices stay (persistent) for the next start to adopt.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SwitchEngine } from '../dataplane/switch-engine.js';
import { readinessHub } from '../dataplane/readiness-hub.js';
import { ApiServer } from '../control/api-server.js';
import { Daemon } from '../control/daemon.js';
import { StateLock } from '../control/state-lock.js';
import { TsnError } from '../errors.js';
import { createCluster } from '../cluster/cluster-start.js';
import type { ClusterFlags } from '../cluster/cluster-options.js';
import { SandboxWatcher } from '../control/sandbox-watcher.js';
import { DEFAULT_DOCKER_PLUGIN_SOCKET, DockerPluginServer } from '../docker/plugin-server.js';
import { defaultDockerApi, parseDockerApi } from '../docker/container-names.js';
import { UiServer } from '../ui/ui-server.js';
import { MetricsServer } from '../metrics/metrics-server.js';
import { formatTcpListenAddress, type TcpListenAddress } from '../control/tcp-listen-address.js';

export interface DaemonCommandOptions {
  stateDir: string;
  socket: string;
  defaultAddressPool: string[];
  /** Connections the load balancer tracks at most (`--lb-max-connections`). */
  lbMaxConnections?: number;
  /** `--busy-poll µs`: how long the readiness check keeps polling after a burst (0/undefined: off). */
  busyPoll?: number;
  cluster?: ClusterFlags;
  /** The Docker plugin socket (`--docker-plugin PATH|off`), null: off. */
  dockerPlugin?: string | null;
  /** `--docker-api unix://PATH|off` as given; undefined: dockerd's usual socket if it exists. */
  dockerApi?: string;
  /** `--metrics-listen HOST:PORT`: Prometheus's /metrics (src/metrics/), off when absent. */
  metricsListen?: TcpListenAddress;
  uiListen?: TcpListenAddress;
}

/** `base=CIDR,size=N`, as dockerd's --default-address-pool. */
export function parsePool(text: string): { base: string; size: number } {
  const m = /^base=([^,]+),size=(\d+)$/.exec(text);
  if (!m) throw new TsnError('ERR_BAD_OPTION', `--default-address-pool ${JSON.stringify(text)}: expected base=CIDR,size=N (e.g. base=10.123.0.0/16,size=24)`);
  return { base: m[1], size: Number(m[2]) };
}

export async function runDaemon(opts: DaemonCommandOptions): Promise<void> {
  const engine = new SwitchEngine({ lb: { connCapacity: opts.lbMaxConnections } });
  if (opts.busyPoll) readinessHub.setBusyPoll(opts.busyPoll);
  const daemon = new Daemon({
    engine,
    stateDir: opts.stateDir,
    defaultPools: opts.defaultAddressPool.length ? opts.defaultAddressPool.map(parsePool) : undefined,
  });
  // Nothing is adopted or written until this daemon is known to be the only one on this state and
  // socket: a second daemon must not take devices from (and rewrite the state of) a running one.
  const dockerApi = opts.dockerApi === undefined ? defaultDockerApi() : parseDockerApi(opts.dockerApi); // refused before anything is taken
  const lock = StateLock.acquire(opts.stateDir);
  mkdirSync(dirname(opts.socket), { recursive: true, mode: 0o755 });
  // The cluster agent is made before the socket opens (requests on overlay networks go through it
  // from the first one; until it has read the store they fail with ERR_STORE_UNAVAILABLE).
  const cluster = opts.cluster ? createCluster(daemon, opts.cluster, opts.stateDir) : null;
  const api = new ApiServer(daemon, opts.socket, cluster);
  const dockerSocket = opts.dockerPlugin === undefined ? DEFAULT_DOCKER_PLUGIN_SOCKET : opts.dockerPlugin;
  const docker = dockerSocket ? new DockerPluginServer(daemon, dockerSocket, cluster && opts.cluster ? { store: opts.cluster.clusterStore, requests: cluster.requests } : null, dockerApi) : null;
  const metrics = opts.metricsListen ? new MetricsServer(daemon, opts.metricsListen) : null;
  const ui = opts.uiListen ? new UiServer(daemon, opts.uiListen) : null;
  let adopted;
  try {
    await api.listen();
    adopted = daemon.start(); // synchronous: no request is served before it returns
    await cluster?.agent.start();
    await docker?.listen();
    await metrics?.listen();
    const uiAt = await ui?.listen();
    if (uiAt && ui) daemon.ui = { url: `http://${formatTcpListenAddress(uiAt)}/`, token: ui.token };
  } catch (err) {
    await ui?.close().catch(() => undefined);
    await metrics?.close().catch(() => undefined);
    await docker?.close().catch(() => undefined);
    await api.close().catch(() => undefined);
    await cluster?.agent.stop().catch(() => undefined);
    daemon.stop();
    lock.release();
    throw err;
  }
  // Aging and other periodic work also run when no frame arrives.
  const timer = setInterval(() => engine.periodic(), 1000);
  // Endpoints whose sandbox went away are released within a tick (src/control/sandbox-watcher.ts).
  const watcher = new SandboxWatcher(daemon);
  watcher.start();
  daemon.log(`listening on ${opts.socket}; state in ${opts.stateDir}; ${adopted.networks} network(s), ${adopted.endpoints} endpoint(s) adopted${docker ? `; Docker plugin on ${docker.socketPath}` : ''}${metrics?.address ? `; metrics on http://${formatTcpListenAddress(metrics.address)}/metrics` : ''}${daemon.ui ? `; page on ${daemon.ui.url} (actions: tsnet-switch ui prints the token)` : ''}${adopted.dropped ? `, ${adopted.dropped} released` : ''}${adopted.kept ? `, ${adopted.kept} kept unattached` : ''}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    daemon.log(`${signal}: shutting down`);
    clearInterval(timer);
    watcher.stop();
    Promise.all([api.close(), docker?.close(), metrics?.close(), ui?.close()])
      .catch(() => undefined)
      .then(() => cluster?.agent.stop())
      .catch(() => undefined)
      .finally(() => {
        daemon.stop();
        lock.release();
        process.exit(0);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
