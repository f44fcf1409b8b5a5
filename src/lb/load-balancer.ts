/**
 * LoadBalancer: the runtime of every virtual service in one switch: VIPs per L2 domain, services, real
 * servers, the connection table and the periodic work (expiry, persistence templates, rate estimates,
 * finishing graceful removals). The `lb` stage (dataplane/stages/lb.ts) asks it per packet; the control
 * plane (control/lb-control.ts) changes it between bursts.
 *
 * Choices:
 * - Servers and services live in arrays indexed by id; connection entries store those ids, so the
 *   per-packet path is typed-array reads plus one object field read, no allocation.
 * - The connection table is allocated on the first service (58 bytes per entry: a million connections
 *   cost about 58 MiB; 16 more per entry once there is an IPv6 service), so a switch without services
 *   pays nothing.
 * - IPv6 VIPs and real servers are handles of `addrs6` (lb-address.ts) wherever an IPv4 address would
 *   be a uint32, beside the family; a domain keeps its IPv6 VIPs apart (`vips6`), by handle.
 * - A server removed without --graceful takes its connections with it at once: no packet is ever sent
 *   to a removed backend, and a server re-added at the same address starts with no stale entries.
 *   `--graceful` (and weight 0) drains instead: no new connections, existing ones continue; a graceful
 *   removal completes when no connection is left but TIME_WAIT/CLOSE ones (those are flushed with it).
 * - A SYN that hits an entry in TIME_WAIT/CLOSE/FIN_WAIT (client port reuse), or whose server no longer
 *   takes connections, is a new connection and is scheduled afresh (IPVS's conn_reuse_mode, done right).
 */
import type { L2Domain } from '../dataplane/l2-domain.js';
import { read32 } from '../packet/bytes.js';
import { parseIpv4 } from '../packet/ipv4.js';
import { parseIpv6 } from '../packet/ipv6.js';
import { ConnTable, F_PERSIST, IPPROTO_TCP, IPPROTO_UDP, PROTO_V6, STATE_CLOSE, STATE_ESTABLISHED, STATE_TIME_WAIT, type LbTimeouts } from './conn-table.js';
import { familyOf, formatLbIp, Ipv6Handles, type LbIp } from './lb-address.js';

const closing = (st: number) => st === STATE_TIME_WAIT || st === STATE_CLOSE;
import { RealServer, type ForwardMethod } from './real-server.js';
import { createScheduler, type SchedulerName } from './schedulers/index.js';
import { VirtualService, type LbProtocol } from './virtual-service.js';

/** A VIP on one domain: its switch-owned MAC and its services by (proto << 16 | port). */
export interface LbVip {
  /** The IPv4 address, or the IPv6 address's handle. */
  ip: number;
  mac: number;
  services: Map<number, VirtualService>;
}

/** The load balancer's view of one L2 domain. */
export interface LbDomain {
  vips: Map<number, LbVip>;
  /** IPv6 VIPs by handle. */
  vips6: Map<number, LbVip>;
  /** NAT real servers of IPv4 services: their replies need the reverse lookup. */
  natServers: number;
  /** The same for IPv6 services. */
  natServers6: number;
}

export interface LoadBalancerOptions {
  /** Connections the table holds (default 1,048,576). */
  connCapacity?: number;
  maglevTableSize?: number;
}

export interface MovePreview {
  /** Connections of the service tracked now. */
  tracked: number;
  /** Of those, how many the change would send elsewhere (see `previewChange`). */
  moved: number;
  detail: string;
}

/** Switch-owned MAC of an IPv4 VIP: 0e:4c + the address (locally administered, unicast). */
export function vipMac(vip: number): number {
  return 0x0e4c * 0x100000000 + (vip >>> 0);
}

/** Switch-owned MAC of the IPv6 VIP at `buf[at]`: 0e:6c + its last 32 bits. */
export function vipMac6(buf: Uint8Array, at: number): number {
  return 0x0e6c * 0x100000000 + read32(buf, at + 12);
}

