/**
 * The API routes a cluster-store daemon answers differently: requests on overlay networks go through
 * the store (cluster-requests.ts), reads get the cluster's view (cluster-status.ts), and two routes
 * are its own:
 *
 *   GET  /v1/cluster          cluster ls
 *   POST /v1/cluster/gc       cluster gc HOST   {host}
 *   GET  /v1/doctor           the daemon's checks and the cluster's (cluster-doctor.ts)
 *
 * and lb requests on services of cluster networks go through the store (cluster-services.ts).
 *
 * Returns null for every other route (the daemon's own handling applies).
 */
import { z } from 'zod';
import type { Daemon } from '../control/daemon.js';
import { ConnectBody, CreateNetworkBody, DisconnectBody, FdbAddBody } from '../control/api-schema.js';
import { TsnError } from '../errors.js';
import type { ClusterAgent } from './cluster-agent.js';
import type { ClusterRequests } from './cluster-requests.js';
import type { ClusterServices } from './cluster-services.js';
import { LbAddServiceBody, LbDelServerBody, LbEditServiceBody, LbServerBody, LbServiceRefBody } from '../control/lb-api.js';
import { clusterInspect, clusterList, markStoreEntries } from './cluster-status.js';
import { clusterDoctorFindings } from './cluster-doctor.js';
import { daemonDoctorFindings } from '../control/doctor-checks.js';

export const ClusterGcBody = z.strictObject({ host: z.string().min(1).max(128) });

export interface ClusterApi {
  agent: ClusterAgent;
  requests: ClusterRequests;
  services: ClusterServices;
}

type Parse = <T>(schema: z.ZodType<T>, body: unknown) => T;

export async function handleClusterRoute(
  cluster: ClusterApi | null,
  daemon: Daemon,
  method: string,
  parts: string[],
  query: URLSearchParams,
  body: unknown,
  parse: Parse,
): Promise<[number, unknown] | null> {
  const [, resource, name, action] = parts;
  if (resource === 'doctor' && method === 'GET' && cluster) return [200, { findings: [...daemonDoctorFindings(daemon), ...clusterDoctorFindings(cluster.agent)] }];
  if (resource === 'cluster') {
    if (!cluster) throw new TsnError('ERR_NO_CLUSTER_STORE', 'this daemon runs without a cluster store: start it with --cluster-store etcd://HOST:PORT');
    if (!name && method === 'GET') return [200, await clusterList(cluster.agent)];
    if (name === 'gc' && method === 'POST') return [200, await cluster.requests.gc(parse(ClusterGcBody, body).host)];
    return null;
  }
  if (!cluster) return null;
  const r = cluster.requests;
  if (resource === 'networks') {
    if (!name && method === 'POST') return [201, await r.createNetwork(parse(CreateNetworkBody, body))];
    if (name && !action && method === 'DELETE') {
      await r.removeNetwork(name, query.get('force') === '1');
      return [200, { removed: name }];
    }
    if (name && !action && method === 'GET') {
      const out = daemon.inspectNetwork(name) as Record<string, unknown>;
      const section = clusterInspect(cluster.agent, String(out.Id));
      return [200, section ? { ...out, Cluster: section } : out];
    }
    if (name && action === 'connect' && method === 'POST') return [201, await r.connect(name, parse(ConnectBody, body))];
    if (name && action === 'disconnect' && method === 'POST') return [200, await r.disconnect(name, parse(DisconnectBody, body).endpoint)];
  }
  if (resource === 'lb' && method === 'POST') {
    const sv = cluster.services;
    let answer: unknown | null = null;
    if (name === 'services' && !action) answer = await sv.addService(parse(LbAddServiceBody, body));
    else if (name === 'services' && action === 'delete') answer = await sv.delService(parse(LbServiceRefBody, body));
    else if (name === 'services' && action === 'edit') sv.refuseEdit(parse(LbEditServiceBody, body));
    else if (name === 'servers' && !action) answer = await sv.addServer(parse(LbServerBody, body));
    else if (name === 'servers' && action === 'edit') sv.refuseEdit(parse(LbServerBody, body));
    else if (name === 'servers' && action === 'delete') answer = await sv.delServer(parse(LbDelServerBody, body));
    if (answer !== null) return [name === 'services' && !action ? 201 : name === 'servers' && !action ? 201 : 200, answer];
  }
  if (resource === 'fdb' && !name) {
    if (method === 'GET') return [200, markStoreEntries(cluster.agent, daemon.fdbShow(query.get('network') ?? undefined))];
    if (method === 'POST') {
      const b = parse(FdbAddBody, body);
      return [201, await r.fdbAdd(b.network, b)];
    }
    if (method === 'DELETE') {
      const network = query.get('network');
      const mac = query.get('mac');
      if (!network || !mac) throw new TsnError('ERR_BAD_REQUEST', 'DELETE /v1/fdb needs ?network=NAME&mac=MAC');
      return [200, await r.fdbDel(network, mac)];
    }
  }
  return null;
}
