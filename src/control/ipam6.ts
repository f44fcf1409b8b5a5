/**
 * IPv6 address management of a dual-stack network (`network create --ipv6 --subnet fd00:1::/64`),
 * as Docker's default IPAM gives it on a user-defined network:
 *   - the subnet is a /32 up to a /126; its first address (the subnet-router anycast address, RFC 4291
 *     2.6.1) is reserved, the gateway is the first host (::1) unless --gateway gives another, aux
 *     addresses (`--aux-address NAME=V6`) are reserved too;
 *   - dynamic allocation is serial from the ip-range (or the subnet), from the address after the last
 *     one handed out, wrapping at the end, as the IPv4 pool does (a released address is not reused
 *     at once). Docker derives an address from the MAC only on its default bridge (fixed-cidr-v6);
 *     user-defined networks are serial, as here.
 *   - a static address (`connect --ip6`) may be anywhere in the subnet.
 * A /64 has 2^64 addresses, so state is the set of addresses in use, not a bitmap (ipam.ts).
 */
import { parseIpv6 } from '../packet/ipv6.js';
import { formatIpv6 } from '../packet/ipv6.js';
import { TsnError } from '../errors.js';
import type { IpamConfig, IpamState } from './ipam.js';

export const MIN_SUBNET6_PREFIX = 32;
export const MAX_SUBNET6_PREFIX = 126;

/** An IPv6 prefix as numbers: its first address and length. */
export interface Cidr6 {
  network: bigint;
  prefixLen: number;
  /** Canonical text, 'fd00:1::/64'. */
  text: string;
}

/** Does `text` look like IPv6 (rather than IPv4)? The family test of --subnet, --gateway, --aux-address. */
export function isIpv6Text(text: string): boolean {
  return text.includes(':');
}

/** Parse an IPv6 address; ERR_BAD_IP naming `what` and the value. */
export function parseIpv6Address(text: string, what = 'IPv6 address'): bigint {
  const buf = new Uint8Array(16);
  try {
    if (typeof text !== 'string' || text.includes('%') || text.includes('/')) throw new Error('not an address');
    parseIpv6(text, buf, 0);
  } catch {
    throw new TsnError('ERR_BAD_IP', `${what} ${JSON.stringify(text)} is not an IPv6 address: expected RFC 4291 text without a zone or prefix, e.g. fd00:1::2`, { value: text });
  }
  let v = 0n;
  for (const b of buf) v = (v << 8n) | BigInt(b);
  return v;
}

export function formatIpv6Address(v: bigint): string {
  const buf = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return formatIpv6(buf, 0);
}

const ALL = (1n << 128n) - 1n;

function hostMask(prefixLen: number): bigint {
  return ALL >> BigInt(prefixLen);
}

/** Parse 'ADDR/LEN' (host bits must be zero); ERR_BAD_CIDR naming `what`. */
export function parseCidr6(text: string, what = 'subnet'): Cidr6 {
  const m = typeof text === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(text) : null;
  if (!m) throw new TsnError('ERR_BAD_CIDR', `${what} ${JSON.stringify(text)} is not an IPv6 prefix: expected ADDRESS/LENGTH, e.g. fd00:1::/64`, { value: text });
  const prefixLen = Number(m[2]);
  if (prefixLen > 128) throw new TsnError('ERR_BAD_CIDR', `${what} ${text}: prefix length ${prefixLen} is more than 128`, { value: text });
  const addr = parseIpv6Address(m[1], what);
  const network = addr & ~hostMask(prefixLen) & ALL;
  if (network !== addr) {
    throw new TsnError('ERR_BAD_CIDR', `${what} ${text} has host bits set: did you mean ${formatIpv6Address(network)}/${prefixLen}?`, { value: text });
  }
  return { network, prefixLen, text: `${formatIpv6Address(network)}/${prefixLen}` };
}

export function cidr6Contains(c: Cidr6, ip: bigint): boolean {
  return (ip & ~hostMask(c.prefixLen) & ALL) === c.network;
}

export function cidr6Overlaps(a: Cidr6, b: Cidr6): boolean {
  return a.prefixLen <= b.prefixLen ? cidr6Contains(a, b.network) : cidr6Contains(b, a.network);
}

