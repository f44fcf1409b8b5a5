/**
 * What the cluster looks like from this host: `cluster ls` (hosts, VTEPs, lease age, endpoints per
 * host, hosts gone but still holding addresses), the `Cluster` section of `network inspect`, and the
 * marks `fdb show` puts on entries installed from the store (type `store`, with the host).
 */
import type { ClusterAgent } from './cluster-agent.js';

export interface ClusterHostRow {
  id: string;
  vtep: string;
  port: number;
  underlayMtu: number;
  started: string;
  self: boolean;
  /** Seconds since the lease was last renewed, and what is left of it (null: unknown, e.g. store away). */
  leaseAgeSeconds: number | null;
  leaseTtlSeconds: number | null;
  endpoints: number;
  /** Its clock minus this host's, in ms, from its latest record write (null: not measured yet, or self). */
  clockOffsetMs: number | null;
  extra?: Record<string, string>;
}

export async function clusterList(agent: ClusterAgent) {
  const v = agent.view;
  const perHost = new Map<string, number>();
  for (const net of v.endpoints.values()) for (const e of net.values()) if (e.value.host) perHost.set(e.value.host, (perHost.get(e.value.host) ?? 0) + 1);
  const hosts: ClusterHostRow[] = [];
  for (const [id, h] of v.hosts) {
    let age: number | null = null;
    let ttl: number | null = null;
    if (agent.link === 'up' && h.lease !== '0') {
      const r = await agent.client.call('/v3/lease/timetolive', { ID: h.lease }).catch(() => null);
      if (r && Number(r.TTL) >= 0) {
        ttl = Number(r.TTL);
        age = Math.max(0, Number(r.grantedTTL) - ttl);
      }
    }
    hosts.push({ id, vtep: h.value.vtep, port: h.value.port, underlayMtu: h.value.underlayMtu, started: h.value.started, self: id === agent.hostId, leaseAgeSeconds: age, leaseTtlSeconds: ttl, endpoints: perHost.get(id) ?? 0, clockOffsetMs: agent.clocks.offsetOf(id)?.offsetMs ?? null, ...(h.value.extra ? { extra: h.value.extra } : {}) });
  }
  hosts.sort((a, b) => a.id.localeCompare(b.id));
  // Hosts whose lease is gone but whose address claims remain: `cluster gc HOST` releases them.
  const departed = new Map<string, number>();
  for (const m of v.addresses.values()) for (const c of m.values()) if (!v.hosts.has(c.host) && !c.host.startsWith('static:') && c.host !== 'service') departed.set(c.host, (departed.get(c.host) ?? 0) + 1);
  return {
    store: agent.client.description,
    link: agent.link,
    ...(agent.lastError ? { lastError: agent.lastError } : {}),
    host: agent.hostId,
    revision: v.revision,
    ttlSeconds: agent.ttlSeconds,
    hosts,
    departed: [...departed].map(([id, addresses]) => ({ id, addresses })).sort((a, b) => a.id.localeCompare(b.id)),
    networks: [...v.networks.values()].map((n) => ({ id: n.value.id, name: n.value.name, vni: n.value.vni, subnet: n.value.subnet, endpoints: v.endpoints.get(n.value.id)?.size ?? 0 })),
    counters: { ...agent.counters, malformedRecords: v.malformed },
  };
}

/** `network inspect`'s Cluster section for a cluster network, or null for others. */
export function clusterInspect(agent: ClusterAgent, netId: string): Record<string, unknown> | null {
  if (!agent.clusterNetworks.has(netId)) return null;
  const rt = agent.daemon.networkRuntimes().find((n) => n.record.id === netId);
  const v = agent.view;
  const remote = [...(v.endpoints.get(netId)?.entries() ?? [])]
    .filter(([, e]) => e.value.host !== agent.hostId)
    .map(([id, e]) => ({ Endpoint: id, Host: e.value.host ?? null, VTEP: v.vtepOf(e.value), MacAddress: e.value.mac, IPv4Address: e.value.ip ?? '', Installed: agent.storeEntry(netId, e.value.mac) !== undefined }));
  const byHost = v.endpointsByHost(netId);
  return {
    Store: agent.client.description,
    StoreLink: agent.link,
    Host: agent.hostId,
    // Docker's overlay lists its peers as {Name, IP}: here the hosts with endpoints on the network.
    Peers: [...byHost].map(([h, n]) => ({ Name: h, IP: h.startsWith('static:') ? h.slice(7) : (v.hosts.get(h)?.value.vtep ?? null), Endpoints: n, Alive: h.startsWith('static:') || v.hosts.has(h) })),
    FloodPeers: rt ? agent.daemon.overlay.peersOf(rt) : [],
    RemoteEndpoints: remote,
    AddressesClaimed: v.addresses.get(netId)?.size ?? 0,
  };
}

/** Mark `fdb show` rows installed from the store: type `store`, and the host the MAC lives on. */
export function markStoreEntries<T extends { network: string; mac: string; type: string }>(agent: ClusterAgent, rows: T[]): (T & { host?: string | null })[] {
  const ids = new Map(agent.daemon.networkRuntimes().map((n) => [n.record.name, n.record.id]));
  return rows.map((r) => {
    const id = ids.get(r.network);
    const e = id ? agent.storeEntry(id, r.mac) : undefined;
    return e ? { ...r, type: 'store', host: e.host ?? `static:${e.vtep}` } : r;
  });
}
