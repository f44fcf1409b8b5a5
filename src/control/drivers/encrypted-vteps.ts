/**
 * The encrypted VTEPs of the overlay driver (`-o encrypted=true`): one WireguardUnderlay per local
 * VTEP address and WireGuard port, shared by every encrypted overlay on it, so there is one session
 * per VTEP pair whatever the number of networks. Its peer set is the union of what the networks'
 * peer sources say; a VTEP address claimed with two different keys is refused.
 *
 * Peer keys come through WireguardPeerSource: `-o encrypted.peers` (OptionPeerSource), or on a
 * cluster-store daemon the keys the hosts publish beside their records (src/cluster/cluster-wireguard-peers.ts,
 * set with setPeerSource).
 *
 * TSNET_WG_REKEY_AFTER_SECONDS shortens REKEY_AFTER_TIME (tests of rekeying under load; the protocol's
 * 120 s otherwise). REJECT_AFTER_TIME stays 180 s: a real WireGuard peer keeps its sessions that long.
 */
import { WG_OVERHEAD } from '../../native/wireguard-addon.js';
import { WireguardUnderlay, type WireguardPeerInfo, type WireguardPeerSpec } from '../../dataplane/wireguard/wireguard-underlay.js';
import { TsnError } from '../../errors.js';
import type { NetworkRecord, OverlayRecord } from '../model.js';
import { WireguardKeyStore } from '../wireguard-key-store.js';

/** Where the peers of an encrypted overlay and their public keys come from. */
export interface WireguardPeerSource {
  peersOf(net: NetworkRecord): WireguardPeerSpec[];
}

/** `-o encrypted.peers=PUBKEY@IP[:PORT],…`, kept in the network record. */
export class OptionPeerSource implements WireguardPeerSource {
  peersOf(net: NetworkRecord): WireguardPeerSpec[] {
    return (net.overlay?.encrypted?.peers ?? []).map((p) => ({ publicKey: Uint8Array.from(Buffer.from(p.publicKey, 'base64')), vtep: p.vtep, endpoint: p.endpoint, port: p.port }));
  }
}

interface EncryptedUse {
  underlay: WireguardUnderlay;
  networks: Map<string, NetworkRecord>;
}

export class EncryptedVteps {
  private readonly uses = new Map<string, EncryptedUse>();
  private keys: WireguardKeyStore | null;
  private external: WireguardPeerSource | null = null;

  constructor(
    private readonly opts: {
      stateDir?: string;
      netns?: string;
      log: (m: string) => void;
      source?: WireguardPeerSource;
      /** Each network's own peers (VTEP addresses), after every update: only they may send into it. */
      onNetworkPeers?: (netId: string, vteps: readonly string[]) => void;
    },
  ) {
    this.keys = opts.stateDir ? new WireguardKeyStore(opts.stateDir) : null;
  }

  private get source(): WireguardPeerSource {
    return this.external ?? this.opts.source ?? new OptionPeerSource();
  }

  /** A cluster store's keys (set once at start, before any network is made or re-adopted). */
  setPeerSource(source: WireguardPeerSource): void {
    this.external = source;
  }

  /** Whether peers may come from elsewhere than `-o encrypted.peers` (a cluster store). */
  get peersFromStore(): boolean {
    return this.external !== null;
  }

  static key(ov: OverlayRecord): string {
    return `${ov.vtep}:wg${ov.encrypted!.port}`;
  }

  private keyStore(): WireguardKeyStore {
    if (!this.keys) throw new TsnError('ERR_INTERNAL', 'encrypted overlays need the daemon\'s state dir for the WireGuard key');
    return this.keys;
  }

  /** This host's public key (made at first use). */
  publicKey(): string {
    return this.keyStore().publicKey();
  }

  /** Open the WireGuard underlay of `ov` (the caller shares it per key). Throws EADDRINUSE etc. as UdpUnderlay does. */
  open(ov: OverlayRecord, underlayLinkMtu: number): WireguardUnderlay {
    const env = process.env.TSNET_WG_REKEY_AFTER_SECONDS;
    const rekeyAfterMs = env && /^\d+(\.\d+)?$/.test(env) ? Math.max(1, Number(env)) * 1000 : undefined;
    const underlay = new WireguardUnderlay(ov.vtep, ov.encrypted!.port, {
      identity: this.keyStore().identity(),
      vxlanPort: ov.port,
      tunnelMtu: underlayLinkMtu - WG_OVERHEAD,
      netns: this.opts.netns,
      rekeyAfterMs,
      log: this.opts.log,
    });
    this.uses.set(EncryptedVteps.key(ov), { underlay, networks: new Map() });
    return underlay;
  }

