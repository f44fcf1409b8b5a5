/**
 * LbControl: the control plane of the load balancer (`tsnet-switch lb ...`, `/v1/lb/...`). It validates
 * every request in full before it changes anything (values by lb-validation.ts, their fit with the
 * network here), drives the runtime (src/lb/load-balancer.ts), starts and stops the health checks
 * (lb-health.ts), and keeps the persisted records (lb-model.ts) that the daemon saves with its state;
 * `lb ls` is lb-listing.ts.
 *
 * Rules it enforces:
 * - A VIP lies in its network's subnet and is not the network's gateway, an endpoint's address or an
 *   aux address; the first service on a VIP reserves it in the network's IPAM (no container gets it),
 *   the last one to go releases it. Services are unique by protocol, VIP and port.
 * - A real server is reached at L2: its MAC is the endpoint's with that address on the network (or the
 *   gateway port's for the gateway address, or for an address beyond the subnet when the method is NAT
 *   or TUN and the network has a gateway). DR needs the server on the network and the VIP's port.
 *   When endpoints change, MACs are resolved again; a server whose MAC changed (its address now belongs
 *   to another container) loses its connections, so no stale entry survives the reuse of an address.
 * - Weights 0..65535 (0 drains); schedulers rr, wrr, lc, wlc, sh, mh; persistence 0..2678400 s.
 * - IPv6: a VIP in the network's IPv6 subnet (dual-stack networks), reserved in its IPv6 pool; real
 *   servers of the service's family only; NAT and DR, not TUN (IPVS's IPv6 tunnel is IPv6-in-IPv6,
 *   which this kernel cannot terminate: no ip6tnl).
 * - `dryRun` on server changes answers how many tracked flows the change would move, changing nothing.
 */
import { SwitchEngine } from '../dataplane/switch-engine.js';
import type { LbTimeouts } from '../lb/conn-table.js';
import type { MovePreview } from '../lb/load-balancer.js';
import type { ForwardMethod, RealServer } from '../lb/real-server.js';
import type { LbProtocol, VirtualService } from '../lb/virtual-service.js';
import { formatHostPort, formatLbIp, type LbFamily, type LbIp } from '../lb/lb-address.js';
import { formatMac, parseMac } from '../packet/mac.js';
import type { NetworkRuntime } from './drivers/network-driver.js';
import { TsnError } from '../errors.js';
import { VxlanPort } from '../dataplane/ports/vxlan-port.js';
import type { LbServerRecord, LbServiceRecord, LbState } from './lb-model.js';
import { ServerHealth, type ServerRuntime } from './lb-health.js';
import { describeService, listLoadBalancer } from './lb-listing.js';
import { checkMethod, checkPersist, checkProtocol, checkScheduler, checkWeight, parseAddrPort, parseCheckOptions, parseLbIp, serviceName, type LbAddress } from './lb-validation.js';

export interface LbHost {
  engine: SwitchEngine;
  network(name: string): NetworkRuntime;
  networks(): Iterable<NetworkRuntime>;
  persist(): void;
  log(msg: string): void;
}

export interface ServiceRef {
  protocol: LbProtocol;
  /** VIP:PORT */
  service: string;
}

export interface AddServiceRequest extends ServiceRef {
  network: string;
  scheduler?: string;
  persistTimeout?: number;
}

export interface EditServiceRequest extends ServiceRef {
  scheduler?: string;
  persistTimeout?: number;
}

export interface ServerRequest extends ServiceRef {
  /** RIP[:RPORT] */
  server: string;
  weight?: number;
  method?: ForwardMethod;
  /** `-o` values: check=tcp,interval=1s,fall=3,rise=2 */
  options?: string[];
  dryRun?: boolean;
}

export interface DelServerRequest extends ServiceRef {
  server: string;
  graceful?: boolean;
  dryRun?: boolean;
}

/** What a VIP needs of a network's address pool, either family (NetworkIpam, NetworkIpam6). */
interface VipPool {
  readonly subnet: string;
  contains(ip: string): boolean;
  reservedReason(ip: string): string | null;
  isAllocated(ip: string): boolean;
  allocate(ip: string): string;
  release(ip: string): unknown;
}

