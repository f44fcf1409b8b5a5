/**
 * Addresses in the load balancer, both families.
 *
 * An IPv4 address is its uint32 everywhere (services, servers, connection entries). IPv6 addresses of
 * VIPs and real servers are few and configured: each distinct one gets a small handle (Ipv6Handles)
 * that stands where an IPv4 address would, always beside the family (a service's or server's `family`,
 * a connection entry's protocol key). Client IPv6 addresses are many and unknown: the connection table
 * keeps their 16 bytes (conn-table.ts), and schedulers hash their 32-bit fold, as IPVS's sh folds an
 * IPv6 source into one word.
 *
 * `LbIp` is what the control plane hands over: a number (IPv4) or 16 bytes (IPv6).
 */
import { read32 } from '../packet/bytes.js';
import { formatIpv4 } from '../packet/ipv4.js';
import { formatIpv6 } from '../packet/ipv6.js';

export type LbIp = number | Uint8Array;
export type LbFamily = 4 | 6;

export function familyOf(ip: LbIp): LbFamily {
  return typeof ip === 'number' ? 4 : 6;
}

/** Text of an address: dotted quad or canonical IPv6. */
export function formatLbIp(ip: LbIp): string {
  return typeof ip === 'number' ? formatIpv4(ip) : formatIpv6(ip, 0);
}

/** ADDRESS:PORT as ipvsadm prints it: IPv6 in brackets. */
export function formatHostPort(addrText: string, port: number): string {
  return addrText.includes(':') ? `[${addrText}]:${port}` : `${addrText}:${port}`;
}

/** One 32-bit word for four (an IPv6 address's words): what hashes and schedulers see of it. */
export function foldIpv6(w0: number, w1: number, w2: number, w3: number): number {
  return (w0 ^ Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w3, 0xc2b2ae35)) >>> 0;
}

/** The fold of the 16 bytes at `at`. */
export function foldIpv6At(buf: Uint8Array, at: number): number {
  return foldIpv6(read32(buf, at), read32(buf, at + 4), read32(buf, at + 8), read32(buf, at + 12));
}

/**
 * Handles for the IPv6 addresses of VIPs and real servers, reference-counted (a VIP shared by several
 * services, a server address in several services share one handle). `find` looks an address up in a
 * frame without allocating.
 */
export class Ipv6Handles {
  private bytes: Uint8Array[] = [];
  private refs: number[] = [];
  private readonly byFold = new Map<number, number[]>();

  /** The handle of `addr` (16 bytes), made on first use; each call takes a reference. */
  intern(addr: Uint8Array): number {
    const h = this.find(addr, 0);
    if (h >= 0) {
      this.refs[h]++;
      return h;
    }
    let n = this.refs.indexOf(0);
    if (n < 0) n = this.refs.length;
    this.bytes[n] = Uint8Array.from(addr.subarray(0, 16));
    this.refs[n] = 1;
    const f = foldIpv6At(addr, 0);
    const chain = this.byFold.get(f);
    if (chain) chain.push(n);
    else this.byFold.set(f, [n]);
    return n;
  }

  /** Give back one reference; the handle is forgotten with its last one. */
  release(h: number): void {
    if (!(this.refs[h] > 0)) return;
    if (--this.refs[h] > 0) return;
    const f = foldIpv6At(this.bytes[h], 0);
    const chain = this.byFold.get(f)!;
    chain.splice(chain.indexOf(h), 1);
    if (chain.length === 0) this.byFold.delete(f);
  }

  /** The handle of the 16 bytes at `buf[at]`, or -1. */
  find(buf: Uint8Array, at: number): number {
    const chain = this.byFold.get(foldIpv6At(buf, at));
    if (chain === undefined) return -1;
    for (let i = 0; i < chain.length; i++) {
      const b = this.bytes[chain[i]];
      let k = 0;
      while (k < 16 && b[k] === buf[at + k]) k++;
      if (k === 16) return chain[i];
    }
    return -1;
  }

  /** The address of a live handle (do not change it). */
  addressOf(h: number): Uint8Array {
    return this.bytes[h];
  }

  get size(): number {
    return this.byFold.size === 0 ? 0 : this.refs.filter((r) => r > 0).length;
  }
}