  forget(ov: OverlayRecord): void {
    this.uses.delete(EncryptedVteps.key(ov));
  }

  /** A network's own WireGuard peers (their VTEP addresses). */
  peerVteps(net: NetworkRecord): string[] {
    return this.source.peersOf(net).map((p) => p.vtep);
  }

  /** Add (or, with `remove`, drop) a network's peers on its VTEP; refuses a VTEP address with two keys. */
  update(net: NetworkRecord, remove = false): void {
    const use = this.uses.get(EncryptedVteps.key(net.overlay!));
    if (!use) return;
    const next = new Map(use.networks);
    if (remove) next.delete(net.id);
    else next.set(net.id, net);
    const byVtep = new Map<string, WireguardPeerSpec>();
    const perNetwork = new Map<string, string[]>();
    for (const rec of next.values()) {
      const own = this.source.peersOf(rec);
      perNetwork.set(rec.id, own.map((p) => p.vtep));
      for (const p of own) {
        const other = byVtep.get(p.vtep);
        if (other && Buffer.compare(Buffer.from(other.publicKey), Buffer.from(p.publicKey)) !== 0) {
          throw new TsnError('ERR_BAD_OPTION', `VTEP ${p.vtep} has key ${Buffer.from(other.publicKey).toString('base64')} in another encrypted overlay on ${net.overlay!.vtep}, not ${Buffer.from(p.publicKey).toString('base64')}: one key per host`);
        }
        byVtep.set(p.vtep, p);
      }
    }
    use.underlay.setPeers([...byVtep.values()]);
    use.networks = next;
    for (const [id, vteps] of perNetwork) this.opts.onNetworkPeers?.(id, vteps);
  }

  /**
   * `overlay secrets`: a new handshake with every peer of every encrypted VTEP, initiated here, and the
   * Wireshark key log of those handshakes once they complete (or `timeoutMs` passed: a peer that did
   * not answer is listed in `Missing`). With `initiate` false (`--passive`), no handshake is started:
   * the key log is of those that happen within `timeoutMs` (a peer's, or a rekey), answered here or
   * initiated here. A capture of the underlay that holds these handshakes is decrypted with it, from
   * the handshake on. Sensitive: the caller writes it to a 0600 file.
   */
  async secrets(timeoutMs: number, initiate = true): Promise<{ KeyLog: string; Handshakes: number; Missing: string[] }> {
    // Each call collects its own entries (two `overlay secrets` at once, or a capture, never share them).
    const waits = [...this.uses.values()].map(({ underlay }) => {
      const lines: string[] = [];
      const stop = underlay.onSecret((entry) => lines.push(entry));
      return { underlay, lines, stop, before: initiate ? underlay.rehandshakeAll('overlay secrets') : underlay.handshakeCounts() };
    });
    const pending = () =>
      waits.flatMap(({ underlay, before }) => {
        const now = underlay.handshakeCounts();
        return [...before].filter(([key, n]) => (now.get(key) ?? n) <= n).map(([key]) => key);
      });
    const end = Date.now() + timeoutMs;
    while (pending().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const missing = pending();
    for (const w of waits) w.stop();
    const KeyLog = waits.map((w) => w.lines.join('')).join('');
    return { KeyLog, Handshakes: waits.reduce((n, w) => n + w.before.size, 0) - missing.length, Missing: missing };
  }

  /** The WireGuard underlay of a network's VTEP (a live underlay capture subscribes to its secrets), or null. */
  underlayOf(net: NetworkRecord): WireguardUnderlay | null {
    return net.overlay ? (this.uses.get(EncryptedVteps.key(net.overlay))?.underlay ?? null) : null;
  }

  /** Every encrypted VTEP (LOCAL_IP:wgPORT) with what `wg show` shows of its peers: for metrics. */
  allPeers(): { vtep: string; peers: WireguardPeerInfo[] }[] {
    return [...this.uses].map(([vtep, use]) => ({ vtep, peers: use.underlay.describePeers() }));
  }

  /** `network inspect`'s Encryption section: our public key, port, and what `wg show` shows per peer of this network. */
  describe(net: NetworkRecord): { PublicKey: string; ListenPort: number; CookiesSent: number; Peers: WireguardPeerInfo[] } | null {
    const use = this.uses.get(EncryptedVteps.key(net.overlay!));
    if (!use) return null;
    const mine = new Set(this.source.peersOf(net).map((p) => p.vtep));
    return {
      PublicKey: Buffer.from(use.underlay.publicKey).toString('base64'),
      ListenPort: use.underlay.port,
      CookiesSent: use.underlay.cookiesSent,
      Peers: use.underlay.describePeers().filter((p) => mine.has(p.VTEP)),
    };
  }
}
