/**
 * `lb ls` as data: each service with its servers, counters and health, the connection table's size,
 * and with `connections` its live rows (as `ipvsadm -Lnc` lists them).
 */
import { PROTO_V6, STATE_NAMES } from '../lb/conn-table.js';
import { formatHostPort } from '../lb/lb-address.js';
import { vipMacOf, type LoadBalancer } from '../lb/load-balancer.js';
import type { VirtualService } from '../lb/virtual-service.js';
import { formatIpv4 } from '../packet/ipv4.js';
import { formatIpv6 } from '../packet/ipv6.js';
import { formatMac } from '../packet/mac.js';
import type { NetworkRuntime } from './drivers/network-driver.js';
import type { ServerHealth } from './lb-health.js';
import { METHOD_NAMES } from './lb-validation.js';

export function describeService(svc: VirtualService, net: NetworkRuntime | undefined, health: ServerHealth) {
  return {
    protocol: svc.protocol,
    family: svc.family,
    vip: svc.vipText,
    port: svc.port,
    network: net?.record.name ?? null,
    vipMac: formatMac(vipMacOf(svc.vip6 ?? svc.vip)),
    scheduler: svc.schedulerName,
    persistTimeout: svc.persistTimeout,
    noServer: svc.noServer,
    stats: svc.stats.toJSON(),
    servers: svc.servers.map((rs) => {
      const rt = health.get(rs);
      return {
        ip: rs.ipText,
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
      const client6 = new Uint8Array(16);
      const view = new DataView(client6.buffer);
      for (const e of t.entries()) {
        if (rows.length >= limit) break;
        if (t.expires[e] <= now) continue;
        const p = t.ports[e];
        const v6 = t.proto[e] >= PROTO_V6;
        if (v6) for (let k = 0; k < 4; k++) view.setUint32(k * 4, t.cip6![e * 4 + k]);
        // IPv6 entries hold handles for the VIP and the server (lb-address.ts).
        const text = (a: number) => (v6 ? formatIpv6(lb.addrs6.addressOf(a), 0) : formatIpv4(a));
        rows.push({
          protocol: (t.proto[e] & 0xff) === 6 ? 'tcp' : 'udp',
          state: STATE_NAMES[t.state[e]],
          expiresIn: Math.max(0, Math.round(t.expires[e] - now)),
          client: formatHostPort(v6 ? formatIpv6(client6, 0) : formatIpv4(t.cip[e]), p >>> 16),
          virtual: formatHostPort(text(t.vip[e]), p & 0xffff),
          server: formatHostPort(text(t.rip[e]), t.rport[e]),
        });
      }
    }
    out.connections = rows;
  }
  return out;
}
