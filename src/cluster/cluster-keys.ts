/**
 * The cluster store's key layout (docs/overlay-etcd.md), one prefix per kind, JSON values:
 *
 *   P/v1/hosts/<host-id>                       HostRecord                lease: the host's
 *   P/v1/networks/<net-id>                     ClusterNetworkRecord
 *   P/v1/names/<name>                          "<net-id>"                names unique cluster-wide
 *   P/v1/vnis/<vni>                            "<net-id>"                VNIs unique cluster-wide
 *   P/v1/ipam/<net-id>/<ipv4>                  AddressClaim              no lease: survives its host
 *   P/v1/endpoints/<net-id>/<endpoint-id>      ClusterEndpointRecord     lease: its host's (none if static)
 *   P/v1/services/<net-id>/<tcp|udp>-<vip>-<port>  ClusterServiceRecord  an lb service, cluster-wide
 *   P/v1/docker/<net-id>/<host-id>             DockerUse                 the host's Docker network for it
 *
 * P is --cluster-prefix (default /tsnet). Every id, name and address in a key is ASCII without '/'.
 */
export type KeyKind = 'hosts' | 'networks' | 'names' | 'vnis' | 'ipam' | 'endpoints' | 'services' | 'docker';

export interface ParsedKey {
  kind: KeyKind;
  /** hosts: host id; networks: net id; names: name; vnis: vni; ipam/endpoints/services: net id. */
  a: string;
  /** ipam: the address; endpoints: the endpoint id; services: tcp-VIP-PORT; docker: the host id. */
  b?: string;
}

const KINDS: readonly KeyKind[] = ['hosts', 'networks', 'names', 'vnis', 'ipam', 'endpoints', 'services', 'docker'];

export class ClusterKeys {
  /** Everything of this cluster: `P/v1/`. */
  readonly root: string;

  constructor(prefix: string) {
    if (!/^\/[\x21-\x7e]*$/.test(prefix) || prefix.endsWith('/') && prefix !== '/') {
      throw new RangeError(`--cluster-prefix ${JSON.stringify(prefix)}: expected an absolute key prefix of printable ASCII without a trailing '/', e.g. /tsnet`);
    }
    this.root = `${prefix === '/' ? '' : prefix}/v1/`;
  }

  host(id: string): string {
    return `${this.root}hosts/${id}`;
  }
  get hosts(): string {
    return `${this.root}hosts/`;
  }
  network(id: string): string {
    return `${this.root}networks/${id}`;
  }
  name(name: string): string {
    return `${this.root}names/${name}`;
  }
  vni(vni: number): string {
    return `${this.root}vnis/${vni}`;
  }
  get vnis(): string {
    return `${this.root}vnis/`;
  }
  address(netId: string, ip: string): string {
    return `${this.root}ipam/${netId}/${ip}`;
  }
  addresses(netId: string): string {
    return `${this.root}ipam/${netId}/`;
  }
  endpoint(netId: string, epId: string): string {
    return `${this.root}endpoints/${netId}/${epId}`;
  }
  endpoints(netId: string): string {
    return `${this.root}endpoints/${netId}/`;
  }
  service(netId: string, protocol: string, vip: string, port: number): string {
    return `${this.root}services/${netId}/${protocol}-${vip}-${port}`;
  }
  services(netId: string): string {
    return `${this.root}services/${netId}/`;
  }
  /** A host's Docker network for a cluster network (no lease: Docker keeps its networks across restarts). */
  docker(netId: string, hostId: string): string {
    return `${this.root}docker/${netId}/${hostId}`;
  }
  dockers(netId: string): string {
    return `${this.root}docker/${netId}/`;
  }

  /** What a key under the root is, or null for keys this version does not know (left alone). */
  parse(key: string): ParsedKey | null {
    if (!key.startsWith(this.root)) return null;
    const parts = key.slice(this.root.length).split('/');
    const kind = parts[0] as KeyKind;
    if (!KINDS.includes(kind)) return null;
    if (kind === 'ipam' || kind === 'endpoints' || kind === 'services' || kind === 'docker') return parts.length === 3 && parts[1] && parts[2] ? { kind, a: parts[1], b: parts[2] } : null;
    return parts.length === 2 && parts[1] ? { kind, a: parts[1] } : null;
  }
}
