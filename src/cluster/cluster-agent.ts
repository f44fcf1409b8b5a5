/**
 * ClusterAgent: one daemon's membership in the cluster store, and the loop that keeps its data plane
 * equal to what the store says (docs/overlay-etcd.md).
 *
 * Membership: a lease of --cluster-ttl seconds, renewed every third of it (at least once a second);
 * `hosts/<id>` and every local endpoint of a cluster network hang on it, so a host that dies vanishes
 * from the others when the lease expires. Address claims (`ipam/`) do not: they wait for the host to
 * come back or for `cluster gc HOST`.
 *
 * Following: one full read of the root prefix, then one watch from the next revision. Each batch of
 * events updates the ClusterView and schedules a reconcile, which diffs the view against what is
 * installed and only touches what changed:
 *   - cluster networks in the store and not here are created (same id, VNI, subnet; this host's VTEP);
 *     ones gone from the store are removed here;
 *   - remote endpoints become static FDB entries behind the VXLAN port (MAC -> VTEP) and static
 *     neighbors (IP -> MAC), so ARP for them is answered locally and nothing is learned by flooding;
 *   - the VXLAN port's peers become the set of live VTEPs with endpoints on the network.
 * A compacted watch (its start revision is gone) is answered by a full read and reconcile, never by
 * carrying on with a gap. When the store is unreachable nothing is removed: the data plane forwards
 * with what it knows, and requests that need the store fail fast (ERR_STORE_UNAVAILABLE).
 */
import { TsnError } from '../errors.js';
import type { Daemon } from '../control/daemon.js';
import type { NetworkRuntime } from '../control/drivers/network-driver.js';
import { StateStore } from '../control/state-store.js';
import type { EtcdClient, Watch, WatchEvent } from './etcd-client.js';
import type { ClusterKeys } from './cluster-keys.js';
import { ClusterView, type ClusterEndpointRecord, type HostRecord } from './cluster-view.js';
import { CLOCK_BEAT_MS, ClusterClocks } from './cluster-clocks.js';
import { WG_KEY_FIELD } from './cluster-wireguard-peers.js';

export interface ClusterAgentOptions {
  daemon: Daemon;
  client: EtcdClient;
  keys: ClusterKeys;
  hostId: string;
  /** This host's VTEP address (--advertise-addr) and VXLAN port. */
  vtep: string;
  port: number;
  ttlSeconds: number;
  stateDir: string;
  log(msg: string): void;
}

/** What this host remembers locally: which of its networks are cluster networks. */
interface ClusterLocalState {
  version: 1;
  hostId: string;
  networks: string[];
}

interface Installed {
  vtep: string;
  ip: string | null;
  host: string | null;
}

export type StoreLink = 'connecting' | 'up' | 'down';

export class ClusterAgent {
  readonly view: ClusterView;
  /** The other hosts' clock offsets, from their records' writes (doctor's clock check). */
  readonly clocks: ClusterClocks;
  readonly daemon: Daemon;
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly hostId: string;
  readonly vtep: string;
  readonly port: number;
  readonly ttlSeconds: number;
  readonly log: (msg: string) => void;
  /** Ids of this host's networks that come from the store. */
  readonly clusterNetworks = new Set<string>();
  /** Names a local request is creating or removing right now: the reconcile leaves them alone. */
  readonly pending = new Set<string>();
  link: StoreLink = 'connecting';
  lastError = '';
  lease: string | null = null;
  readonly counters = { fullSyncs: 0, compactions: 0, watchRestarts: 0, leaseRenewals: 0, leasesLost: 0, reconciles: 0 };
  private readonly local: StateStore<ClusterLocalState>;
  private readonly installed = new Map<string, Map<string, Installed>>(); // net id -> mac -> entry
  private readonly createFailures = new Map<string, string>(); // net id -> last error (logged once)
  /**
   * net id -> the store revision of this host's own create or remove of it. Until the watch has
   * brought the view that far, the reconcile leaves the network alone: it would undo the change (remove
   * the network just made, or make again the one just removed) from a view one event behind.
   */
  private readonly ownChanges = new Map<string, number>();
  /** Store keys of this host's leftovers being deleted now (releaseOwnLeftovers). */
  private readonly releasing = new Set<string>();
  private watch: Watch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private reconcileQueued = false;
  private stopped = false;
  private hostExtra: Record<string, string> = {};
  /** When this host's record was last written (ms): it is re-written every CLOCK_BEAT_MS with the clock. */
  private hostWrittenAt = 0;
  private started = new Date().toISOString();
  private readonly listeners: (() => void)[] = [];