function lastOf(c: Cidr6): bigint {
  return c.network | hostMask(c.prefixLen);
}

/** The same shapes as the IPv4 pool's, with IPv6 text in them. */
export type Ipam6Config = IpamConfig;
export type Ipam6State = IpamState;

/** The new subnet must not overlap another network's IPv6 subnet (ERR_SUBNET_OVERLAP names it). */
export function checkNoOverlap6(subnet: string, others: readonly { name: string; subnet: string }[]): void {
  const c = parseCidr6(subnet);
  for (const o of others) {
    if (cidr6Overlaps(c, parseCidr6(o.subnet))) {
      throw new TsnError('ERR_SUBNET_OVERLAP', `IPv6 subnet ${c.text} overlaps ${o.subnet} of network ${o.name}: choose a prefix that neither contains nor is inside it`, { value: subnet, network: o.name });
    }
  }
}

export class NetworkIpam6 {
  readonly subnet: string;
  readonly prefixLen: number;
  readonly gateway: string;
  readonly ipRange: string | null;
  readonly auxAddresses: Readonly<Record<string, string>>;
  private readonly net: Cidr6;
  private readonly poolFirst: bigint;
  private readonly poolLast: bigint;
  private readonly reserved = new Map<bigint, string>();
  private readonly allocated = new Set<bigint>();
  private cursor: bigint;

  constructor(cfg: Ipam6Config) {
    const net = parseCidr6(cfg.subnet, 'IPv6 subnet');
    if (net.prefixLen < MIN_SUBNET6_PREFIX) throw new TsnError('ERR_BAD_CIDR', `IPv6 subnet ${net.text} is too large: the largest accepted is a /${MIN_SUBNET6_PREFIX} (a /64 is usual)`, { value: cfg.subnet });
    if (net.prefixLen > MAX_SUBNET6_PREFIX) throw new TsnError('ERR_BAD_CIDR', `IPv6 subnet ${net.text} is too small: a network needs at least a /${MAX_SUBNET6_PREFIX}`, { value: cfg.subnet });
    const first = net.network >> 120n;
    const special =
      first === 0xffn ? 'multicast (ff00::/8)' : net.network >> 118n === 0x3fan ? 'link-local (fe80::/10): every interface has its own' : net.network === 0n ? 'the unspecified/loopback block (::)' : net.network >> 32n === 0xffffn ? 'IPv4-mapped (::ffff:0:0/96)' : null;
    if (special) throw new TsnError('ERR_BAD_CIDR', `IPv6 subnet ${net.text} is ${special}: give a unicast prefix, e.g. a ULA fd00:1::/64`, { value: cfg.subnet });
    this.net = net;
    this.subnet = net.text;
    this.prefixLen = net.prefixLen;
    let pool = net;
    if (cfg.ipRange) {
      const r = parseCidr6(cfg.ipRange, 'IPv6 ip-range');
      if (!(r.prefixLen >= net.prefixLen && cidr6Contains(net, r.network))) {
        throw new TsnError('ERR_IP_OUT_OF_SUBNET', `IPv6 ip-range ${r.text} is not within the subnet ${net.text}: expected a block inside it, e.g. ${formatIpv6Address(net.network)}/${Math.min(net.prefixLen + 16, 120)}`, { value: cfg.ipRange, subnet: net.text });
      }
      pool = r;
    }
    this.ipRange = pool === net ? null : pool.text;
    this.poolFirst = pool.network;
    this.poolLast = lastOf(pool);
    this.reserved.set(net.network, `the subnet-router anycast address of ${net.text}`);
    const gw = cfg.gateway ? this.checkHost(cfg.gateway, 'IPv6 gateway') : net.network + 1n;
    this.gateway = formatIpv6Address(gw);
    this.reserved.set(gw, `the IPv6 gateway of ${net.text}`);
    const aux: Record<string, string> = {};
    for (const [name, text] of Object.entries(cfg.auxAddresses ?? {})) {
      const what = `aux address '${name}'`;
      const ip = this.checkHost(text, what);
      const already = this.reserved.get(ip);
      if (already !== undefined) throw new TsnError('ERR_IP_IN_USE', `${what} ${formatIpv6Address(ip)} is already ${already}: give each aux address its own host address`, { value: text, name });
      aux[name] = formatIpv6Address(ip);
      this.reserved.set(ip, `reserved as aux address '${name}'`);
    }
    this.auxAddresses = aux;
    this.cursor = this.poolFirst;
  }