/** Switch-owned MAC of a VIP of either family. */
export function vipMacOf(ip: LbIp): number {
  return typeof ip === 'number' ? vipMac(ip) : vipMac6(ip, 0);
}

/** A persistence template's name for the IPv6 client at `words[at..at+3]`. */
function client6(words: Uint32Array, at: number): string {
  return `${words[at].toString(16)}:${words[at + 1].toString(16)}:${words[at + 2].toString(16)}:${words[at + 3].toString(16)}`;
}

export function protoNumber(p: LbProtocol): number {
  return p === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
}

export class LoadBalancer {
  private table: ConnTable | null = null;
  readonly connCapacity: number;
  readonly maglevTableSize: number | undefined;
  readonly services: (VirtualService | undefined)[] = [];
  readonly servers: (RealServer | undefined)[] = [];
  readonly domains = new Map<L2Domain, LbDomain>();
  /** Handles of the IPv6 VIPs and real servers. */
  readonly addrs6 = new Ipv6Handles();
  private readonly serviceDomain = new Map<VirtualService, L2Domain>();
  private timeoutsSet: LbTimeouts | null = null;
  private lastRates = -1;
  /** Real servers finished draining (graceful removal done), for the control plane to log. */
  onServerGone: ((rs: RealServer, svc: VirtualService) => void) | null = null;

  constructor(opts: LoadBalancerOptions = {}) {
    this.connCapacity = opts.connCapacity ?? 1 << 20;
    this.maglevTableSize = opts.maglevTableSize;
  }

  /** The connection table (allocated on first use). */
  get conns(): ConnTable {
    if (this.table === null) {
      const t = new ConnTable(this.connCapacity);
      if (this.timeoutsSet) t.timeouts = { ...this.timeoutsSet };
      t.onRemove = (e) => this.connGone(t, e);
      this.table = t;
    }
    return this.table;
  }

  get hasConnTable(): boolean {
    return this.table !== null;
  }

  get timeouts(): LbTimeouts {
    return this.table ? { ...this.table.timeouts } : { ...(this.timeoutsSet ?? { tcp: 900, tcpfin: 120, udp: 300 }) };
  }

  setTimeouts(t: LbTimeouts): void {
    this.timeoutsSet = { ...t };
    if (this.table) this.table.timeouts = { ...t };
  }

  domainOf(domain: L2Domain): LbDomain | undefined {
    return this.domains.get(domain);
  }

  findService(proto: number, vip: LbIp, port: number): VirtualService | undefined {
    const v6 = typeof vip !== 'number';
    const key = v6 ? this.addrs6.find(vip, 0) : vip;
    if (key < 0) return undefined;
    for (const d of this.domains.values()) {
      const s = (v6 ? d.vips6 : d.vips).get(key)?.services.get((proto << 16) | port);
      if (s) return s;
    }
    return undefined;
  }

  /** The address of a service's VIP, IPv4 number or IPv6 bytes. */
  vipOf(svc: VirtualService): LbIp {
    return svc.vip6 ?? svc.vip;
  }

  domainOfService(svc: VirtualService): L2Domain | undefined {
    return this.serviceDomain.get(svc);
  }

