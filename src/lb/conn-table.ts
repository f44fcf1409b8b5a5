/**
 * ConnTable: the load balancer's connection table (IPVS's ip_vs_conn), 5-tuple -> real server.
 *
 * Algorithm: struct-of-arrays entries (typed arrays, one slot per connection) plus two open-addressing
 * hash indexes with linear probing and backward-shift deletion (no tombstones, so probe chains stay
 * short however many connections come and go):
 *   - forward:  (proto, client ip, client port, VIP, VIP port)     -> entry  (every connection)
 *   - reply:    (proto, real ip, real port, client ip, client port) -> entry  (NAT connections only: the
 *               real server's answers come back through the switch and are rewritten to the VIP)
 * Free entries form a singly linked free list. The table is capped (`capacity`): an insert past it is
 * refused and counted (`refusedFull`), so a SYN flood costs a counter, not memory.
 *
 * TCP state tracking follows IPVS's table: SYN -> SYN_RECV, the client's ACK -> ESTABLISHED, a FIN ->
 * FIN_WAIT, FINs from both sides (or the last ACK after a FIN on input-only DR/TUN connections) ->
 * TIME_WAIT, RST -> CLOSE. Each state has IPVS's default timeout (ESTABLISHED 900 s, FIN_WAIT 120 s,
 * UDP 300 s; `ipvsadm --set tcp tcpfin udp` changes those three); an entry expires `timeout` seconds
 * after its last packet. Expiry is lazy on lookup plus a periodic sweep (`expire`).
 *
 * IPv6: the protocol key of an IPv6 connection is its protocol number + PROTO_V6, so the two families
 * never match each other. Its VIP and real server fields hold the addresses' handles (lb-address.ts),
 * its `cip` the client address's 32-bit fold (for the hash), and `cip6` all 16 bytes, compared on
 * every hit. Lookups and inserts of IPv6 connections read the client address from `key6`, which the
 * caller fills first (no allocation per packet). `cip6` is allocated with the first IPv6 service.
 *
 * Memory: 42 bytes of entry arrays per connection plus two int32 index slots per connection in each
 * of the two indexes (load factor <= 0.5): about 58 bytes per entry, 58 MiB for a million (see
 * `bytesPerEntry`); 16 more with IPv6 services. Nothing is allocated per packet or per connection.
 */

export const STATE_NONE = 0;
export const STATE_SYN_RECV = 1;
export const STATE_ESTABLISHED = 2;
export const STATE_FIN_WAIT = 3;
export const STATE_TIME_WAIT = 4;
export const STATE_CLOSE = 5;
export const STATE_UDP = 6;

export const STATE_NAMES = ['NONE', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'UDP'] as const;
export type ConnStateName = (typeof STATE_NAMES)[number];

/** Entry flags. */
export const F_NAT = 1; // in the reply index
export const F_FIN_IN = 2; // FIN seen from the client
export const F_FIN_OUT = 4; // FIN seen from the real server
export const F_PERSIST = 8; // counted in a persistence template

/** Timeouts in seconds, IPVS's defaults. `tcp`, `tcpfin` and `udp` are what `lb timeout` sets. */
export interface LbTimeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}
export const DEFAULT_TIMEOUTS: Readonly<LbTimeouts> = Object.freeze({ tcp: 900, tcpfin: 120, udp: 300 });
const SYN_RECV_TIMEOUT = 60;
const TIME_WAIT_TIMEOUT = 120;
const CLOSE_TIMEOUT = 10;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Added to the protocol number in the key of an IPv6 connection. */
export const PROTO_V6 = 0x100;

