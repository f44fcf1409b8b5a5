/**
 * IPv4 address management, with Docker's default IPAM driver (libnetwork ipam/, ipamutils/) as the
 * reference for what a user of `docker network create --subnet --gateway --ip-range --aux-address`
 * and `docker network connect --ip` expects.
 *
 * NetworkIpam: one network's pool.
 *   - The subnet is /8 up to /30. The network and broadcast addresses, the gateway (by default the
 *     first host, as Docker's bridge driver gives it) and the aux addresses (addresses the user keeps
 *     for hosts outside the switch) are reserved: never handed out, never released.
 *   - Dynamic allocation draws from the ip-range if one is given, else the whole subnet, serially:
 *     from the address after the last one handed out, wrapping at the end of the range (Docker's
 *     serial mode). A just-released address is therefore not reused until the range wraps, so a stale
 *     ARP entry or conntrack entry for it has time to die.
 *   - A static (requested) address may be anywhere in the subnet, also outside the ip-range (as in
 *     Docker); it does not move the cursor.
 *   - State is one bit per address of the subnet in a Uint32Array (8 KiB for a /16, 2 MiB for a /8),
 *     with reserved addresses' bits set too, so the search is one scan that skips full 32-bit words.
 *     Reserved addresses are also kept in a small map with the reason, for error messages.
 *
 * chooseDefaultSubnet: Docker's default-address-pools walk, for `network create` without --subnet.
 * checkNoOverlap: the subnet of a new network must not overlap another network's.
 */
import {
  broadcast,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  cidrSize,
  firstHost,
  formatIpv4,
  lastHost,
  makeCidr,
  parseCidr,
  parseIpv4,
  type Cidr,
} from './cidr.js';
import { TsnError } from '../errors.js';

/** The user's IPAM configuration of a network, as `network create` takes it. */
export interface IpamConfig {
  subnet: string;
  /** Default: the first host of the subnet. */
  gateway?: string;
  /** Dynamic allocations come from here; must lie within the subnet. */
  ipRange?: string;
  /** name -> address; reserved, never handed out. */
  auxAddresses?: Record<string, string>;
}

/** What toJSON() writes and fromJSON() reads back. */
export interface IpamState {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  /** Addresses handed out, in address order. */
  allocated: string[];
  /** Where the next dynamic allocation starts looking. */
  next: string;
}

/** One entry of `network inspect`'s IPAM.Config, Docker's field names. */
export interface IpamInspectConfig {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IpamInspect {
  Driver: 'default';
  Config: IpamInspectConfig[];
}

/** Largest and smallest subnets a network may have. */
export const MIN_SUBNET_PREFIX = 8;
export const MAX_SUBNET_PREFIX = 30;

const FULL_WORD = 0xffffffff;

export class NetworkIpam {
  /** Canonical subnet, '10.0.0.0/24'. */
  readonly subnet: string;
  readonly prefixLen: number;
  readonly gateway: string;
  readonly ipRange: string | null;
  /** name -> address, as given (canonical dotted quads). */
  readonly auxAddresses: Readonly<Record<string, string>>;

  private readonly net: Cidr;
  private readonly range: Cidr | null;
  /** First and last address (uint32) of the dynamic pool. */
  private readonly poolFirst: number;
  private readonly poolLast: number;
  /** Bit i set: address net.network + i is reserved or allocated. */
  private readonly bits: Uint32Array;
  /** Reserved address -> why ('the gateway', ...). */
  private readonly reserved = new Map<number, string>();
  private count = 0;
  /** The next address a dynamic allocation tries first. */
  private cursor: number;

