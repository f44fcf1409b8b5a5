/**
 * NetworkRequests: the requests that make and remove networks and endpoints, as the API's clients see
 * them. Without a cluster store they are the daemon's own; with one, ClusterRequests
 * (src/cluster/cluster-requests.ts) answers them, claiming addresses and publishing endpoints of cluster
 * networks in the store before the local change, and passing every other network to the daemon.
 *
 * The runtime integrations (CNI, netavark, the Docker plugin) go through this, never through the
 * daemon directly, so an attachment on a cluster network is claimed and published exactly like a
 * `connect`.
 */
import type { ConnectRequest, CreateNetworkRequest, Daemon } from './daemon.js';
import type { EndpointRecord, NetworkRecord } from './model.js';

export interface NetworkRequests {
  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord>;
  removeNetwork(ref: string, force: boolean): Promise<void>;
  connect(ref: string, req: ConnectRequest): Promise<EndpointRecord>;
  disconnect(ref: string, endpointRef: string): Promise<EndpointRecord>;
  /**
   * An address held for an endpoint that is made later (an IPAM driver's RequestAddress): `ip`, or the
   * next free one; family 6 on a dual-stack network's IPv6 IPAM. connect() with that ip (ip6) and
   * `addressReserved` takes it.
   */
  reserveAddress(ref: string, ip?: string, family?: 4 | 6): Promise<{ ip: string; prefixLen: number }>;
  /** Give back a reserved address (IPv4 or IPv6) that no endpoint took (an endpoint's own goes with disconnect). */
  releaseAddress(ref: string, ip: string): Promise<void>;
  /**
   * Docker removed its network for `ref` (NetworkDriver.DeleteNetwork). Locally that removes the
   * network; a cluster network is only left by this host's Docker, and goes once no Docker network
   * and no endpoint anywhere uses it (cluster-requests.ts).
   */
  removeDockerNetwork(ref: string): Promise<void>;
}

/** The daemon's own requests, for a daemon without a cluster store. */
export function localNetworkRequests(daemon: Daemon): NetworkRequests {
  return {
    createNetwork: async (req) => daemon.createNetwork(req),
    removeNetwork: async (ref, force) => daemon.removeNetwork(ref, force),
    connect: async (ref, req) => daemon.connect(ref, req),
    disconnect: async (ref, endpointRef) => daemon.disconnect(ref, endpointRef),
    reserveAddress: async (ref, ip, family) => daemon.reserveAddress(ref, ip, family),
    releaseAddress: async (ref, ip) => void daemon.releaseAddress(ref, ip),
    removeDockerNetwork: async (ref) => daemon.removeNetwork(ref, true),
  };
}