function poolOf(net: NetworkRuntime, family: LbFamily): VipPool | null {
  return (family === 6 ? net.ipam6 : net.ipam) ?? null;
}

const familyName = (f: LbFamily) => `IPv${f}`;

export class LbControl {
  private readonly records = new Map<VirtualService, { record: LbServiceRecord; net: NetworkRuntime }>();
  private readonly health = new ServerHealth(() => this.lb, (m) => this.host.log(m));

  constructor(private readonly host: LbHost) {
    this.lb.onServerGone = (rs, svc) => {
      this.health.stop(rs);
      this.host.log(`lb: real server ${rs.key} of ${serviceName(svc.protocol, svc.vipText, svc.port)} drained and removed`);
    };
  }

  private get lb() {
    return this.host.engine.lb;
  }

  /** The persisted form, for the daemon's state. */
  toState(): LbState {
    return { services: [...this.records.values()].map((r) => r.record), timeouts: this.lb.timeouts };
  }

  /** Rebuild services from persisted state (daemon start). Services whose network is gone are dropped. */
  restore(state: LbState | undefined): void {
    if (!state) return;
    if (state.timeouts) this.lb.setTimeouts(state.timeouts);
    for (const rec of state.services ?? []) {
      const net = [...this.host.networks()].find((n) => n.record.id === rec.networkId);
      if (!net || !net.domain) {
        this.host.log(`lb: service ${serviceName(rec.protocol, rec.vip, rec.port)} dropped at start: its network ${rec.networkId} is gone`);
        continue;
      }
      try {
        const vip = parseLbIp(rec.vip);
        const pool = poolOf(net, typeof vip === 'number' ? 4 : 6);
        if (pool && !pool.isAllocated(rec.vip) && !this.vipShared(rec.vip)) pool.allocate(rec.vip);
        const svc = this.lb.addService(net.domain, { protocol: rec.protocol, vip, port: rec.port, scheduler: rec.scheduler, persistTimeout: rec.persistTimeout });
        const record: LbServiceRecord = { ...rec, servers: [] };
        this.records.set(svc, { record, net });
        for (const s of rec.servers) {
          const ip = parseLbIp(s.ip);
          const mac = this.resolveMac(net, ip, s.method, false);
          const rs = this.lb.addServer(svc, { ip, port: s.port, weight: s.weight, method: s.method, mac });
          record.servers.push(s);
          this.health.start(svc, rs, s);
        }
      } catch (err) {
        this.host.log(`lb: service ${serviceName(rec.protocol, rec.vip, rec.port)} could not be restored: ${(err as Error).message}`);
      }
    }
  }

  /** Is the VIP (canonical text) used by a service already? */
  private vipShared(vip: string): boolean {
    for (const svc of this.records.keys()) if (svc.vipText === vip) return true;
    return false;
  }

  private service(ref: ServiceRef): { svc: VirtualService; record: LbServiceRecord; net: NetworkRuntime } {
    const protocol = checkProtocol(ref.protocol);
    const a = parseAddrPort(ref.service, 'service', true);
    const svc = this.lb.findService(protocol === 'tcp' ? 6 : 17, a.ip, a.port!);
    const r = svc && this.records.get(svc);
    if (!svc || !r) {
      const known = [...this.records.keys()].map((s) => serviceName(s.protocol, s.vipText, s.port));
      throw new TsnError('ERR_LB_NO_SUCH_SERVICE', `no virtual service ${serviceName(protocol, a.text, a.port!)}${known.length ? `: services are ${known.join(', ')}` : ': there are none yet (tsnet-switch lb add-service)'}`);
    }
    return { svc, record: r.record, net: r.net };
  }

  private server(svc: VirtualService, text: string): { rs: RealServer; rt: ServerRuntime } {
    const a = parseAddrPort(text, 'real server', false);
    const port = a.port ?? svc.port;
    const rs = svc.servers.find((s) => s.ipText === a.text && s.port === port && !s.removed);
    const rt = rs && this.health.get(rs);
    if (!rs || !rt) {
      throw new TsnError('ERR_LB_NO_SUCH_SERVER', `no real server ${formatHostPort(a.text, port)} in ${serviceName(svc.protocol, svc.vipText, svc.port)}${svc.servers.length ? `: servers are ${svc.servers.map((s) => s.key).join(', ')}` : ''}`);
    }
    return { rs, rt };
  }