  constructor(cfg: IpamConfig) {
    if (cfg === null || typeof cfg !== 'object') throw new TsnError('ERR_BAD_OPTION', `IPAM config ${JSON.stringify(cfg)}: expected an object { subnet, gateway?, ipRange?, auxAddresses? }`);
    const net = parseCidr(cfg.subnet, { what: 'subnet' });
    if (net.prefixLen < MIN_SUBNET_PREFIX) {
      throw new TsnError('ERR_BAD_CIDR', `subnet ${net.text} is too large: the largest accepted is a /${MIN_SUBNET_PREFIX} (e.g. 10.0.0.0/${MIN_SUBNET_PREFIX})`, { value: cfg.subnet });
    }
    if (net.prefixLen > MAX_SUBNET_PREFIX) {
      throw new TsnError('ERR_BAD_CIDR', `subnet ${net.text} is too small: a network needs at least a /${MAX_SUBNET_PREFIX} (network address, gateway, one host, broadcast address)`, { value: cfg.subnet });
    }
    this.net = net;
    this.subnet = net.text;
    this.prefixLen = net.prefixLen;
    this.bits = new Uint32Array(Math.ceil(cidrSize(net) / 32));
    const hosts = `${formatIpv4(firstHost(net))}..${formatIpv4(lastHost(net))}`;

    // ip-range
    this.range = null;
    if (cfg.ipRange !== undefined && cfg.ipRange !== null && cfg.ipRange !== '') {
      const r = parseCidr(cfg.ipRange, { what: 'ip-range' });
      if (!cidrContainsCidr(net, r)) {
        throw new TsnError('ERR_IP_OUT_OF_SUBNET', `ip-range ${r.text} is not within the subnet ${net.text}: expected a block inside it, e.g. ${makeCidr(net.network, Math.min(net.prefixLen + 1, 32)).text}`, { value: cfg.ipRange, subnet: net.text });
      }
      this.range = r;
    }
    this.ipRange = this.range?.text ?? null;
    const pool = this.range ?? net;
    this.poolFirst = pool.network;
    this.poolLast = broadcast(pool);

    this.reserve(net.network, `the network address of ${net.text}`);
    this.reserve(broadcast(net), `the broadcast address of ${net.text}`);

    // gateway
    let gw = firstHost(net);
    if (cfg.gateway !== undefined && cfg.gateway !== null && cfg.gateway !== '') {
      gw = this.checkReservedAddress(cfg.gateway, 'gateway', hosts);
    }
    this.gateway = formatIpv4(gw);
    this.reserve(gw, `the gateway of ${net.text}`);

    // aux addresses
    const aux: Record<string, string> = {};
    if (cfg.auxAddresses !== undefined && cfg.auxAddresses !== null) {
      if (typeof cfg.auxAddresses !== 'object' || Array.isArray(cfg.auxAddresses)) {
        throw new TsnError('ERR_BAD_OPTION', `aux addresses ${JSON.stringify(cfg.auxAddresses)}: expected an object of NAME: IP, e.g. { "router": "10.0.0.254" }`);
      }
      for (const [name, text] of Object.entries(cfg.auxAddresses)) {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
          throw new TsnError('ERR_BAD_NAME', `aux address name ${JSON.stringify(name)}: expected 1-64 letters, digits, '_', '.' or '-' (as in --aux-address router=10.0.0.254)`, { value: name });
        }
        const what = `aux address '${name}'`;
        const ip = this.checkReservedAddress(text, what, hosts);
        const already = this.reserved.get(ip);
        if (already !== undefined) {
          throw new TsnError('ERR_IP_IN_USE', `${what} ${formatIpv4(ip)} is already ${already}: give each aux address its own host address`, { value: text, name });
        }
        aux[name] = formatIpv4(ip);
        this.reserve(ip, `reserved as aux address '${name}'`);
      }
    }
    this.auxAddresses = aux;
    this.cursor = this.poolFirst;
  }

  /** Parse a gateway or aux address: in the subnet and a host address. */
  private checkReservedAddress(text: string, what: string, hosts: string): number {
    const ip = parseIpv4(text, what);
    if (!cidrContains(this.net, ip)) {
      throw new TsnError('ERR_IP_OUT_OF_SUBNET', `${what} ${formatIpv4(ip)} is outside the subnet ${this.net.text}: expected an address in ${hosts}`, { value: text, subnet: this.net.text });
    }
    if (ip === this.net.network || ip === broadcast(this.net)) {
      const which = ip === this.net.network ? 'network' : 'broadcast';
      throw new TsnError('ERR_BAD_IP', `${what} ${formatIpv4(ip)} is the ${which} address of ${this.net.text}: expected a host address in ${hosts}`, { value: text, subnet: this.net.text });
    }
    return ip;
  }

  private reserve(ip: number, why: string): void {
    this.reserved.set(ip, why);
    this.setBit(ip - this.net.network);
  }

