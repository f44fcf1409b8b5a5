/**
 * What the load balancer's control plane accepts, checked before anything changes: protocols,
 * schedulers, persistence, weights, forwarding methods, VIP:PORT and RIP[:PORT] text, and a real
 * server's health-check options. Each refusal is a TsnError naming the value and what is accepted.
 */
import { TsnError } from '../errors.js';
import { parseHealthCheck, type HealthCheckSpec } from '../lb/health-check.js';
import type { ForwardMethod } from '../lb/real-server.js';
import { SCHEDULER_NAMES, type SchedulerName } from '../lb/schedulers/index.js';
import type { LbProtocol, VirtualService } from '../lb/virtual-service.js';
import { formatIpv4, ipv4OrProblem } from '../packet/ipv4.js';
import type { NetworkRuntime } from './drivers/network-driver.js';

export const MAX_PERSIST = 2678400;
const METHODS: readonly ForwardMethod[] = ['nat', 'dr', 'tun'];
export const METHOD_NAMES: Record<ForwardMethod, string> = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' };


function badAddress(what: string, text: string, accepted: string, why?: string): TsnError {
  return new TsnError('ERR_LB_BAD_ADDRESS', `${what} ${JSON.stringify(text)}: expected ${accepted}${why ? ` (the address: ${why})` : ''}`, { value: text });
}

/** Parse ADDRESS[:PORT]; the port is required when `needPort`. */
export function parseAddrPort(text: string, what: string, needPort: boolean): { ip: number; text: string; port: number | null } {
  const accepted = needPort ? 'an IPv4 address and a port 1-65535, like 10.0.0.100:80' : 'an IPv4 address with an optional port 1-65535, like 10.0.0.10 or 10.0.0.10:8080';
  const m = typeof text === 'string' ? /^([^:]*)(?::([0-9]{1,5}))?$/.exec(text) : null;
  const ip = m ? ipv4OrProblem(m[1]) : 'it is not ADDRESS[:PORT]';
  if (!m || typeof ip === 'string') throw badAddress(what, text, accepted, m ? (ip as string) : undefined);
  const portText = m[2];
  if (portText === undefined && needPort) throw badAddress(what, text, accepted);
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65535)) throw badAddress(what, text, accepted);
  return { ip, text: m[1], port };
}

export function checkProtocol(p: unknown): LbProtocol {
  if (p !== 'tcp' && p !== 'udp') throw new TsnError('ERR_BAD_OPTION', `protocol ${JSON.stringify(p)}: expected tcp (-t) or udp (-u)`);
  return p;
}

export function checkScheduler(s: string): SchedulerName {
  if (!(SCHEDULER_NAMES as readonly string[]).includes(s)) {
    throw new TsnError('ERR_LB_BAD_SCHEDULER', `scheduler ${JSON.stringify(s)} is unknown: expected one of ${SCHEDULER_NAMES.join(', ')}`, { value: s });
  }
  return s as SchedulerName;
}

export function checkPersist(p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > MAX_PERSIST) throw new TsnError('ERR_BAD_OPTION', `persistence timeout ${p}: expected whole seconds from 1 to ${MAX_PERSIST} (0: no persistence)`, { value: p });
  return p;
}

export function checkWeight(w: number): number {
  if (!Number.isInteger(w) || w < 0 || w > 65535) throw new TsnError('ERR_LB_BAD_WEIGHT', `weight ${w}: expected a whole number from 0 to 65535 (0 drains the server: no new connections)`, { value: w });
  return w;
}

export function checkMethod(m: string): ForwardMethod {
  if (!(METHODS as readonly string[]).includes(m)) throw new TsnError('ERR_BAD_OPTION', `forwarding method ${JSON.stringify(m)}: expected nat (-m), dr (-g) or tun (-i)`);
  return m as ForwardMethod;
}

export function serviceName(protocol: LbProtocol, vip: number | string, port: number): string {
  return `${protocol.toUpperCase()} ${typeof vip === 'number' ? formatIpv4(vip) : vip}:${port}`;
}

/** A server's `-o check=…` options: the last one wins; undefined when none is given, null for check=none. */
export function parseCheckOptions(options: string[] | undefined, net: NetworkRuntime, svc: VirtualService): HealthCheckSpec | null | undefined {
  if (!options || options.length === 0) return undefined;
  let spec: HealthCheckSpec | null | undefined;
  for (const o of options) {
    try {
      spec = parseHealthCheck(o);
    } catch (err) {
      throw new TsnError('ERR_BAD_OPTION', `-o ${o}: ${(err as Error).message}`, { value: o });
    }
  }
  if (spec && svc.protocol === 'udp' && spec.port === undefined) {
    throw new TsnError('ERR_BAD_OPTION', `-o ${options.join(' ')}: ${serviceName(svc.protocol, svc.vip, svc.port)} is UDP: a TCP connect check needs port=N, a TCP port the server answers on`);
  }
  if (spec && !net.record.gateway) {
    throw new TsnError('ERR_BAD_OPTION', `-o ${options.join(' ')}: network ${net.record.name} is internal (no gateway port): the daemon cannot reach its real servers to check them`);
  }
  return spec;
}
