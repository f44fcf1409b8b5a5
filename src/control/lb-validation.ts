/**
 * What the load balancer's control plane accepts, checked before anything changes: protocols,
 * schedulers, persistence, weights, forwarding methods, VIP:PORT and RIP[:PORT] text (IPv4, or IPv6
 * in brackets as ipvsadm writes it), and a real
 * server's health-check options. Each refusal is a TsnError naming the value and what is accepted.
 */
import { TsnError } from '../errors.js';
import { parseHealthCheck, type HealthCheckSpec } from '../lb/health-check.js';
import type { ForwardMethod } from '../lb/real-server.js';
import { SCHEDULER_NAMES, type SchedulerName } from '../lb/schedulers/index.js';
import type { LbProtocol, VirtualService } from '../lb/virtual-service.js';
import { familyOf, formatHostPort, formatLbIp, type LbFamily, type LbIp } from '../lb/lb-address.js';
import { ipv4OrProblem } from '../packet/ipv4.js';
import { parseIpv6 } from '../packet/ipv6.js';
import type { NetworkRuntime } from './drivers/network-driver.js';

export const MAX_PERSIST = 2678400;
const METHODS: readonly ForwardMethod[] = ['nat', 'dr', 'tun'];
export const METHOD_NAMES: Record<ForwardMethod, string> = { nat: 'Masq', dr: 'Route', tun: 'Tunnel' };


function badAddress(what: string, text: string, accepted: string, why?: string): TsnError {
  return new TsnError('ERR_LB_BAD_ADDRESS', `${what} ${JSON.stringify(text)}: expected ${accepted}${why ? ` (the address: ${why})` : ''}`, { value: text });
}

/** An address the load balancer accepts, parsed: IPv4 as a number, IPv6 as 16 bytes; `text` canonical. */
export interface LbAddress {
  ip: LbIp;
  family: LbFamily;
  text: string;
  port: number | null;
}

/** Parse an address of either family (no port); returns why not as a string. */
function lbIpOrProblem(text: string): LbIp | string {
  if (!text.includes(':')) return ipv4OrProblem(text);
  const b = new Uint8Array(16);
  try {
    parseIpv6(text, b, 0);
  } catch {
    return 'it is not an IPv6 address (eight groups of hex digits, one :: allowed)';
  }
  return b;
}

/** The address text of a persisted record (canonical already), parsed. */
export function parseLbIp(text: string): LbIp {
  const ip = lbIpOrProblem(text);
  if (typeof ip === 'string') throw new TsnError('ERR_LB_BAD_ADDRESS', `address ${JSON.stringify(text)}: ${ip}`, { value: text });
  return ip;
}

/**
 * Parse ADDRESS[:PORT], ipvsadm's forms: 10.0.0.100:80, [fd00:1::100]:80, and without a port
 * 10.0.0.10, [fd00:1::10] or fd00:1::10. The port is required when `needPort`.
 */
export function parseAddrPort(text: string, what: string, needPort: boolean): LbAddress {
  const accepted = needPort
    ? 'an address and a port 1-65535: 10.0.0.100:80, or IPv6 in brackets, [fd00:1::100]:80'
    : 'an address with an optional port 1-65535: 10.0.0.10, 10.0.0.10:8080, fd00:1::10 or [fd00:1::10]:8080';
  if (typeof text !== 'string') throw badAddress(what, String(text), accepted);
  let addr: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::([0-9]{1,5}))?$/.exec(text);
  const colons = text.split(':').length - 1;
  if (bracketed) [, addr, portText] = bracketed;
  else if (text.startsWith('[')) throw badAddress(what, text, accepted, 'it is not [IPv6]:PORT');
  else if (colons >= 2) {
    // Bare IPv6: it has no room for a port (fd00::1:80 is an address).
    if (needPort) throw badAddress(what, text, accepted, 'an IPv6 address with a port goes in brackets');
    addr = text;
  } else {
    const m = /^([^:]*)(?::([0-9]{1,5}))?$/.exec(text);
    if (!m) throw badAddress(what, text, accepted, 'it is not ADDRESS[:PORT]');
    [, addr, portText] = m;
  }
  const ip = lbIpOrProblem(addr);
  if (typeof ip === 'string') throw badAddress(what, text, accepted, ip);
  if (portText === undefined && needPort) throw badAddress(what, text, accepted);
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > 65535)) throw badAddress(what, text, accepted);
  return { ip, family: familyOf(ip), text: formatLbIp(ip), port };
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

/** `TCP 10.0.0.100:80`, `TCP [fd00:1::100]:80`: the VIP as text. */
export function serviceName(protocol: LbProtocol, vip: string, port: number): string {
  return `${protocol.toUpperCase()} ${formatHostPort(vip, port)}`;
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
    throw new TsnError('ERR_BAD_OPTION', `-o ${options.join(' ')}: ${serviceName(svc.protocol, svc.vipText, svc.port)} is UDP: a TCP connect check needs port=N, a TCP port the server answers on`);
  }
  if (spec && !net.record.gateway) {
    throw new TsnError('ERR_BAD_OPTION', `-o ${options.join(' ')}: network ${net.record.name} is internal (no gateway port): the daemon cannot reach its real servers to check them`);
  }
  return spec;
}