  addService(domain: L2Domain, spec: { protocol: LbProtocol; vip: LbIp; port: number; scheduler: SchedulerName; persistTimeout: number }): VirtualService {
    const proto = protoNumber(spec.protocol);
    if (this.findService(proto, spec.vip, spec.port)) throw new Error(`service ${spec.protocol} ${formatLbIp(spec.vip)}:${spec.port} exists already`);
    const family = familyOf(spec.vip);
    void this.conns; // allocate the table now, not on the first packet
    if (family === 6) this.conns.enableIpv6();
    const vip6 = typeof spec.vip === 'number' ? null : Uint8Array.from(spec.vip.subarray(0, 16));
    const vipKey = vip6 === null ? (spec.vip as number) : this.addrs6.intern(vip6);
    let id = this.services.indexOf(undefined);
    if (id < 0) id = this.services.length;
    const svc = new VirtualService(id, spec.protocol, proto, vipKey, spec.port, createScheduler(spec.scheduler, { maglevTableSize: this.maglevTableSize }), spec.persistTimeout, family, vip6);
    this.services[id] = svc;
    let d = this.domains.get(domain);
    if (!d) {
      d = { vips: new Map(), vips6: new Map(), natServers: 0, natServers6: 0 };
      this.domains.set(domain, d);
    }
    const vips = vip6 === null ? d.vips : d.vips6;
    let v = vips.get(vipKey);
    if (!v) {
      v = { ip: vipKey, mac: vipMacOf(spec.vip), services: new Map() };
      vips.set(vipKey, v);
    }
    v.services.set((proto << 16) | spec.port, svc);
    this.serviceDomain.set(svc, domain);
    svc.refresh();
    return svc;
  }

  editService(svc: VirtualService, spec: { scheduler?: SchedulerName; persistTimeout?: number }): void {
    if (spec.scheduler !== undefined && spec.scheduler !== svc.schedulerName) {
      svc.scheduler = createScheduler(spec.scheduler, { maglevTableSize: this.maglevTableSize });
      svc.refresh();
    }
    if (spec.persistTimeout !== undefined) {
      svc.persistTimeout = spec.persistTimeout;
      if (spec.persistTimeout === 0) for (const s of svc.servers) s.persistConns = 0;
      if (spec.persistTimeout === 0) svc.templates.clear();
    }
  }

  /** Remove a service, its servers and every connection to it. */
  removeService(svc: VirtualService): void {
    this.conns.removeWhere((e) => this.conns.svc[e] === svc.id);
    for (const rs of svc.servers) this.dropServer(rs, svc);
    svc.servers = [];
    const domain = this.serviceDomain.get(svc)!;
    const d = this.domains.get(domain);
    const vips = svc.family === 6 ? d?.vips6 : d?.vips;
    const v = vips?.get(svc.vip);
    v?.services.delete((svc.proto << 16) | svc.port);
    if (vips && v && v.services.size === 0) vips.delete(svc.vip);
    if (d && d.vips.size === 0 && d.vips6.size === 0) this.domains.delete(domain);
    this.serviceDomain.delete(svc);
    this.services[svc.id] = undefined;
    if (svc.family === 6) this.addrs6.release(svc.vip);
    this.recountNat(svc);
  }

  /** Remove every service on a domain (the network is going). */
  removeDomain(domain: L2Domain): void {
    for (const svc of [...this.serviceDomain.keys()]) if (this.serviceDomain.get(svc) === domain) this.removeService(svc);
  }

  addServer(svc: VirtualService, spec: { ip: LbIp; port: number; weight: number; method: ForwardMethod; mac: number }): RealServer {
    if (familyOf(spec.ip) !== svc.family) throw new Error(`real server ${formatLbIp(spec.ip)} is not IPv${svc.family} as the service is`);
    const ip6 = typeof spec.ip === 'number' ? null : Uint8Array.from(spec.ip.subarray(0, 16));
    const key = ip6 === null ? '' : formatLbIp(ip6);
    if (svc.servers.some((s) => s.port === spec.port && (ip6 === null ? s.ip === spec.ip : s.ip6 !== null && formatLbIp(s.ip6) === key))) throw new Error('real server exists already');
    let id = this.servers.indexOf(undefined);
    if (id < 0) id = this.servers.length;
    const ip = ip6 === null ? (spec.ip as number) : this.addrs6.intern(ip6);
    const rs = new RealServer(id, svc.id, ip, spec.port, spec.weight, spec.method, spec.mac, svc.family, ip6);
    this.servers[id] = rs;
    svc.servers.push(rs);
    this.recountNat(svc);
    svc.refresh();
    return rs;
  }

