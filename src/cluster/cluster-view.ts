/**
 * ClusterView: this daemon's mirror of the cluster store, built from one full read and then kept by
 * the watch's events (put / delete, in revision order). Pure data, no I/O: the agent reads it to
 * decide what the data plane should hold (src/cluster/cluster-agent.ts).
 *
 * Values that do not parse are kept out of the view and counted (`malformed`), never thrown: one bad
 * record written by hand must not stop a host from following the rest of the cluster.
 */
import type { KeyValue, WatchEvent } from './etcd-client.js';
import type { ClusterKeys } from './cluster-keys.js';

/** A host: its VTEP and underlay; on the host's lease, so it disappears when the host dies. */
export interface HostRecord {
  id: string;
  vtep: string;
  port: number;
  underlayMtu: number;
  /** When this daemon registered (ISO time). */
  started: string;
  /** The writer's wall clock when it wrote the record (ms since the epoch): cluster-clocks.ts. */
  clock?: number;
  /**
   * Extra per-host fields other features publish with the host (e.g. a WireGuard public key for
   * `-o encrypted`): see ClusterAgent.setHostField.
   */
  extra?: Record<string, string>;
}

/** An overlay network as every host must see it; host-specific parts (the local VTEP) stay local. */
export interface ClusterNetworkRecord {
  id: string;
  name: string;
  vni: number;
  port: number;
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  mtu: number;
  learning: boolean;
  created: string;
  /** The host it was created on. */
  createdBy: string;
  /** `-o encrypted=true`: VXLAN inside WireGuard between the hosts, on this UDP port. */
  encrypted?: { port: number };
  /** Made by `docker network create`: it goes when the last host's Docker network for it does. */
  viaDocker?: boolean;
}

/** A host's Docker network that is this cluster network there (`docker network create -o tsnet.name=`). */
export interface DockerUse {
  networkId: string;
}

/** An endpoint others must reach: MAC and IPv4 behind a host's VTEP (or a static VTEP for a non-cluster peer). */
export interface ClusterEndpointRecord {
  host: string | null;
  mac: string;
  ip: string | null;
  /** Only for static entries of a host outside the cluster (a kernel VXLAN peer): its VTEP. */
  vtep?: string;
}

/** An lb service on a cluster network: every host answers for the VIP and schedules over these servers, in this order. */
export interface ClusterServiceRecord {
  protocol: 'tcp' | 'udp';
  vip: string;
  port: number;
  scheduler: string;
  persistTimeout: number;
  servers: { ip: string; port: number; weight: number; method: 'nat' | 'dr' | 'tun' }[];
}

/** Who holds an address: the host, and the endpoint once it exists. */
export interface AddressClaim {
  host: string;
  endpoint: string | null;
}

interface Versioned<T> {
  value: T;
  modRevision: number;
  lease: string;
}

export class ClusterView {
  readonly hosts = new Map<string, Versioned<HostRecord>>();
  readonly networks = new Map<string, Versioned<ClusterNetworkRecord>>();
  readonly names = new Map<string, string>();
  readonly vnis = new Map<number, string>();
  /** net id -> ip -> claim */
  readonly addresses = new Map<string, Map<string, AddressClaim>>();
  /** net id -> endpoint id -> record */
  readonly endpoints = new Map<string, Map<string, Versioned<ClusterEndpointRecord>>>();
  /** net id -> tcp-VIP-PORT -> service */
  readonly services = new Map<string, Map<string, Versioned<ClusterServiceRecord>>>();
  /** net id -> host id -> its Docker network */
  readonly docker = new Map<string, Map<string, DockerUse>>();
  revision = 0;
  malformed = 0;

  constructor(private readonly keys: ClusterKeys) {}

  /** Replace everything with a full read of the root prefix at `revision`. */
  reset(kvs: readonly KeyValue[], revision: number): void {
    this.hosts.clear();
    this.networks.clear();
    this.names.clear();
    this.vnis.clear();
    this.addresses.clear();
    this.endpoints.clear();
    this.services.clear();
    this.docker.clear();
    for (const kv of kvs) this.put(kv);
    this.revision = revision;
  }

