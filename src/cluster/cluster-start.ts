/**
 * createCluster: the daemon's cluster store pieces from its flags: an etcd client, the agent that
 * follows the store, the requests that write to it, and the cluster-wide lb services (what the API
 * server routes through).
 */
import type { Daemon } from '../control/daemon.js';
import { DEFAULT_VXLAN_PORT } from '../control/overlay-options.js';
import { ClusterAgent } from './cluster-agent.js';
import { ClusterKeys } from './cluster-keys.js';
import { parseClusterFlags, type ClusterFlags } from './cluster-options.js';
import { ClusterRequests } from './cluster-requests.js';
import { ClusterServices } from './cluster-services.js';
import { ClusterWireguardPeers } from './cluster-wireguard-peers.js';
import type { ClusterApi } from './cluster-routes.js';
import { EtcdClient } from './etcd-client.js';

export function createCluster(daemon: Daemon, flags: ClusterFlags, stateDir: string, hostNetns: string | null = null): ClusterApi {
  const cfg = parseClusterFlags(flags, stateDir, hostNetns);
  const agent = new ClusterAgent({
    daemon,
    client: new EtcdClient(cfg.client),
    keys: new ClusterKeys(cfg.prefix),
    hostId: cfg.hostId,
    vtep: cfg.vtep,
    port: DEFAULT_VXLAN_PORT,
    ttlSeconds: cfg.ttlSeconds,
    stateDir,
    log: (m) => daemon.log(m),
  });
  // Encrypted cluster overlays take their peers' keys from the store (before any network is re-adopted).
  daemon.overlay.encrypted.setPeerSource(new ClusterWireguardPeers(agent));
  return { agent, requests: new ClusterRequests(agent), services: new ClusterServices(agent) };
}
