/**
 * ClusterServices: `lb` services on cluster networks are cluster-wide, like a swarm service's VIP.
 * The service (protocol, VIP, port, scheduler, real servers in order) is one store key,
 * `services/<net>/<proto>-<vip>-<port>`, and its VIP is claimed in the network's IPAM like an address.
 * Every host follows the key: it answers for the VIP on its own L2 domain and schedules over every
 * real server, wherever it lives; remote servers are reached through the overlay (their MAC is the
 * store's endpoint record, NAT rewrites the destination, the reply comes back through this host's LB).
 *
 * A real server on a host that dies has no endpoint record after the lease: its MAC becomes unknown,
 * which makes it unavailable (no new connections) on every host at once. Servers are added in the
 * store's order on every host and availability follows the same records, so Maglev (`mh`) builds the
 * same table everywhere and every host makes the same choice for the same flow.
 *
 * Requests: add-service / add-server are made locally first (that validates them: a server must be a
 * known endpoint), then written to the store, undone locally on failure; del-server / del-service
 * write the store first. edit-service / edit-server are refused on cluster services for now (delete
 * and add again).
 */
import type { AddServiceRequest, DelServerRequest, ServerRequest, ServiceRef } from '../control/lb-control.js';
import { TsnError } from '../errors.js';
import type { NetworkRuntime } from '../control/drivers/network-driver.js';
import type { ClusterAgent } from './cluster-agent.js';
import type { ClusterServiceRecord } from './cluster-view.js';

type Described = { protocol: 'tcp' | 'udp'; vip: string; port: number; network: string | null; scheduler: string; persistTimeout: number; servers: { ip: string; port: number; weight: number; method: 'nat' | 'dr' | 'tun' }[] };

const serviceKey = (protocol: string, vip: string, port: number) => `${protocol}-${vip}-${port}`;

export class ClusterServices {
  /** Services a local request is changing right now: the follower leaves them alone. */
  private readonly pending = new Set<string>();

  constructor(private readonly agent: ClusterAgent) {
    agent.onReconcile(() => this.follow());
  }

  private get lb() {
    return this.agent.daemon.lb;
  }

  private clusterNet(ref: string): NetworkRuntime | null {
    const rt = this.agent.daemon.networkRuntimes().find((n) => n.record.name === ref || n.record.id === ref);
    return rt && this.agent.isCluster(rt) ? rt : null;
  }

  /** The cluster service a VIP:PORT names, if any: its network id, key and record. */
  private find(ref: ServiceRef): { netId: string; key: string; rec: ClusterServiceRecord; modRevision: number } | null {
    const [vip, port] = ref.service.split(':');
    const k = serviceKey(ref.protocol, vip, Number(port));
    for (const [netId, m] of this.agent.view.services) {
      const s = m.get(k);
      if (s && this.agent.clusterNetworks.has(netId)) return { netId, key: k, rec: s.value, modRevision: s.modRevision };
    }
    return null;
  }

  private describeLocal(ref: ServiceRef): Described | undefined {
    const [vip, port] = ref.service.split(':');
    return (this.lb.list().services as Described[]).find((s) => s.protocol === ref.protocol && s.vip === vip && s.port === Number(port));
  }

  /** Write a service record if it did not change since `modRevision` (0: create). */
  private async write(netId: string, rec: ClusterServiceRecord, modRevision: number): Promise<void> {
    const a = this.agent;
    const key = a.keys.service(netId, rec.protocol, rec.vip, rec.port);
    const t = await a.client.txn([modRevision === 0 ? { key, target: 'CREATE', createRevision: 0 } : { key, target: 'MOD', modRevision }], [{ put: { key, value: JSON.stringify(rec) } }]);
    if (!t.succeeded) throw new TsnError('ERR_STORE_CONFLICT', `virtual service ${rec.protocol} ${rec.vip}:${rec.port} was changed in the cluster at the same time by another host; look again (lb ls) and retry`);
  }

  async addService(req: AddServiceRequest): Promise<unknown | null> {
    const rt = this.clusterNet(req.network);
    if (!rt) return null;
    const a = this.agent;
    a.requireStore();
    const out = this.lb.addService(req) as Described;
    const k = serviceKey(out.protocol, out.vip, out.port);
    this.pending.add(k);
    try {
      const vipKey = a.keys.address(rt.record.id, out.vip);
      const rec: ClusterServiceRecord = { protocol: out.protocol, vip: out.vip, port: out.port, scheduler: out.scheduler, persistTimeout: out.persistTimeout, servers: [] };
      const svcKey = a.keys.service(rt.record.id, out.protocol, out.vip, out.port);
      const claim = JSON.stringify({ host: 'service', endpoint: k });
      let ok = false;
      try {
        // The VIP's claim may be held already by another service on the same VIP (another port).
        const t = await a.client.txn(
          [{ key: svcKey, target: 'CREATE', createRevision: 0 }],
          [{ put: { key: svcKey, value: JSON.stringify(rec) } }],
          [{ range: { key: svcKey } }],
        );
        if (!t.succeeded) throw new TsnError('ERR_LB_SERVICE_EXISTS', `virtual service ${out.protocol} ${out.vip}:${out.port} exists in the cluster already`);
        const c = await a.client.txn([{ key: vipKey, target: 'CREATE', createRevision: 0 }], [{ put: { key: vipKey, value: claim } }], [{ range: { key: vipKey } }]);
        const held = c.ranges[0]?.[0]?.value;
        if (!c.succeeded && !(held && JSON.parse(held).host === 'service')) {
          await a.client.delete(svcKey);
          throw new TsnError('ERR_LB_VIP_IN_USE', `VIP ${out.vip} is claimed in the cluster by ${held}: choose a free address`);
        }
        ok = true;
      } finally {
        if (!ok) this.lb.delService(req);
      }
      return out;
    } finally {
      this.pending.delete(k);
    }
  }