  constructor(opts: ClusterAgentOptions) {
    this.daemon = opts.daemon;
    this.client = opts.client;
    this.keys = opts.keys;
    this.hostId = opts.hostId;
    this.vtep = opts.vtep;
    this.port = opts.port;
    this.ttlSeconds = opts.ttlSeconds;
    this.log = opts.log;
    this.view = new ClusterView(opts.keys);
    this.clocks = new ClusterClocks(opts.hostId);
    this.local = new StateStore<ClusterLocalState>(opts.stateDir, { fileName: 'cluster.json' });
    // This host's WireGuard public key goes with its record, for encrypted overlays (cluster-wireguard-peers.ts).
    try {
      this.hostExtra[WG_KEY_FIELD] = this.daemon.overlay.encrypted.publicKey();
    } catch (err) {
      this.log(`cluster: no WireGuard key to publish (${(err as Error).message}): encrypted overlays will not reach this host`);
    }
    const saved = this.local.load();
    if (saved) {
      if (saved.hostId !== this.hostId) this.log(`cluster: this state dir was host ${saved.hostId}; it is now host ${this.hostId}`);
      for (const id of saved.networks) this.clusterNetworks.add(id);
    }
  }

  /** Register and follow the store; if it is unreachable now, keep trying in the background. */
  async start(): Promise<void> {
    const everyMs = Math.max(250, Math.min(1000, (this.ttlSeconds * 1000) / 3));
    await this.tick();
    this.timer = setInterval(() => void this.tick(), everyMs);
  }

  /** Stop following; the lease is revoked so the others drop this host now rather than after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.watch?.close();
    this.watch = null;
    if (this.lease && this.link === 'up') await this.client.leaseRevoke(this.lease).catch(() => undefined);
    this.client.close();
  }

  /** Called after every reconcile (the lb follower uses it). */
  onReconcile(f: () => void): void {
    this.listeners.push(f);
  }

  /** Fail fast when the store is known to be away: a control request must not half-happen. */
  requireStore(): void {
    if (this.link !== 'up') {
      throw new TsnError('ERR_STORE_UNAVAILABLE', `the cluster store ${this.client.description} is unreachable${this.lastError ? ` (${this.lastError})` : ''}: overlay networks keep forwarding with what they know, but creating, removing, connecting or disconnecting on them needs the store; try again when it is back`);
    }
  }

  /** Why the store's network `id` could not be made on this host, if it could not (logged once). */
  createFailure(id: string): string | null {
    return this.createFailures.get(id) ?? null;
  }

  isCluster(rt: NetworkRuntime): boolean {
    return rt.record.driver === 'overlay' && this.clusterNetworks.has(rt.record.id);
  }

  /** A request of this host created or removed network `netId` at store revision `revision`. */
  noteOwnChange(netId: string, revision: number): void {
    this.ownChanges.set(netId, revision);
  }

  private waitingForOwnChange(netId: string): boolean {
    const rev = this.ownChanges.get(netId);
    if (rev === undefined) return false;
    if (rev > this.view.revision) return true;
    this.ownChanges.delete(netId);
    return false;
  }

  adopt(netId: string): void {
    this.clusterNetworks.add(netId);
    this.saveLocal();
  }

  forget(netId: string): void {
    this.clusterNetworks.delete(netId);
    this.installed.delete(netId);
    this.saveLocal();
  }

  private saveLocal(): void {
    this.local.save({ version: 1, hostId: this.hostId, networks: [...this.clusterNetworks].sort() });
  }

  /**
   * Publish an extra field with this host's record (e.g. a public key); `null` removes it. Other hosts
   * read it from `view.hosts.get(id).value.extra`. Throws ERR_STORE_UNAVAILABLE when the store is away.
   */
  async setHostField(key: string, value: string | null): Promise<void> {
    if (value === null) delete this.hostExtra[key];
    else this.hostExtra[key] = value;
    if (this.lease) await this.putHostRecord(this.lease);
  }