  /**
   * The MAC that frames to `ip` are sent to, or 0 (unknown). With `strict`, an unreachable server is
   * an error that says why.
   */
  private resolveMac(net: NetworkRuntime, ip: LbIp, method: ForwardMethod, strict: boolean): number {
    const v6 = typeof ip !== 'number';
    const ipText = formatLbIp(ip);
    const pool = poolOf(net, v6 ? 6 : 4);
    const inSubnet = pool?.contains(ipText) ?? false;
    for (const e of net.endpoints.values()) if ((v6 ? e.record.ip6 : e.record.ip) === ipText) return parseMac(e.record.mac);
    // Overlay: an endpoint on another host (from the cluster store, `fdb add --ip`, or learned).
    const vx = net.domain ? VxlanPort.of(net.domain) : null;
    const remote = !vx ? undefined : v6 ? vx.neighbors6.lookup(ipText, this.host.engine.clock.now()) : vx.neighbors.get(ip as number)?.mac;
    if (remote) return remote;
    const gw = net.record.gateway;
    if (gw && (v6 ? gw.ip6 : gw.ip) === ipText) return parseMac(gw.mac);
    if (!inSubnet) {
      if (method === 'dr') {
        if (strict) throw new TsnError('ERR_LB_BAD_SERVER', `real server ${ipText} is outside network ${net.record.name}'s subnet ${pool?.subnet}: direct routing (-g) needs the server on the same L2 network; use -m (NAT) or -i (tunnel) to reach it through the gateway`);
        return 0;
      }
      if (gw) return parseMac(gw.mac);
      if (strict) throw new TsnError('ERR_LB_BAD_SERVER', `real server ${ipText} is outside network ${net.record.name}'s ${v6 ? 'IPv6 ' : ''}subnet ${pool?.subnet ?? '(none)'} and the network has no gateway (internal): it cannot be reached`);
      return 0;
    }
    if (strict) throw new TsnError('ERR_LB_BAD_SERVER', `real server ${ipText} is not an endpoint of network ${net.record.name}: connect it first (tsnet-switch connect ${net.record.name} ${v6 ? '--ip6' : '--ip'} ${ipText} ...)`, { value: ipText });
    return 0;
  }