  async delService(req: ServiceRef): Promise<unknown | null> {
    const f = this.find(req);
    if (!f) return null;
    const a = this.agent;
    a.requireStore();
    this.pending.add(f.key);
    try {
      const others = [...(a.view.services.get(f.netId)?.values() ?? [])].filter((s) => s.value.vip === f.rec.vip && serviceKey(s.value.protocol, s.value.vip, s.value.port) !== f.key);
      await a.client.txn([], [{ delete: { key: a.keys.service(f.netId, f.rec.protocol, f.rec.vip, f.rec.port) } }, ...(others.length ? [] : [{ delete: { key: a.keys.address(f.netId, f.rec.vip) } }])]);
      return this.lb.delService(req);
    } finally {
      this.pending.delete(f.key);
    }
  }

  async addServer(req: ServerRequest): Promise<unknown | null> {
    const f = this.find(req);
    if (!f) return null;
    if (req.dryRun) return this.lb.addServer(req);
    this.agent.requireStore();
    this.pending.add(f.key);
    try {
      const before = new Set(this.describeLocal(req)?.servers.map((s) => `${s.ip}:${s.port}`));
      const out = this.lb.addServer(req) as Described; // validates: the server must be a known endpoint
      const added = out.servers.find((s) => !before.has(`${s.ip}:${s.port}`))!;
      try {
        await this.write(f.netId, { ...f.rec, servers: [...f.rec.servers, { ip: added.ip, port: added.port, weight: added.weight, method: added.method }] }, f.modRevision);
      } catch (err) {
        this.lb.delServer({ protocol: req.protocol, service: req.service, server: `${added.ip}:${added.port}` });
        throw err;
      }
      return out;
    } finally {
      this.pending.delete(f.key);
    }
  }

  async delServer(req: DelServerRequest): Promise<unknown | null> {
    const f = this.find(req);
    if (!f) return null;
    if (req.dryRun) return this.lb.delServer(req);
    this.agent.requireStore();
    const [ip, port] = req.server.split(':');
    const rport = port ? Number(port) : f.rec.port;
    if (!f.rec.servers.some((s) => s.ip === ip && s.port === rport)) return this.lb.delServer(req); // its not-found error
    this.pending.add(f.key);
    try {
      await this.write(f.netId, { ...f.rec, servers: f.rec.servers.filter((s) => !(s.ip === ip && s.port === rport)) }, f.modRevision);
      return this.lb.delServer(req);
    } finally {
      this.pending.delete(f.key);
    }
  }

  refuseEdit(req: ServiceRef): void {
    if (this.find(req)) throw new TsnError('ERR_BAD_OPTION', `virtual service ${req.protocol} ${req.service} is cluster-wide: edits are not supported on cluster services yet; delete and add the server (or service) again`);
  }

  /** Make the local services of cluster networks what the store says (after every reconcile). */
  private follow(): void {
    const a = this.agent;
    const local = this.lb.list().services as Described[];
    for (const rt of a.daemon.networkRuntimes()) {
      if (!a.isCluster(rt)) continue;
      // Remote endpoints may have come or gone: real servers' MACs are resolved again.
      this.lb.endpointsChanged(rt);
      const want: Map<string, { value: ClusterServiceRecord }> = a.view.services.get(rt.record.id) ?? new Map();
      for (const s of local.filter((x) => x.network === rt.record.name)) {
        const k = serviceKey(s.protocol, s.vip, s.port);
        if (this.pending.has(k) || want.has(k)) continue;
        this.apply(() => this.lb.delService({ protocol: s.protocol, service: `${s.vip}:${s.port}` }), `remove service ${k}`);
      }
      for (const [k, { value: rec }] of want) {
        if (this.pending.has(k)) continue;
        const ref = { protocol: rec.protocol, service: `${rec.vip}:${rec.port}` };
        const found = local.find((x) => x.network === rt.record.name && serviceKey(x.protocol, x.vip, x.port) === k);
        if (!found && !this.apply(() => this.lb.addService({ ...ref, network: rt.record.name, scheduler: rec.scheduler, persistTimeout: rec.persistTimeout }), `add service ${k}`)) continue;
        const current: Described = found ?? { ...rec, network: rt.record.name, servers: [] };
        const wantKeys = new Set(rec.servers.map((s) => `${s.ip}:${s.port}`));
        for (const s of current.servers) {
          if (!wantKeys.has(`${s.ip}:${s.port}`)) this.apply(() => this.lb.delServer({ ...ref, server: `${s.ip}:${s.port}` }), `remove server ${s.ip}:${s.port} of ${k}`);
        }
        const haveKeys = new Set(current.servers.map((s) => `${s.ip}:${s.port}`));
        for (const s of rec.servers) {
          if (haveKeys.has(`${s.ip}:${s.port}`)) continue;
          this.apply(() => this.lb.addServer({ ...ref, server: `${s.ip}:${s.port}`, weight: s.weight, method: s.method }, { strict: false }), `add server ${s.ip}:${s.port} to ${k}`);
        }
      }
    }
  }

  private apply(f: () => unknown, what: string): boolean {
    try {
      f();
      return true;
    } catch (err) {
      this.agent.log(`cluster: lb: could not ${what}: ${(err as Error).message}`);
      return false;
    }
  }
}
