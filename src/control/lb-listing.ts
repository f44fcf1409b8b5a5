/**
 * `lb ls` as data: each service with its servers, counters and health, the connection table's size,
 * and with `connections` its live rows (as `ipvsadm -Lnc` lists them).
 */
import { STATE_NAMES } from '../lb/conn-table.js';
import { vipMac, type LoadBalancer } from '../lb/load-balancer.js';
import type { VirtualService } from '../lb/virtual-service.js';
import { formatIpv4 } from '../packet/ipv4.js';
import { formatMac } from '../packet/mac.js';
import type { NetworkRuntime } from './drivers/network-driver.js';
import type { ServerHealth } from './lb-health.js';
import { METHOD_NAMES } from './lb-validation.js';

export function describeService(svc: VirtualService, net: NetworkRuntime | undefined, health: ServerHealth) {
  return {
    protocol: svc.protocol,
    vip: formatIpv4(svc.vip),
    port: svc.port,
    network: net?.record.name ?? null,
    vipMac: formatMac(vipMac(svc.vip)),
    scheduler: svc.schedulerName,
    persistTimeout: svc.persistTimeout,
    noServer: svc.noServer,
    stats: svc.stats.toJSON(),
    servers: svc.servers.map((rs) => {
      const rt = health.get(rs);
      return {
        ip: formatIpv4(rs.ip),
        port: rs.port,
        method: rs.method,
        forward: METHOD_NAMES[rs.method],
        weight: rs.weight,
        activeConns: rs.activeConns,
        inactConns: rs.inactConns,
        persistConns: rs.persistConns,
        healthy: rs.healthy,
        draining: rs.draining,
        mac: rs.mac ? formatMac(rs.mac) : null,
        check: rt?.check ? { ...rt.record.check, ...rt.check.state } : null,
        stats: rs.stats.toJSON(),
      };
    }),
  };
}

/** `lb ls`: services, servers, counters; with `connections`, the connection table (capped at `limit` rows). */
export function listLoadBalancer(lb: LoadBalancer, services: Iterable<[VirtualService, NetworkRuntime]>, health: ServerHealth, now: number, opts: { connections?: boolean; limit?: number } = {}) {
  const t = lb.hasConnTable ? lb.conns : null;
  const out: Record<string, unknown> = {
    timeouts: lb.timeouts,
    table: t
      ? { connections: t.count, capacity: t.capacity, bytesPerEntry: Math.round(t.bytesPerEntry * 10) / 10, created: t.created, expired: t.expired, refusedFull: t.refusedFull }
      : { connections: 0, capacity: lb.connCapacity, bytesPerEntry: null, created: 0, expired: 0, refusedFull: 0 },
    services: [...services].map(([s, net]) => describeService(s, net, health)),
  };
  if (opts.connections) {
    const rows: unknown[] = [];
    const limit = opts.limit ?? 10000;
    if (t) {
      for (const e of t.entries()) {
        if (rows.length >= limit) break;
        if (t.expires[e] <= now) continue;
        const p = t.ports[e];
        rows.push({
          protocol: t.proto[e] === 6 ? 'tcp' : 'udp',
          state: STATE_NAMES[t.state[e]],
          expiresIn: Math.max(0, Math.round(t.expires[e] - now)),
          client: `${formatIpv4(t.cip[e])}:${p >>> 16}`,
          virtual: `${formatIpv4(t.vip[e])}:${p & 0xffff}`,
          server: `${formatIpv4(t.rip[e])}:${t.rport[e]}`,
        });
      }
    }
    out.connections = rows;
  }
  return out;
}