  private testBit(i: number): boolean {
    return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  private setBit(i: number): void {
    this.bits[i >>> 5] |= 1 << (i & 31);
  }

  private clearBit(i: number): void {
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }

  /** First clear bit in [from, to] (indices into the subnet), or -1. Skips full words. */
  private findClear(from: number, to: number): number {
    let i = from;
    while (i <= to) {
      const w = i >>> 5;
      if ((i & 31) === 0 && this.bits[w] === FULL_WORD) {
        i += 32;
        continue;
      }
      if (!this.testBit(i)) return i;
      i++;
    }
    return -1;
  }

  /** Parse an address given to allocate/release and check it lies in the subnet. */
  private inSubnet(text: string, what: string): number {
    const ip = parseIpv4(text, what);
    if (!cidrContains(this.net, ip)) {
      throw new TsnError('ERR_IP_OUT_OF_SUBNET', `${what} ${formatIpv4(ip)} is outside the network's subnet ${this.net.text}: expected an address in ${formatIpv4(firstHost(this.net))}..${formatIpv4(lastHost(this.net))}`, { value: text, subnet: this.net.text });
    }
    return ip;
  }

  /**
   * Hand out an address: `requested` if given (a static IP, anywhere in the subnet), else the next
   * free one of the ip-range (or subnet) from the cursor on. Returns the dotted quad.
   * Throws ERR_BAD_IP, ERR_IP_OUT_OF_SUBNET, ERR_IP_IN_USE, ERR_POOL_EXHAUSTED.
   */
  allocate(requested?: string): string {
    if (requested !== undefined && requested !== null && requested !== '') {
      const ip = this.inSubnet(requested, 'requested IP');
      const why = this.reserved.get(ip);
      if (why !== undefined) {
        throw new TsnError('ERR_IP_IN_USE', `requested IP ${formatIpv4(ip)} is not available: it is ${why}; choose another address, or omit --ip to get a free one`, { value: requested, reason: why });
      }
      if (this.testBit(ip - this.net.network)) {
        throw new TsnError('ERR_IP_IN_USE', `requested IP ${formatIpv4(ip)} is already allocated in ${this.net.text}; choose another address, or omit --ip to get a free one`, { value: requested });
      }
      this.setBit(ip - this.net.network);
      this.count++;
      return formatIpv4(ip);
    }
    const base = this.net.network;
    const first = this.poolFirst - base;
    const last = this.poolLast - base;
    const start = this.cursor >= this.poolFirst && this.cursor <= this.poolLast ? this.cursor - base : first;
    let i = this.findClear(start, last);
    if (i < 0 && start > first) i = this.findClear(first, start - 1);
    if (i < 0) {
      const where = this.range ? `the ip-range ${this.range.text} of ${this.net.text}` : this.net.text;
      throw new TsnError(
        'ERR_POOL_EXHAUSTED',
        `no free IPv4 address left in ${where}: ${this.count} allocated, the rest reserved (network, broadcast, gateway, aux addresses); disconnect an endpoint, or use a network with a larger --subnet${this.range ? ' / --ip-range' : ''}`,
        { subnet: this.net.text, ipRange: this.ipRange, allocated: this.count },
      );
    }
    this.setBit(i);
    this.count++;
    const ip = base + i;
    this.cursor = ip + 1 > this.poolLast ? this.poolFirst : ip + 1;
    return formatIpv4(ip);
  }

  /**
   * Give an address back. Returns false if it was not allocated (idempotent). Throws for an address
   * outside the subnet (ERR_IP_OUT_OF_SUBNET) or a reserved one (ERR_BAD_IP): those are caller bugs.
   */
  release(ipText: string): boolean {
    const ip = this.inSubnet(ipText, 'released IP');
    const why = this.reserved.get(ip);
    if (why !== undefined) {
      throw new TsnError('ERR_BAD_IP', `cannot release ${formatIpv4(ip)}: it is ${why}, not an allocated address`, { value: ipText });
    }
    const i = ip - this.net.network;
    if (!this.testBit(i)) return false;
    this.clearBit(i);
    this.count--;
    return true;
  }

  /** Whether the address is handed out to an endpoint (reserved addresses are not). */
  isAllocated(ipText: string): boolean {
    const ip = parseIpv4(ipText, 'IP');
    if (!cidrContains(this.net, ip) || this.reserved.has(ip)) return false;
    return this.testBit(ip - this.net.network);
  }

  /** Why the address is reserved ('the gateway of 10.0.0.0/24', ...), or null if it is not. */
  reservedReason(ipText: string): string | null {
    return this.reserved.get(parseIpv4(ipText, 'IP')) ?? null;
  }

  /** Whether an address lies in this network's subnet. */
  contains(ipText: string): boolean {
    return cidrContains(this.net, parseIpv4(ipText, 'IP'));
  }

  /** Number of addresses handed out. */
  get allocatedCount(): number {
    return this.count;
  }

  /** Addresses of the dynamic pool still free. */
  freeCount(): number {
    let free = 0;
    const base = this.net.network;
    for (let i = this.poolFirst - base; i <= this.poolLast - base; i++) {
      if ((i & 31) === 0 && i + 31 <= this.poolLast - base && this.bits[i >>> 5] === FULL_WORD) {
        i += 31;
        continue;
      }
      if (!this.testBit(i)) free++;
    }
    return free;
  }

  /** The handed-out addresses, in address order. */
  allocated(): string[] {
    const out: string[] = [];
    const base = this.net.network;
    const n = cidrSize(this.net);
    for (let w = 0; w < this.bits.length; w++) {
      const word = this.bits[w];
      if (word === 0) continue;
      for (let b = 0; b < 32; b++) {
        const i = w * 32 + b;
        if (i >= n) break;
        if ((word & (1 << b)) !== 0 && !this.reserved.has(base + i)) out.push(formatIpv4(base + i));
      }
    }
    return out;
  }

  /** Docker's `network inspect` .IPAM. */
  inspect(): IpamInspect {
    const c: IpamInspectConfig = { Subnet: this.subnet, Gateway: this.gateway };
    if (this.ipRange !== null) c.IPRange = this.ipRange;
    if (Object.keys(this.auxAddresses).length > 0) c.AuxiliaryAddresses = { ...this.auxAddresses };
    return { Driver: 'default', Config: [c] };
  }

  toJSON(): IpamState {
    const s: IpamState = { subnet: this.subnet, gateway: this.gateway, allocated: this.allocated(), next: formatIpv4(this.cursor) };
    if (this.ipRange !== null) s.ipRange = this.ipRange;
    if (Object.keys(this.auxAddresses).length > 0) s.auxAddresses = { ...this.auxAddresses };
    return s;
  }

  /** Rebuild from toJSON()'s output. Throws ERR_STATE_CORRUPT naming what is wrong. */
  static fromJSON(json: unknown): NetworkIpam {
    const bad = (why: string, cause?: unknown): never => {
      throw new TsnError('ERR_STATE_CORRUPT', `stored IPAM state is invalid: ${why}; expected the output of NetworkIpam.toJSON()`, { value: json }, { cause });
    };
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return bad(`${JSON.stringify(json)} is not an object`);
    const s = json as Partial<IpamState>;
    if (typeof s.subnet !== 'string') return bad('subnet is missing');
    if (!Array.isArray(s.allocated) || !s.allocated.every((a) => typeof a === 'string')) return bad(`allocated of ${s.subnet} is not an array of addresses`);
    if (s.next !== undefined && typeof s.next !== 'string') return bad(`next of ${s.subnet} is not an address`);
    let ipam: NetworkIpam;
    try {
      ipam = new NetworkIpam({ subnet: s.subnet, gateway: s.gateway, ipRange: s.ipRange, auxAddresses: s.auxAddresses });
      for (const a of s.allocated) ipam.allocate(a);
      if (s.next !== undefined) {
        const next = parseIpv4(s.next, 'next');
        if (next >= ipam.poolFirst && next <= ipam.poolLast) ipam.cursor = next;
      }
    } catch (e) {
      if (e instanceof TsnError && e.code !== 'ERR_STATE_CORRUPT') return bad(`network ${s.subnet}: ${e.message}`, e);
      throw e;
    }
    return ipam;
  }
}

/** A base block cut into subnets of /size, as in daemon.json's "default-address-pools". */
export interface AddressPool {
  base: string;
  size: number;
}

/**
 * Docker's local-scope defaults (libnetwork ipamutils, localScopeDefaultNetworks): 172.17..172.31 as
 * /16s (written as three /16s and three /14s cut into /16s), then 192.168.0.0/16 cut into /20s.
 */
export const DOCKER_DEFAULT_POOLS: readonly AddressPool[] = Object.freeze([
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
]);

/**
 * The subnet for a network created without --subnet: walk each pool's base in steps of /size and
 * return the first subnet that overlaps nothing in `taken` (other networks' subnets, and the host's
 * routes and interface addresses, host bits allowed). A default route (0.0.0.0/0) is not counted as
 * an overlap, as in Docker. Throws ERR_BAD_OPTION for a bad pool, ERR_POOL_EXHAUSTED if nothing fits.
 */
export function chooseDefaultSubnet(pools: readonly AddressPool[], taken: readonly string[]): string {
  const blocks = taken.map((t) => parseCidr(t, { what: 'taken subnet/route', allowHostBits: true })).filter((c) => c.prefixLen > 0);
  const tried: string[] = [];
  for (const p of pools) {
    const base = parseCidr(p.base, { what: 'default address pool base' });
    if (!Number.isInteger(p.size) || p.size < base.prefixLen || p.size > MAX_SUBNET_PREFIX) {
      throw new TsnError('ERR_BAD_OPTION', `default address pool ${base.text}: size ${JSON.stringify(p.size)} is invalid; expected a prefix length from ${base.prefixLen} (the base's) to ${MAX_SUBNET_PREFIX}`, { value: p });
    }
    tried.push(`${base.text} in /${p.size}s`);
    const step = 2 ** (32 - p.size);
    const end = broadcast(base);
    let c = base.network;
    while (c <= end) {
      const cand = makeCidr(c, p.size);
      const hit = blocks.find((b) => cidrOverlaps(b, cand));
      if (hit === undefined) return cand.text;
      // Skip every candidate the hit covers: the next one starts after the hit's end.
      c = Math.max(c + step, Math.ceil((broadcast(hit) + 1) / step) * step);
    }
  }
  if (pools.length === 0) {
    throw new TsnError('ERR_POOL_EXHAUSTED', 'no default address pools are configured: give the network a --subnet, or configure default address pools', { pools: [] });
  }
  throw new TsnError(
    'ERR_POOL_EXHAUSTED',
    `no free subnet in the default address pools (tried ${tried.join(', ')}): each overlaps an existing network or a host route; give the network a --subnet, or remove unused networks`,
    { pools, taken },
  );
}

/**
 * Refuse a subnet that overlaps another network's (in either direction: inside it, around it, or the
 * same). Throws ERR_SUBNET_OVERLAP naming the other network and its subnet.
 */
export function checkNoOverlap(subnet: string | Cidr, existing: readonly { name: string; subnet: string }[]): void {
  const mine = typeof subnet === 'string' ? parseCidr(subnet, { what: 'subnet' }) : subnet;
  for (const other of existing) {
    const theirs = parseCidr(other.subnet, { what: `subnet of network '${other.name}'`, allowHostBits: true });
    if (cidrOverlaps(mine, theirs)) {
      const how = mine.network === theirs.network && mine.prefixLen === theirs.prefixLen ? 'is already the subnet of' : 'overlaps';
      throw new TsnError(
        'ERR_SUBNET_OVERLAP',
        `subnet ${mine.text} ${how} network '${other.name}' (${theirs.text}): choose a subnet that overlaps no other network's, or omit --subnet to get a free one`,
        { subnet: mine.text, network: other.name, networkSubnet: theirs.text },
      );
    }
  }
}

/**
 * The IPAM of a network that takes its subnet from --subnet or else from the default pools (bridge,
 * overlay): a given subnet must overlap no other network's; without one, the first free pool subnet
 * that overlaps neither another network nor a host route (`hostRoutes` is asked only then).
 */
export function planPoolIpam(
  req: { subnet?: string; gateway?: string; ipRange?: string; auxAddresses?: Record<string, string> },
  others: readonly { name: string; subnet: string }[],
  pools: readonly AddressPool[],
  hostRoutes: () => string[],
): NetworkIpam {
  let subnet = req.subnet;
  if (subnet !== undefined) checkNoOverlap(parseCidr(subnet).text, others);
  else subnet = chooseDefaultSubnet(pools, [...others.map((o) => o.subnet), ...hostRoutes()]);
  return new NetworkIpam({ subnet, gateway: req.gateway, ipRange: req.ipRange, auxAddresses: req.auxAddresses });
}