  hostRecord(): HostRecord {
    const link = this.daemon.overlay.underlayLink(this.vtep);
    return { id: this.hostId, vtep: this.vtep, port: this.port, underlayMtu: link?.mtu ?? 1500, started: this.started, clock: Date.now(), ...(Object.keys(this.hostExtra).length ? { extra: { ...this.hostExtra } } : {}) };
  }

  private async putHostRecord(lease: string): Promise<void> {
    this.hostWrittenAt = Date.now();
    await this.client.put(this.keys.host(this.hostId), JSON.stringify(this.hostRecord()), lease);
  }

  private setLink(link: StoreLink, why = ''): void {
    if (link === this.link) return;
    if (link === 'down') this.log(`cluster: store ${this.client.description} unreachable (${why}): forwarding with what is known; changes to overlay networks wait for it`);
    if (link === 'up' && this.link === 'down') this.log(`cluster: store ${this.client.description} reachable again`);
    this.link = link;
  }

  /** One beat: renew the lease (or register), and make sure a watch runs. */
  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.lease === null) {
        await this.register();
      } else {
        const ttl = await this.client.leaseKeepAlive(this.lease);
        if (ttl <= 0) {
          this.counters.leasesLost++;
          this.log(`cluster: lease ${this.lease} expired (the store did not hear from this host for ${this.ttlSeconds} s): registering again and re-publishing this host's endpoints`);
          this.lease = null;
          await this.register();
        } else {
          this.counters.leaseRenewals++;
          this.setLink('up');
          if (Date.now() - this.hostWrittenAt >= CLOCK_BEAT_MS) await this.putHostRecord(this.lease);
        }
      }
      if (this.watch === null && this.link === 'up') await this.follow(this.view.revision + 1);
      this.lastError = '';
    } catch (err) {
      this.lastError = (err as Error).message.replace(/^the cluster store \S+ is unreachable \((.*?)\):.*$/, '$1');
      this.setLink('down', this.lastError);
      this.watch?.close();
      this.watch = null;
    } finally {
      this.ticking = false;
    }
  }

  /** A new lease, this host's record, a full read, and this host's endpoints published again. */
  private async register(): Promise<void> {
    const lease = await this.client.leaseGrant(this.ttlSeconds);
    await this.putHostRecord(lease.id);
    this.lease = lease.id;
    this.setLink('up');
    this.log(`cluster: host ${this.hostId} registered in ${this.client.description} (VTEP ${this.vtep}:${this.port}, lease ${lease.id}, TTL ${lease.ttl} s)`);
    this.watch?.close();
    this.watch = null;
    await this.fullSync('registered');
    await this.publishLocalEndpoints();
  }

  /** Read everything, rebuild the view, reconcile. */
  async fullSync(reason: string): Promise<void> {
    const r = await this.client.rangePrefix(this.keys.root);
    this.view.reset(r.kvs, r.revision);
    this.counters.fullSyncs++;
    this.log(`cluster: full sync (${reason}) at revision ${r.revision}: ${this.view.hosts.size} host(s), ${this.view.networks.size} network(s)`);
    this.reconcile();
  }

  private async follow(from: number): Promise<void> {
    this.counters.watchRestarts++;
    this.watch = this.client.watchPrefix(this.keys.root, from, {
      events: (events, revision) => {
        const receivedAt = Date.now();
        this.view.apply(events, revision);
        this.observeClocks(events, receivedAt);
        this.scheduleReconcile();
      },
      compacted: (compactRevision) => {
        this.counters.compactions++;
        this.watch = null;
        this.log(`cluster: watch from revision ${from} compacted (the store keeps revisions from ${compactRevision}): full resync`);
        void this.fullSync('compacted watch')
          .then(() => (this.link === 'up' && !this.stopped && this.watch === null ? this.follow(this.view.revision + 1) : undefined))
          .catch((err) => {
            this.lastError = (err as Error).message;
            this.setLink('down', this.lastError);
          });
      },
      ended: (err) => {
        if (this.stopped) return;
        if (err.message !== 'watch compacted') this.log(`cluster: watch ended (${err.message}); following again from revision ${this.view.revision + 1}`);
        this.watch = null;
      },
    });
  }

  /** Hosts' records written just now carry their clocks (cluster-clocks.ts); deleted ones leave. */
  private observeClocks(events: readonly WatchEvent[], receivedAt: number): void {
    for (const e of events) {
      const k = this.keys.parse(e.kv.key);
      if (k?.kind !== 'hosts') continue;
      const clock = e.type === 'PUT' ? this.view.hosts.get(k.a)?.value.clock : undefined;
      if (typeof clock === 'number') this.clocks.observe(k.a, clock, receivedAt);
      else this.clocks.forget(k.a);
    }
  }

  /** Re-put this host's endpoints of cluster networks under the current lease, and their address claims. */
  private async publishLocalEndpoints(): Promise<void> {
    for (const rt of this.daemon.networkRuntimes()) {
      if (!this.isCluster(rt)) continue;
      for (const e of rt.endpoints.values()) {
        const ep = e.record;
        const rec: ClusterEndpointRecord = { host: this.hostId, mac: ep.mac, ip: ep.ip };
        const ops = [{ put: { key: this.keys.endpoint(rt.record.id, ep.id), value: JSON.stringify(rec), lease: this.lease! } }];
        if (ep.ip) {
          const claimKey = this.keys.address(rt.record.id, ep.ip);
          const claim = JSON.stringify({ host: this.hostId, endpoint: ep.id });
          const t = await this.client.txn([{ key: claimKey, target: 'CREATE', createRevision: 0 }], [{ put: { key: claimKey, value: claim } }], [{ range: { key: claimKey } }]);
          if (!t.succeeded) {
            const held = t.ranges[0]?.[0]?.value ?? '';
            if (held !== claim) {
              this.log(`cluster: address ${ep.ip} of endpoint ${ep.id} on ${rt.record.name} is claimed in the store by ${held}: not re-publishing it (two hosts would answer for it); disconnect one of them`);
              continue;
            }
          }
        }
        await this.client.txn([], ops);
      }
    }
  }

  scheduleReconcile(): void {
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    queueMicrotask(() => {
      this.reconcileQueued = false;
      if (!this.stopped) this.reconcile();
    });
  }

  private localById(id: string): NetworkRuntime | undefined {
    return this.daemon.networkRuntimes().find((n) => n.record.id === id);
  }

  /** Make the local networks, FDB entries, neighbors and peers what the view says. */
  reconcile(): void {
    this.counters.reconciles++;
    const v = this.view;
    // Networks.
    for (const { value: n } of v.networks.values()) {
      if (this.localById(n.id) || this.pending.has(n.name) || this.waitingForOwnChange(n.id)) continue;
      try {
        this.daemon.createNetwork({
          id: n.id,
          name: n.name,
          driver: 'overlay',
          subnet: n.subnet,
          gateway: n.gateway,
          ipRange: n.ipRange,
          auxAddresses: n.auxAddresses,
          mtu: n.mtu,
          options: { vni: String(n.vni), vtep: this.vtep, port: String(n.port), learning: String(n.learning), ...(n.encrypted ? { encrypted: 'true', 'encrypted.port': String(n.encrypted.port) } : {}) },
        });
        this.adopt(n.id);
        this.createFailures.delete(n.id);
      } catch (err) {
        const msg = (err as Error).message;
        if (this.createFailures.get(n.id) !== msg) this.log(`cluster: network ${n.name} (${n.id}) from the store cannot be made on this host: ${msg}`);
        this.createFailures.set(n.id, msg);
      }
    }
    for (const id of [...this.clusterNetworks]) {
      if (v.networks.has(id) || this.waitingForOwnChange(id)) continue;
      const rt = this.localById(id);
      if (rt && this.pending.has(rt.record.name)) continue;
      if (rt) {
        try {
          this.daemon.removeNetwork(rt.record.name, true);
          this.log(`cluster: network ${rt.record.name} (${id}) was removed from the store: removed here`);
        } catch (err) {
          this.log(`cluster: network ${rt.record.name} (${id}) left the store but could not be removed here: ${(err as Error).message}`);
          continue;
        }
      }
      this.forget(id);
    }
    // Remote endpoints and peers; this host's own leftovers in the store.
    for (const rt of this.daemon.networkRuntimes()) {
      if (!this.isCluster(rt) || !v.networks.has(rt.record.id)) continue;
      this.reconcileEndpoints(rt);
      if (this.link === 'up' && !this.pending.has(rt.record.name)) this.releaseOwnLeftovers(rt);
    }
    for (const f of this.listeners) {
      try {
        f();
      } catch (err) {
        this.log(`cluster: follower failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * This host's endpoint keys and bound address claims in the store whose endpoint is not here any
   * more: it went without a disconnect (its sandbox died and the watcher released it, or it was
   * released at start after a crash). Unbound claims are left alone: a connect or an IPAM reservation
   * holds them. Safe against a connect in flight: the store names an endpoint only once it exists here,
   * and a disconnect deletes the keys before the local endpoint.
   */
  private releaseOwnLeftovers(rt: NetworkRuntime): void {
    const id = rt.record.id;
    const gone = (ep: string) => !rt.endpoints.has(ep);
    const keys: { key: string; value?: string; what: string }[] = [];
    for (const [epId, { value: e }] of this.view.endpoints.get(id) ?? []) {
      if (e.host === this.hostId && gone(epId)) keys.push({ key: this.keys.endpoint(id, epId), what: `endpoint ${epId}` });
    }
    for (const [ip, c] of this.view.addresses.get(id) ?? []) {
      if (c.host === this.hostId && c.endpoint && gone(c.endpoint)) keys.push({ key: this.keys.address(id, ip), value: JSON.stringify(c), what: `address ${ip} of endpoint ${c.endpoint}` });
    }
    for (const k of keys) {
      if (this.releasing.has(k.key)) continue;
      this.releasing.add(k.key);
      // A claim only while it still says what we read (another host may have claimed the address since).
      const compare = k.value !== undefined ? [{ key: k.key, target: 'VALUE' as const, value: k.value }] : [];
      this.client
        .txn(compare, [{ delete: { key: k.key } }])
        .then(() => this.log(`cluster: released ${k.what} on ${rt.record.name} from the store: it is not on this host any more`))
        .catch((err) => this.log(`cluster: could not release ${k.what} on ${rt.record.name}: ${(err as Error).message}`))
        .finally(() => this.releasing.delete(k.key));
    }
  }

  /** The remote endpoints of a network this host should reach: mac -> where. */
  desiredRemote(netId: string): Map<string, Installed> {
    const want = new Map<string, Installed>();
    for (const { value: e } of this.view.endpoints.get(netId)?.values() ?? []) {
      if (e.host === this.hostId) continue;
      const vtep = this.view.vtepOf(e);
      if (vtep === null || vtep === this.vtep) continue; // its host's lease is gone (or it claims our VTEP)
      want.set(e.mac, { vtep, ip: e.ip, host: e.host });
    }
    return want;
  }

  private reconcileEndpoints(rt: NetworkRuntime): void {
    const overlay = this.daemon.overlay;
    const want = this.desiredRemote(rt.record.id);
    const localMacs = new Set([...rt.endpoints.values()].map((e) => e.record.mac));
    let have = this.installed.get(rt.record.id);
    if (!have) this.installed.set(rt.record.id, (have = new Map()));
    for (const [mac, h] of [...have]) {
      const w = want.get(mac);
      if (w && w.vtep === h.vtep && w.ip === h.ip) continue;
      overlay.uninstallRemote(rt, mac, h.ip);
      have.delete(mac);
    }
    for (const [mac, w] of want) {
      if (have.has(mac)) continue;
      if (localMacs.has(mac)) {
        this.log(`cluster: ${rt.record.name}: MAC ${mac} of host ${w.host ?? w.vtep} is a local endpoint's too: not installed`);
        continue;
      }
      try {
        overlay.installRemote(rt, mac, w.vtep, w.ip);
        have.set(mac, w);
      } catch (err) {
        this.log(`cluster: ${rt.record.name}: could not install ${mac} behind ${w.vtep}: ${(err as Error).message}`);
      }
    }
    const peers = [...new Set([...have.values()].map((h) => h.vtep))].sort();
    const now = overlay.peersOf(rt);
    if (peers.join() !== [...now].sort().join()) overlay.setPeers(rt, peers);
    // Encrypted: the WireGuard peers (keys from the hosts' records) follow the store too.
    if (rt.record.overlay?.encrypted) {
      try {
        overlay.encrypted.update(rt.record);
      } catch (err) {
        this.log(`cluster: ${rt.record.name}: WireGuard peers not updated: ${(err as Error).message}`);
      }
    }
  }

  /** Which host an installed remote MAC belongs to (fdb show), or undefined if it is not from the store. */
  storeEntry(netId: string, mac: string): Installed | undefined {
    return this.installed.get(netId)?.get(mac);
  }
}