  apply(events: readonly WatchEvent[], revision: number): void {
    for (const e of events) {
      if (e.type === 'PUT') this.put(e.kv);
      else this.delete(e.kv.key);
    }
    if (revision > this.revision) this.revision = revision;
  }

  private parseJson<T>(kv: KeyValue, ok: (v: any) => boolean): T | null {
    try {
      const v = JSON.parse(kv.value);
      if (ok(v)) return v as T;
    } catch {
      // counted below
    }
    this.malformed++;
    return null;
  }

  private put(kv: KeyValue): void {
    const k = this.keys.parse(kv.key);
    if (!k) return;
    const ver = <T>(value: T): Versioned<T> => ({ value, modRevision: kv.modRevision, lease: kv.lease });
    switch (k.kind) {
      case 'hosts': {
        const h = this.parseJson<HostRecord>(kv, (v) => typeof v?.vtep === 'string' && Number.isInteger(v?.port));
        if (h) this.hosts.set(k.a, ver({ ...h, id: k.a }));
        break;
      }
      case 'networks': {
        const n = this.parseJson<ClusterNetworkRecord>(kv, (v) => typeof v?.name === 'string' && Number.isInteger(v?.vni) && typeof v?.subnet === 'string');
        if (n) this.networks.set(k.a, ver({ ...n, id: k.a }));
        break;
      }
      case 'names':
        this.names.set(k.a, kv.value);
        break;
      case 'vnis':
        this.vnis.set(Number(k.a), kv.value);
        break;
      case 'ipam': {
        const c = this.parseJson<AddressClaim>(kv, (v) => typeof v?.host === 'string');
        if (c) mapOf(this.addresses, k.a).set(k.b!, c);
        break;
      }
      case 'endpoints': {
        const e = this.parseJson<ClusterEndpointRecord>(kv, (v) => typeof v?.mac === 'string' && (typeof v?.host === 'string' || typeof v?.vtep === 'string'));
        if (e) mapOf(this.endpoints, k.a).set(k.b!, ver(e));
        break;
      }
      case 'services': {
        const v = this.parseJson<ClusterServiceRecord>(kv, (x) => (x?.protocol === 'tcp' || x?.protocol === 'udp') && typeof x?.vip === 'string' && Array.isArray(x?.servers));
        if (v) mapOf(this.services, k.a).set(k.b!, ver(v));
        break;
      }
      case 'docker': {
        const d = this.parseJson<DockerUse>(kv, (v) => typeof v?.networkId === 'string');
        if (d) mapOf(this.docker, k.a).set(k.b!, d);
        break;
      }
    }
  }

  private delete(key: string): void {
    const k = this.keys.parse(key);
    if (!k) return;
    switch (k.kind) {
      case 'hosts':
        this.hosts.delete(k.a);
        break;
      case 'networks':
        this.networks.delete(k.a);
        break;
      case 'names':
        this.names.delete(k.a);
        break;
      case 'vnis':
        this.vnis.delete(Number(k.a));
        break;
      case 'ipam':
        this.addresses.get(k.a)?.delete(k.b!);
        break;
      case 'endpoints':
        this.endpoints.get(k.a)?.delete(k.b!);
        break;
      case 'services':
        this.services.get(k.a)?.delete(k.b!);
        break;
      case 'docker':
        this.docker.get(k.a)?.delete(k.b!);
        break;
    }
  }

  /** The VTEP address an endpoint is reached at: its host's, or its own static one; null if its host is gone. */
  vtepOf(ep: ClusterEndpointRecord): string | null {
    if (ep.vtep) return ep.vtep;
    if (ep.host === null) return null;
    return this.hosts.get(ep.host)?.value.vtep ?? null;
  }

  /** Endpoints of a network by host id (static ones under their VTEP as `static:VTEP`). */
  endpointsByHost(netId: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.endpoints.get(netId)?.values() ?? []) {
      const h = e.value.host ?? `static:${e.value.vtep}`;
      m.set(h, (m.get(h) ?? 0) + 1);
    }
    return m;
  }
}

function mapOf<K, V>(m: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let x = m.get(key);
  if (!x) m.set(key, (x = new Map()));
  return x;
}
