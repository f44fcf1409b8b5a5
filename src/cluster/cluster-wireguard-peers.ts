/**
 * The peers of an encrypted cluster overlay (`-o encrypted=true` on a --cluster-store daemon): every
 * other live host that published a WireGuard public key with its record (`extra.wgPublicKey`, put by
 * ClusterAgent at registration), at its VTEP and the network's WireGuard port. A host that leaves
 * the store leaves the peer set at the next reconcile; a network that is not a cluster network keeps
 * its `-o encrypted.peers`.
 */
import { OptionPeerSource, type WireguardPeerSource } from '../control/drivers/encrypted-vteps.js';
import type { NetworkRecord } from '../control/model.js';
import type { WireguardPeerSpec } from '../dataplane/wireguard/wireguard-underlay.js';
import type { ClusterAgent } from './cluster-agent.js';

export const WG_KEY_FIELD = 'wgPublicKey';

export class ClusterWireguardPeers implements WireguardPeerSource {
  private readonly options = new OptionPeerSource();

  constructor(private readonly agent: ClusterAgent) {}

  peersOf(net: NetworkRecord): WireguardPeerSpec[] {
    if (!this.agent.clusterNetworks.has(net.id) || !net.overlay?.encrypted) return this.options.peersOf(net);
    const port = net.overlay.encrypted.port;
    const out: WireguardPeerSpec[] = [];
    for (const [id, h] of this.agent.view.hosts) {
      const key = h.value.extra?.[WG_KEY_FIELD];
      if (id === this.agent.hostId || !key || h.value.vtep === this.agent.vtep) continue;
      const publicKey = Buffer.from(key, 'base64');
      if (publicKey.length !== 32) continue; // malformed: the view counts it, no session can use it
      out.push({ publicKey: Uint8Array.from(publicKey), vtep: h.value.vtep, endpoint: h.value.vtep, port });
    }
    return out.sort((a, b) => a.vtep.localeCompare(b.vtep));
  }
}