  private checkHost(text: string, what: string): bigint {
    const ip = parseIpv6Address(text, what);
    if (!cidr6Contains(this.net, ip)) {
      throw new TsnError('ERR_IP_OUT_OF_SUBNET', `${what} ${formatIpv6Address(ip)} is outside the IPv6 subnet ${this.net.text}`, { value: text, subnet: this.net.text });
    }
    if (ip === this.net.network) {
      throw new TsnError('ERR_BAD_IP', `${what} ${formatIpv6Address(ip)} is the subnet-router anycast address of ${this.net.text}: expected a host address`, { value: text, subnet: this.net.text });
    }
    return ip;
  }

  /** Hand out `requested` (a static address anywhere in the subnet) or the next free one; canonical text. */
  allocate(requested?: string): string {
    if (requested !== undefined) {
      const ip = this.checkHost(requested, '--ip6');
      const why = this.reserved.get(ip);
      if (why !== undefined) throw new TsnError('ERR_IP_IN_USE', `--ip6 ${formatIpv6Address(ip)} is ${why}`, { value: requested });
      if (this.allocated.has(ip)) throw new TsnError('ERR_IP_IN_USE', `--ip6 ${formatIpv6Address(ip)} is in use on this network`, { value: requested });
      this.allocated.add(ip);
      return formatIpv6Address(ip);
    }
    const span = this.poolLast - this.poolFirst + 1n;
    let ip = this.cursor;
    // At most one pass; a pool is full only when every address is taken (never, for a /64).
    const limit = span < 1_000_000n ? span : 1_000_000n;
    for (let n = 0n; n < limit; n++) {
      if (ip > this.poolLast) ip = this.poolFirst;
      if (!this.reserved.has(ip) && !this.allocated.has(ip)) {
        this.allocated.add(ip);
        this.cursor = ip === this.poolLast ? this.poolFirst : ip + 1n; // wraps: never past the pool (or 2^128)
        return formatIpv6Address(ip);
      }
      ip++;
    }
    throw new TsnError('ERR_POOL_EXHAUSTED', `no free IPv6 address in ${this.ipRange ?? this.subnet}`);
  }

  release(text: string): void {
    this.allocated.delete(parseIpv6Address(text));
  }

  isAllocated(text: string): boolean {
    return this.allocated.has(parseIpv6Address(text));
  }

  /** Whether an address lies in the IPv6 subnet. */
  contains(text: string): boolean {
    return cidr6Contains(this.net, parseIpv6Address(text));
  }

  /** Why the address is reserved (the gateway, an aux address, the anycast address), or null. */
  reservedReason(text: string): string | null {
    return this.reserved.get(parseIpv6Address(text)) ?? null;
  }

  /** Docker's IPAM.Config entry. */
  inspect(): { Subnet: string; Gateway: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> } {
    return { Subnet: this.subnet, Gateway: this.gateway, ...(this.ipRange ? { IPRange: this.ipRange } : {}), ...(Object.keys(this.auxAddresses).length ? { AuxiliaryAddresses: { ...this.auxAddresses } } : {}) };
  }

  toJSON(): Ipam6State {
    return {
      subnet: this.subnet,
      gateway: this.gateway,
      ...(this.ipRange ? { ipRange: this.ipRange } : {}),
      ...(Object.keys(this.auxAddresses).length ? { auxAddresses: { ...this.auxAddresses } } : {}),
      allocated: [...this.allocated].sort((a, b) => (a < b ? -1 : 1)).map(formatIpv6Address),
      next: formatIpv6Address(this.cursor),
    };
  }

  static fromJSON(s: Ipam6State): NetworkIpam6 {
    const ipam = new NetworkIpam6({ subnet: s.subnet, gateway: s.gateway, ipRange: s.ipRange, auxAddresses: s.auxAddresses });
    for (const a of s.allocated) ipam.allocated.add(parseIpv6Address(a));
    const next = parseIpv6Address(s.next);
    ipam.cursor = next >= ipam.poolFirst && next <= ipam.poolLast ? next : ipam.poolFirst;
    return ipam;
  }
}