  editServer(svc: VirtualService, rs: RealServer, spec: { weight?: number; method?: ForwardMethod }): void {
    if (spec.weight !== undefined) rs.weight = spec.weight;
    if (spec.method !== undefined && spec.method !== rs.method) {
      // Entries made for the old method carry its indexing (NAT replies): start them afresh.
      this.conns.removeWhere((e) => this.conns.rs[e] === rs.id);
      rs.method = spec.method;
      this.recountNat(svc);
    }
    svc.refresh();
  }

  /** Health or MAC changed: the scheduler sees the new set. */
  serverChanged(rs: RealServer): void {
    const svc = this.services[rs.serviceId];
    if (svc) svc.refresh();
  }

  /**
   * Remove a real server. `graceful`: it stops taking new connections and goes when its last connection
   * does (periodic); returns false then if it is still draining. Otherwise its connections go now.
   */
  removeServer(svc: VirtualService, rs: RealServer, graceful: boolean): boolean {
    if (graceful && rs.liveConnections > 0) {
      rs.draining = true;
      svc.dropTemplatesOf(rs);
      svc.refresh();
      return false;
    }
    this.conns.removeWhere((e) => this.conns.rs[e] === rs.id);
    this.dropServer(rs, svc);
    svc.servers = svc.servers.filter((s) => s !== rs);
    this.recountNat(svc);
    svc.refresh();
    return true;
  }

  private dropServer(rs: RealServer, svc: VirtualService): void {
    if (!rs.removed && rs.family === 6) this.addrs6.release(rs.ip);
    rs.removed = true;
    svc.dropTemplatesOf(rs);
    if (this.servers[rs.id] === rs) this.servers[rs.id] = undefined;
  }

  private recountNat(_svc: VirtualService): void {
    const nat = (vips: Map<number, LbVip>) => {
      let n = 0;
      for (const v of vips.values()) for (const s of v.services.values()) for (const rs of s.servers) if (rs.method === 'nat') n++;
      return n;
    };
    for (const d of this.domains.values()) {
      d.natServers = nat(d.vips);
      d.natServers6 = nat(d.vips6);
    }
  }

  /**
   * A new connection's entry (the server chosen by the service's scheduler), or -1 (none available /
   * table full). For an IPv6 service `cip` is the client's fold and its address is in `conns.key6`.
   */
  connect(svc: VirtualService, cip: number, cport: number, now: number): number {
    const v6 = svc.family === 6;
    const client = v6 && svc.persistTimeout > 0 ? client6(this.conns.key6, 0) : cip;
    const rs = svc.schedule(cip, cport, now, client);
    if (rs === null) {
      svc.noServer++;
      return -1;
    }
    const t = this.conns;
    const e = t.insert(v6 ? svc.proto + PROTO_V6 : svc.proto, cip, cport, svc.vip, svc.port, rs.ip, rs.port, svc.id, rs.id, rs.method === 'nat', now);
    if (e < 0) return -1;
    rs.inactConns++; // SYN_RECV or UDP: inactive until established
    rs.stats.conns++;
    svc.stats.conns++;
    if (svc.persistTimeout > 0) {
      const tpl = svc.templates.get(client);
      if (tpl) {
        tpl.conns++;
        t.flags[e] |= F_PERSIST;
      }
    }
    return e;
  }

  /** Keep the active/inactive counts of a server in step with a state change. */
  stateChanged(e: number, from: number, to: number): void {
    if (from === to) return;
    const rs = this.servers[this.conns.rs[e]];
    if (!rs) return;
    if (from === STATE_ESTABLISHED) {
      rs.activeConns--;
      rs.inactConns++;
    } else if (to === STATE_ESTABLISHED) {
      rs.inactConns--;
      rs.activeConns++;
    }
    if (closing(from) !== closing(to)) rs.closingConns += closing(to) ? 1 : -1;
  }