  addService(req: AddServiceRequest) {
    const protocol = checkProtocol(req.protocol);
    const a = parseAddrPort(req.service, 'service', true);
    const scheduler = checkScheduler(req.scheduler ?? 'wlc');
    const persistTimeout = checkPersist(req.persistTimeout ?? 0);
    const net = this.host.network(req.network);
    if (!net.ipam || !net.domain) {
      throw new TsnError('ERR_BAD_OPTION', `network ${net.record.name} (driver ${net.record.driver}) has no subnet: a VIP needs a bridge network`);
    }
    const pool = poolOf(net, a.family);
    if (!pool) {
      throw new TsnError('ERR_LB_BAD_ADDRESS', `VIP ${a.text} is IPv6 and network ${net.record.name} has no IPv6 subnet: create it dual-stack (network create --ipv6 --subnet ${net.ipam.subnet} --subnet fd00:…/64), or choose an address of ${net.ipam.subnet}`, { value: a.text });
    }
    const name = serviceName(protocol, a.text, a.port!);
    if (!pool.contains(a.text)) {
      throw new TsnError('ERR_LB_BAD_ADDRESS', `VIP ${a.text} is outside network ${net.record.name}'s ${a.family === 6 ? 'IPv6 ' : ''}subnet ${pool.subnet}: choose an address in it`, { value: a.text, subnet: pool.subnet });
    }
    if (this.lb.findService(protocol === 'tcp' ? 6 : 17, a.ip, a.port!)) {
      throw new TsnError('ERR_LB_SERVICE_EXISTS', `virtual service ${name} exists already: change it with lb edit-service`);
    }
    const shared = this.vipShared(a.text);
    if (shared) {
      const other = [...this.records.entries()].find(([s]) => s.vipText === a.text)!;
      if (other[1].net !== net) throw new TsnError('ERR_LB_VIP_IN_USE', `VIP ${a.text} is in use on network ${other[1].net.record.name}`);
    } else {
      const why = pool.reservedReason(a.text);
      if (why) throw new TsnError('ERR_LB_VIP_IN_USE', `VIP ${a.text} is ${why}: choose a free address of ${pool.subnet}`, { value: a.text });
      const owner = [...net.endpoints.values()].find((e) => (a.family === 6 ? e.record.ip6 : e.record.ip) === a.text);
      if (owner || pool.isAllocated(a.text)) {
        throw new TsnError('ERR_LB_VIP_IN_USE', `VIP ${a.text} is ${owner ? `endpoint ${owner.record.id}'s address` : 'allocated'} on ${net.record.name}: choose a free address of ${pool.subnet}`, { value: a.text });
      }
    }
    const record: LbServiceRecord = { networkId: net.record.id, protocol, vip: a.text, port: a.port!, scheduler, persistTimeout, servers: [] };
    if (!shared) pool.allocate(a.text);
    const svc = this.lb.addService(net.domain, { protocol, vip: a.ip, port: a.port!, scheduler, persistTimeout });
    this.records.set(svc, { record, net });
    try {
      this.host.persist();
    } catch (err) {
      this.lb.removeService(svc);
      this.records.delete(svc);
      if (!shared) pool.release(a.text);
      throw err;
    }
    this.host.log(`lb: service ${name} on ${net.record.name} (scheduler ${scheduler}${persistTimeout ? `, persistent ${persistTimeout}s` : ''})`);
    return this.describe(svc);
  }

  editService(req: EditServiceRequest) {
    const { svc, record } = this.service(req);
    const scheduler = req.scheduler !== undefined ? checkScheduler(req.scheduler) : undefined;
    const persistTimeout = req.persistTimeout !== undefined ? checkPersist(req.persistTimeout) : undefined;
    this.lb.editService(svc, { scheduler, persistTimeout });
    if (scheduler) record.scheduler = scheduler;
    if (persistTimeout !== undefined) record.persistTimeout = persistTimeout;
    this.host.persist();
    return this.describe(svc);
  }

  delService(req: ServiceRef) {
    const { svc, net, record } = this.service(req);
    for (const rs of svc.servers) this.health.stop(rs);
    this.lb.removeService(svc);
    this.records.delete(svc);
    if (!this.vipShared(svc.vipText)) poolOf(net, svc.family)?.release(record.vip);
    this.host.persist();
    this.host.log(`lb: service ${serviceName(svc.protocol, svc.vipText, svc.port)} removed`);
    return { removed: serviceName(svc.protocol, svc.vipText, svc.port) };
  }

  /** Describe the servers as they would be after a change, for `previewChange`. */
  private after(svc: VirtualService, change: { add?: { text: string; port: number; weight: number }; edit?: { rs: RealServer; weight: number }; del?: RealServer }) {
    const list = svc.servers
      .filter((s) => !s.removed)
      .map((s) => {
        const weight = change.edit?.rs === s ? change.edit.weight : s.weight;
        const removedNow = change.del === s;
        return { key: s.key, weight, available: !removedNow && weight > 0 && s.healthy && s.mac !== 0 && !s.draining, removedNow, id: s.id };
      });
    if (change.add) list.push({ key: formatHostPort(change.add.text, change.add.port), weight: change.add.weight, available: change.add.weight > 0, removedNow: false, id: -1 });
    return list;
  }

  private preview(svc: VirtualService, p: MovePreview) {
    return { dryRun: true, service: serviceName(svc.protocol, svc.vipText, svc.port), trackedFlows: p.tracked, movedFlows: p.moved, detail: p.detail };
  }

  /** `strict: false` (the cluster store's follower): a server not reachable yet is added unavailable (MAC 0). */
  /** A real server is of its service's family; IPv6 is forwarded by NAT or DR. */
  private checkFamily(svc: VirtualService, a: LbAddress, method: ForwardMethod): void {
    if (a.family !== svc.family) {
      throw new TsnError('ERR_LB_BAD_SERVER', `real server ${a.text} is ${familyName(a.family)} and ${serviceName(svc.protocol, svc.vipText, svc.port)} is ${familyName(svc.family)}: a service's real servers are of its VIP's family (add an ${familyName(a.family)} service for them)`, { value: a.text });
    }
    if (a.family === 6 && method === 'tun') {
      throw new TsnError('ERR_LB_BAD_SERVER', `real server ${a.text}: tunneling (-i) is IPv4 only here (IPVS's IPv6 tunnel is IPv6-in-IPv6, which this kernel cannot terminate: no ip6tnl); use NAT (-m) or direct routing (-g)`, { value: a.text });
    }
  }

  addServer(req: ServerRequest, { strict = true }: { strict?: boolean } = {}) {
    const { svc, record, net } = this.service(req);
    const a = parseAddrPort(req.server, 'real server', false);
    const method = checkMethod(req.method ?? 'nat');
    const port = a.port ?? svc.port;
    const weight = checkWeight(req.weight ?? 1);
    this.checkFamily(svc, a, method);
    if (method !== 'nat' && port !== svc.port) {
      throw new TsnError('ERR_LB_BAD_SERVER', `real server ${a.text}:${port}: ${method === 'dr' ? 'direct routing (-g)' : 'tunneling (-i)'} delivers to the VIP's own port ${svc.port}; drop :${port}, or use NAT (-m) to change the port`);
    }
    if (a.text === svc.vipText) throw new TsnError('ERR_LB_BAD_SERVER', `real server ${a.text} is the VIP itself`);
    if (svc.servers.some((s) => s.ipText === a.text && s.port === port && !s.removed)) {
      throw new TsnError('ERR_LB_SERVER_EXISTS', `real server ${formatHostPort(a.text, port)} is in ${serviceName(svc.protocol, svc.vipText, svc.port)} already: change it with lb edit-server`);
    }
    const mac = this.resolveMac(net, a.ip, method, strict);
    const check = parseCheckOptions(req.options, net, svc) ?? null;
    if (req.dryRun) return this.preview(svc, this.lb.previewChange(svc, this.after(svc, { add: { text: a.text, port, weight } })));
    const srec: LbServerRecord = { ip: a.text, port, weight, method, check };
    const rs = this.lb.addServer(svc, { ip: a.ip, port, weight, method, mac });
    record.servers.push(srec);
    this.health.start(svc, rs, srec);
    try {
      this.host.persist();
    } catch (err) {
      this.health.stop(rs);
      this.lb.removeServer(svc, rs, false);
      record.servers = record.servers.filter((s) => s !== srec);
      throw err;
    }
    this.host.log(`lb: real server ${rs.key} (${method}, weight ${weight}) added to ${serviceName(svc.protocol, svc.vipText, svc.port)}`);
    return this.describe(svc);
  }

  editServer(req: ServerRequest) {
    const { svc, net } = this.service(req);
    const { rs, rt } = this.server(svc, req.server);
    const weight = req.weight !== undefined ? checkWeight(req.weight) : undefined;
    const method = req.method !== undefined ? checkMethod(req.method) : undefined;
    if (method) this.checkFamily(svc, parseAddrPort(req.server, 'real server', false), method);
    if (method && method !== 'nat' && rs.port !== svc.port) {
      throw new TsnError('ERR_LB_BAD_SERVER', `real server ${rs.key}: ${method === 'dr' ? 'direct routing (-g)' : 'tunneling (-i)'} delivers to the VIP's own port ${svc.port}; delete and re-add it without a port`);
    }
    const mac = method ? this.resolveMac(net, rs.ip6 ?? rs.ip, method, true) : rs.mac;
    const check = parseCheckOptions(req.options, net, svc);
    if (req.dryRun) return this.preview(svc, this.lb.previewChange(svc, this.after(svc, { edit: { rs, weight: weight ?? rs.weight } })));
    rs.mac = mac;
    this.lb.editServer(svc, rs, { weight, method });
    if (weight !== undefined) rt.record.weight = weight;
    if (method !== undefined) rt.record.method = method;
    if (check !== undefined) {
      rt.record.check = check;
      const record = rt.record;
      this.health.stop(rs);
      rs.healthy = true;
      this.health.start(svc, rs, record);
      this.lb.serverChanged(rs);
    }
    this.host.persist();
    return this.describe(svc);
  }

  delServer(req: DelServerRequest) {
    const { svc, record } = this.service(req);
    const { rs, rt } = this.server(svc, req.server);
    if (req.dryRun) {
      const p = this.lb.previewChange(svc, this.after(svc, req.graceful ? { edit: { rs, weight: 0 } } : { del: rs }));
      return this.preview(svc, p);
    }
    const connections = rs.connections;
    const gone = this.lb.removeServer(svc, rs, req.graceful === true);
    record.servers = record.servers.filter((s) => s !== rt.record);
    if (gone) this.health.stop(rs);
    this.host.persist();
    this.host.log(`lb: real server ${rs.key} ${gone ? 'removed' : `draining (${connections} connections)`} from ${serviceName(svc.protocol, svc.vipText, svc.port)}`);
    return { service: serviceName(svc.protocol, svc.vipText, svc.port), server: rs.key, removed: gone, draining: !gone, connections: rs.connections, flushed: gone ? connections : 0 };
  }

  zero(ref?: Partial<ServiceRef>) {
    if (ref && ref.service) this.lb.zero(this.service(ref as ServiceRef).svc);
    else this.lb.zero();
    if (!ref?.service) return { zeroed: 'all' };
    const a = parseAddrPort(ref.service, 'service', true);
    return { zeroed: serviceName(checkProtocol(ref.protocol), a.text, a.port!) };
  }

  setTimeouts(req: Partial<LbTimeouts>): LbTimeouts {
    const cur = this.lb.timeouts;
    for (const k of ['tcp', 'tcpfin', 'udp'] as const) {
      const v = req[k];
      if (v === undefined || v === 0) continue;
      if (!Number.isInteger(v) || v < 1 || v > 31 * 86400) throw new TsnError('ERR_BAD_OPTION', `${k} timeout ${v}: expected whole seconds from 1 to ${31 * 86400} (0 keeps the current value)`, { value: v });
      cur[k] = v;
    }
    this.lb.setTimeouts(cur);
    this.host.persist();
    return cur;
  }

  /** A network is going: its services go with it. */
  networkRemoved(net: NetworkRuntime): void {
    for (const [svc, r] of [...this.records.entries()]) {
      if (r.net !== net) continue;
      for (const rs of svc.servers) this.health.stop(rs);
      this.lb.removeService(svc);
      this.records.delete(svc);
      this.host.log(`lb: service ${serviceName(svc.protocol, svc.vipText, svc.port)} removed with network ${net.record.name}`);
    }
  }

  /** Endpoints of `net` changed: resolve real servers' MACs again. */
  endpointsChanged(net: NetworkRuntime): void {
    for (const [svc, r] of this.records) {
      if (r.net !== net) continue;
      for (const rs of svc.servers) {
        const mac = this.resolveMac(net, rs.ip6 ?? rs.ip, rs.method, false);
        if (mac === rs.mac) continue;
        this.host.log(`lb: real server ${rs.key}: MAC ${rs.mac ? formatMac(rs.mac) : 'unknown'} -> ${mac ? formatMac(mac) : 'unknown'}; its connections are flushed`);
        this.lb.conns.removeWhere((e) => this.lb.conns.rs[e] === rs.id);
        rs.mac = mac;
        this.lb.serverChanged(rs);
      }
    }
  }

  private describe(svc: VirtualService) {
    return describeService(svc, this.records.get(svc)?.net, this.health);
  }

  /** `lb ls` (lb-listing.ts). */
  list(opts: { connections?: boolean; limit?: number } = {}) {
    return listLoadBalancer(this.lb, [...this.records].map(([svc, r]) => [svc, r.net] as [VirtualService, NetworkRuntime]), this.health, this.host.engine.clock.now(), opts);
  }

  /** Stop every health check (daemon stop). */
  close(): void {
    this.health.close();
  }
}