// TCP flag bits as in the header's byte 13.
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** Called when an entry leaves the table (expired, removed, flushed), before its slot is reused. */
export type ConnRemovedHook = (entry: number) => void;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** murmur3's 32-bit finalizer over a few words: cheap and well mixed. */
function mix(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ c;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ d;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export class ConnTable {
  readonly capacity: number;
  // Entry arrays, indexed by entry number.
  /** Protocol key: the IP protocol number, + PROTO_V6 for IPv6. */
  readonly proto: Uint16Array;
  readonly state: Uint8Array;
  readonly flags: Uint8Array;
  readonly cip: Uint32Array;
  /** IPv6 clients' addresses, four words per entry (null until enableIpv6). */
  cip6: Uint32Array | null = null;
  /** The IPv6 client address of the next IPv6 lookup or insert, as four words. */
  readonly key6 = new Uint32Array(4);
  readonly vip: Uint32Array;
  readonly rip: Uint32Array;
  /** Client port << 16 | VIP port. */
  readonly ports: Uint32Array;
  readonly rport: Uint16Array;
  /** Service id and real server id (see LoadBalancer). */
  readonly svc: Int32Array;
  readonly rs: Int32Array;
  readonly expires: Float64Array;
  private readonly nextFree: Int32Array;
  private freeHead = 0;
  /** Entries ever used: sweeps scan 0..highWater. */
  private highWater = 0;
  // Hash indexes: entry number or -1.
  private readonly fwd: Int32Array;
  private readonly rev: Int32Array;
  private readonly mask: number;

  count = 0;
  // Counters.
  created = 0;
  expired = 0;
  refusedFull = 0;
  timeouts: LbTimeouts = { ...DEFAULT_TIMEOUTS };
  onRemove: ConnRemovedHook | null = null;

  constructor(capacity = 1 << 20) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`connection table capacity ${capacity}: expected an integer from 1 to ${1 << 24}`);
    }
    this.capacity = capacity;
    this.proto = new Uint16Array(capacity);
    this.state = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.cip = new Uint32Array(capacity);
    this.vip = new Uint32Array(capacity);
    this.rip = new Uint32Array(capacity);
    this.ports = new Uint32Array(capacity);
    this.rport = new Uint16Array(capacity);
    this.svc = new Int32Array(capacity);
    this.rs = new Int32Array(capacity);
    this.expires = new Float64Array(capacity);
    this.nextFree = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.nextFree[i] = i + 1 < capacity ? i + 1 : -1;
    const slots = nextPow2(capacity * 2);
    this.mask = slots - 1;
    this.fwd = new Int32Array(slots).fill(-1);
    this.rev = new Int32Array(slots).fill(-1);
  }

  /** Make room for IPv6 clients (the first IPv6 service does). */
  enableIpv6(): void {
    if (this.cip6 === null) this.cip6 = new Uint32Array(this.capacity * 4);
  }

  /** Does entry `e`'s IPv6 client address equal `key6`? */
  private sameClient6(e: number): boolean {
    const c = this.cip6!;
    const k = this.key6;
    const o = e * 4;
    return c[o] === k[0] && c[o + 1] === k[1] && c[o + 2] === k[2] && c[o + 3] === k[3];
  }

  /** Bytes of typed arrays per connection the table can hold (entries plus both indexes). */
  get bytesPerEntry(): number {
    return this.totalBytes / this.capacity;
  }

  get totalBytes(): number {
    const arrays = [this.proto, this.state, this.flags, this.cip, this.cip6 ?? new Uint8Array(0), this.vip, this.rip, this.ports, this.rport, this.svc, this.rs, this.expires, this.nextFree, this.fwd, this.rev];
    return arrays.reduce((s, a) => s + a.byteLength, 0);
  }

  private fwdHash(proto: number, cip: number, cport: number, vip: number, vport: number): number {
    return mix(cip, vip, (cport << 16) | vport, proto) & this.mask;
  }

  private revHash(proto: number, rip: number, rport: number, cip: number, cport: number): number {
    return mix(rip, cip, (rport << 16) | cport, proto + 256) & this.mask;
  }

  private fwdHome(e: number): number {
    const p = this.ports[e];
    return this.fwdHash(this.proto[e], this.cip[e], p >>> 16, this.vip[e], p & 0xffff);
  }

  private revHome(e: number): number {
    return this.revHash(this.proto[e], this.rip[e], this.rport[e], this.cip[e], this.ports[e] >>> 16);
  }

  /**
   * The entry for a client's packet to a VIP, or -1. Expired entries are not returned; with `reap` (the
   * default) they are removed on the way (onRemove fires), without it (a trace dry run) nothing changes.
   */
  lookup(proto: number, cip: number, cport: number, vip: number, vport: number, now: number, reap = true): number {
    const idx = this.fwd;
    const mask = this.mask;
    const pv = ((cport << 16) | vport) >>> 0;
    for (let s = this.fwdHash(proto, cip, cport, vip, vport); ; s = (s + 1) & mask) {
      const e = idx[s];
      if (e < 0) return -1;
      if (this.cip[e] === cip && this.ports[e] === pv && this.vip[e] === vip && this.proto[e] === proto && (proto < PROTO_V6 || this.sameClient6(e))) {
        if (this.expires[e] <= now) {
          if (reap) {
            this.remove(e);
            this.expired++;
          }
          return -1;
        }
        return e;
      }
    }
  }

  /** The NAT entry for a real server's reply to a client, or -1. Expired entries as for lookup(). */
  lookupReply(proto: number, rip: number, rport: number, cip: number, cport: number, now: number, reap = true): number {
    const idx = this.rev;
    const mask = this.mask;
    for (let s = this.revHash(proto, rip, rport, cip, cport); ; s = (s + 1) & mask) {
      const e = idx[s];
      if (e < 0) return -1;
      if (this.rip[e] === rip && this.cip[e] === cip && this.rport[e] === rport && this.ports[e] >>> 16 === cport && this.proto[e] === proto && (proto < PROTO_V6 || this.sameClient6(e))) {
        if (this.expires[e] <= now) {
          if (reap) {
            this.remove(e);
            this.expired++;
          }
          return -1;
        }
        return e;
      }
    }
  }

  /**
   * A new connection; returns its entry, or -1 when the table is full (counted). The caller has made
   * sure no live entry has the same forward key. The state starts at SYN_RECV (TCP) or UDP. An IPv6
   * connection (proto + PROTO_V6) takes its client address from `key6`.
   */
  insert(proto: number, cip: number, cport: number, vip: number, vport: number, rip: number, rport: number, svc: number, rs: number, nat: boolean, now: number): number {
    const e = this.freeHead;
    if (e < 0 || this.count >= this.capacity) {
      this.refusedFull++;
      return -1;
    }
    this.freeHead = this.nextFree[e];
    this.nextFree[e] = -2; // in use
    if (e >= this.highWater) this.highWater = e + 1;
    this.proto[e] = proto;
    this.cip[e] = cip;
    if (proto >= PROTO_V6) this.cip6!.set(this.key6, e * 4);
    this.vip[e] = vip;
    this.rip[e] = rip;
    this.ports[e] = ((cport << 16) | vport) >>> 0;
    this.rport[e] = rport;
    this.svc[e] = svc;
    this.rs[e] = rs;
    this.flags[e] = nat ? F_NAT : 0;
    const st = (proto & 0xff) === IPPROTO_TCP ? STATE_SYN_RECV : STATE_UDP;
    this.state[e] = st;
    this.expires[e] = now + this.timeoutOf(st);
    const mask = this.mask;
    let s = this.fwdHash(proto, cip, cport, vip, vport);
    while (this.fwd[s] >= 0) s = (s + 1) & mask;
    this.fwd[s] = e;
    if (nat) {
      s = this.revHash(proto, rip, rport, cip, cport);
      while (this.rev[s] >= 0) s = (s + 1) & mask;
      this.rev[s] = e;
    }
    this.count++;
    this.created++;
    return e;
  }

  isLive(e: number): boolean {
    return e >= 0 && e < this.capacity && this.nextFree[e] === -2;
  }

  /** Take an entry out of both indexes and free it. */
  remove(e: number): void {
    if (this.nextFree[e] !== -2) return;
    this.onRemove?.(e);
    this.unindex(this.fwd, e, this.fwdHome(e), true);
    if (this.flags[e] & F_NAT) this.unindex(this.rev, e, this.revHome(e), false);
    this.nextFree[e] = this.freeHead;
    this.freeHead = e;
    this.state[e] = STATE_NONE;
    this.count--;
  }

  /** Backward-shift deletion of entry `e` whose home slot is `home`. */
  private unindex(idx: Int32Array, e: number, home: number, forward: boolean): void {
    const mask = this.mask;
    let i = home;
    while (idx[i] !== e) {
      if (idx[i] < 0) return; // not indexed (cannot happen for a live entry)
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const f = idx[j];
      if (f < 0) break;
      const k = forward ? this.fwdHome(f) : this.revHome(f);
      // Move f back to the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? k > i && k <= j : k > i || k <= j;
      if (!inRange) {
        idx[i] = f;
        i = j;
      }
    }
    idx[i] = -1;
  }

  timeoutOf(state: number): number {
    switch (state) {
      case STATE_SYN_RECV:
        return SYN_RECV_TIMEOUT;
      case STATE_ESTABLISHED:
        return this.timeouts.tcp;
      case STATE_FIN_WAIT:
        return this.timeouts.tcpfin;
      case STATE_TIME_WAIT:
        return TIME_WAIT_TIMEOUT;
      case STATE_CLOSE:
        return CLOSE_TIMEOUT;
      case STATE_UDP:
        return this.timeouts.udp;
      default:
        return CLOSE_TIMEOUT;
    }
  }

  /**
   * Advance a TCP entry's state for a segment with `tcpFlags` (header byte 13) seen from the client
   * (`fromClient`) or the real server; refresh its expiry. Returns the new state. `inputOnly`: DR/TUN
   * connections, whose replies bypass the switch (IPVS's input-only table).
   */
  tcpTransition(e: number, tcpFlags: number, fromClient: boolean, inputOnly: boolean, now: number): number {
    let st = this.state[e];
    if (tcpFlags & RST) {
      st = STATE_CLOSE;
    } else if (tcpFlags & FIN) {
      this.flags[e] |= fromClient ? F_FIN_IN : F_FIN_OUT;
      const f = this.flags[e];
      if (st !== STATE_TIME_WAIT && st !== STATE_CLOSE) st = (f & F_FIN_IN && f & F_FIN_OUT) ? STATE_TIME_WAIT : STATE_FIN_WAIT;
    } else if (tcpFlags & SYN) {
      // SYN (client) or SYN-ACK (server): stays in / goes to SYN_RECV until the handshake's ACK.
      if (st === STATE_NONE) st = STATE_SYN_RECV;
    } else if (tcpFlags & ACK) {
      if (st === STATE_SYN_RECV && fromClient) st = STATE_ESTABLISHED;
      else if (st === STATE_FIN_WAIT && inputOnly && fromClient) st = STATE_TIME_WAIT;
      else if (st === STATE_FIN_WAIT && !inputOnly && this.flags[e] & F_FIN_IN && this.flags[e] & F_FIN_OUT) st = STATE_TIME_WAIT;
    }
    this.state[e] = st;
    this.expires[e] = now + this.timeoutOf(st);
    return st;
  }

  /** Refresh a UDP entry. */
  touch(e: number, now: number): void {
    this.expires[e] = now + this.timeoutOf(this.state[e]);
  }

  /** Remove every entry that has expired by `now`; returns how many went. */
  expire(now: number): number {
    let n = 0;
    const end = this.highWater;
    for (let e = 0; e < end; e++) {
      if (this.nextFree[e] === -2 && this.expires[e] <= now) {
        this.remove(e);
        n++;
      }
    }
    this.expired += n;
    return n;
  }

  /** Every live entry, in entry order. */
  *entries(): Generator<number> {
    const end = this.highWater;
    for (let e = 0; e < end; e++) if (this.nextFree[e] === -2) yield e;
  }

  /** Remove every live entry for which `pred` holds; returns how many went. */
  removeWhere(pred: (e: number) => boolean): number {
    let n = 0;
    const end = this.highWater;
    for (let e = 0; e < end; e++) {
      if (this.nextFree[e] === -2 && pred(e)) {
        this.remove(e);
        n++;
      }
    }
    return n;
  }
}