  private connGone(t: ConnTable, e: number): void {
    const rs = this.servers[t.rs[e]];
    if (rs) {
      if (t.state[e] === STATE_ESTABLISHED) rs.activeConns--;
      else rs.inactConns--;
      if (closing(t.state[e])) rs.closingConns--;
    }
    if (t.flags[e] & F_PERSIST) {
      const svc = this.services[t.svc[e]];
      const tpl = svc?.templates.get(t.proto[e] >= PROTO_V6 ? client6(t.cip6!, e * 4) : t.cip[e]);
      if (tpl) tpl.conns--;
    }
  }

  /** Periodic work, about once a second: expiry, templates, graceful removals, rates. */
  periodic(now: number): void {
    if (this.table === null) return;
    this.table.expire(now);
    const rates = this.lastRates < 0 || now - this.lastRates >= 1;
    for (const svc of this.services) {
      if (!svc) continue;
      if (svc.persistTimeout > 0) svc.expireTemplates(now);
      for (const rs of [...svc.servers]) {
        if (rs.draining && rs.liveConnections === 0) {
          this.removeServer(svc, rs, false);
          this.onServerGone?.(rs, svc);
        }
        if (rates) rs.stats.estimate(now);
      }
      if (rates) svc.stats.estimate(now);
    }
    if (rates) this.lastRates = now;
  }

  /** Forget counters (`lb zero`). */
  zero(svc?: VirtualService): void {
    for (const s of svc ? [svc] : this.services) {
      if (!s) continue;
      s.stats.zero();
      s.noServer = 0;
      for (const rs of s.servers) rs.stats.zero();
    }
  }

  /**
   * What a change to a service's server set would do to the flows tracked now, before it is made.
   * `after` lists the servers as they would be (new ones as plain descriptions). For hash schedulers
   * (sh, mh) a flow moves when its client would hash to a different server; for the others established
   * flows stay pinned to their server, and only flows on a server that is removed move. Persistence
   * templates whose server would stop being available count as moved clients too.
   */
  previewChange(svc: VirtualService, after: { key: string; weight: number; available: boolean; removedNow: boolean; id: number }[]): MovePreview {
    const t = this.conns;
    const entries: number[] = [];
    for (const e of t.entries()) if (t.svc[e] === svc.id) entries.push(e);
    const keyOf = (rs: RealServer | undefined) => rs?.key ?? '';
    let moved = 0;
    const removedIds = new Set(after.filter((a) => a.removedNow).map((a) => a.id));
    if (svc.scheduler.isHash) {
      const sched = createScheduler(svc.schedulerName, { maglevTableSize: this.maglevTableSize });
      const avail = after.filter((a) => a.available).map((a, i) => {
        const colon = a.key.lastIndexOf(':');
        const ip = a.key.slice(0, colon);
        const port = Number(a.key.slice(colon + 1));
        if (svc.family === 4) return new RealServer(-1 - i, svc.id, parseIpv4(ip), port, a.weight, 'nat', 1);
        const ip6 = new Uint8Array(16);
        parseIpv6(ip.slice(1, -1), ip6, 0); // [addr]
        return new RealServer(-1 - i, svc.id, -1, port, a.weight, 'nat', 1, 6, ip6);
      });
      sched.update(avail);
      for (const e of entries) {
        const now = keyOf(this.servers[t.rs[e]]);
        const next = sched.target(t.cip[e], t.ports[e] >>> 16)?.key ?? '';
        if (next !== now) moved++;
      }
      return { tracked: entries.length, moved, detail: `${svc.schedulerName}: ${moved} of ${entries.length} tracked flows would hash to another server (established connections stay on theirs until they end)` };
    }
    for (const e of entries) if (removedIds.has(t.rs[e])) moved++;
    let clients = 0;
    const unavailable = new Set(after.filter((a) => !a.available).map((a) => a.key));
    for (const tpl of svc.templates.values()) if (unavailable.has(tpl.rs.key)) clients++;
    const extra = svc.persistTimeout > 0 ? `; ${clients} persistent client(s) would be scheduled afresh` : '';
    return { tracked: entries.length, moved, detail: `${svc.schedulerName}: connections stay on their server; ${moved} of ${entries.length} tracked flows are on a server that would be removed${extra}` };
  }
}
