/**
 * Container names for Docker endpoints. libnetwork tells a remote driver only ids (CreateEndpoint and
 * Join carry the network and endpoint ids and the sandbox key, never the container), so the names
 * `stats`, `fdb show`, `capture` and `trace` print come from dockerd's own API, as `docker ps` gets
 * them: `GET /containers/json?all=1` lists each container's networks with their EndpointID.
 *
 * Asked after Join, off the request's path (dockerd is waiting for our answer, and the container is
 * listed with its endpoint only once Join returned), a few times with a growing delay; when nothing
 * answers, the endpoint keeps its `docker:ENDPOINT` label. Read-only: GETs, nothing else.
 * `daemon --docker-api unix://PATH|off` (default unix:///var/run/docker.sock when it exists).
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { TsnError } from '../errors.js';

export const DEFAULT_DOCKER_API = 'unix:///var/run/docker.sock';
/** Delays of the tries after Join, in ms (about 6 s in all). */
const TRIES_MS = [100, 250, 500, 1000, 1500, 2500];

/** The socket path of `unix://PATH`; other schemes are refused naming the value. */
export function parseDockerApi(text: string): string | null {
  if (text === 'off') return null;
  const m = /^unix:\/\/(\/.+)$/.exec(text);
  if (!m) throw new TsnError('ERR_BAD_OPTION', `--docker-api ${JSON.stringify(text)}: expected unix:///PATH (dockerd's socket) or off`);
  return m[1];
}

/** The default: dockerd's usual socket if there is one, else off. */
export function defaultDockerApi(): string | null {
  const path = parseDockerApi(DEFAULT_DOCKER_API);
  return path && existsSync(path) ? path : null;
}

interface ContainerSummary {
  Names?: string[];
  NetworkSettings?: { Networks?: Record<string, { EndpointID?: string }> };
}

export class DockerContainerNames {
  constructor(
    private readonly socketPath: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** The name of the container that holds endpoint `endpointId`, or null (none, or dockerd did not answer). */
  async lookup(endpointId: string): Promise<string | null> {
    const list = await this.get('/containers/json?all=1').catch(() => null);
    if (!Array.isArray(list)) return null;
    for (const c of list as ContainerSummary[]) {
      const nets = Object.values(c.NetworkSettings?.Networks ?? {});
      if (nets.some((n) => n.EndpointID === endpointId)) return c.Names?.[0]?.replace(/^\//, '') ?? null;
    }
    return null;
  }

  /** Look the endpoint's container up after Join, retrying; `found` gets the name once. */
  follow(endpointId: string, found: (name: string) => void): void {
    const attempt = (i: number) => {
      if (i >= TRIES_MS.length) return this.log(`docker: no container found for endpoint ${endpointId.slice(0, 12)} through ${this.socketPath}: it keeps its id as its name`);
      const t = setTimeout(() => {
        void this.lookup(endpointId).then((name) => (name ? found(name) : attempt(i + 1)));
      }, TRIES_MS[i]);
      t.unref();
    };
    attempt(0);
  }

  private get(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method: 'GET', headers: { host: 'docker' }, timeout: 3000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`dockerd answered ${res.statusCode}`));
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('dockerd did not answer in 3 s')));
      req.on('error', reject);
      req.end();
    });
  }
}
