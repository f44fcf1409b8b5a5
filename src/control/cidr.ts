/**
 * IPv4 addresses and CIDR blocks for the control plane (IPAM, `--subnet`, `--ip`, routes).
 *
 * An address is a uint32 number (10.0.0.1 === 0x0a000001), never a string, once parsed: comparisons,
 * masks and ranges are then plain arithmetic. Every result goes through `>>> 0` so it stays unsigned.
 *
 * Parsing is strict, as the API and the CLI must be: a dotted quad of exactly four decimal numbers
 * 0..255 without leading zeros (010 would be octal to inet_aton, decimal to others: refused rather
 * than guessed, as Go's net.ParseIP does), no whitespace; a CIDR is ADDRESS/PREFIX with prefix 0..32
 * and no host bits set ('10.0.0.1/24' is refused with the suggestion '10.0.0.0/24'), unless the caller
 * asks for an interface-style address (`allowHostBits`, for host routes and addresses).
 * Errors are TsnErrors: ERR_BAD_IP for an address, ERR_BAD_CIDR for a block, each naming the value.
 *
 * The reading of a dotted quad is src/packet/ipv4.ts's (one parser for the whole project); this file
 * names the value in a TsnError and adds the blocks.
 */
import { TsnError } from '../errors.js';
import { formatIpv4 as dottedQuad, ipv4OrProblem, isIpv4 } from '../packet/ipv4.js';

export interface Cidr {
  /** The network address (host bits zero), uint32. */
  network: number;
  /** 0..32 */
  prefixLen: number;
  /** Canonical text, '10.0.0.0/24'. */
  text: string;
}

const IPV4_EXAMPLE = 'a dotted quad of four decimal numbers 0-255, e.g. 10.0.0.1';

/**
 * Parse a strict dotted quad into a uint32. `what` names the value in the error ('gateway',
 * '--ip', ...). Throws ERR_BAD_IP.
 */
export function parseIpv4(text: string, what = 'IPv4 address'): number {
  const r = ipv4OrProblem(text);
  if (typeof r === 'number') return r;
  throw new TsnError('ERR_BAD_IP', `${what} ${JSON.stringify(text)} is not a valid IPv4 address: ${r}; expected ${IPV4_EXAMPLE}`, { value: text });
}

export { isIpv4 };

/**
 * A uint32 as a dotted quad: the packet views' formatting, checked. The control plane's numbers come
 * from arithmetic on parsed addresses, where a value out of range is a bug to report, not to wrap.
 */
export function formatIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`formatIpv4(${n}): expected an integer 0..4294967295`);
  return dottedQuad(n);
}

/** The netmask of a prefix length as a uint32: 24 -> 0xffffff00. */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** A Cidr from a network number and prefix length; host bits are cleared. */
export function makeCidr(address: number, prefixLen: number): Cidr {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new RangeError(`makeCidr: prefix length ${prefixLen}: expected an integer 0..32`);
  const network = (address & prefixMask(prefixLen)) >>> 0;
  return { network, prefixLen, text: `${formatIpv4(network)}/${prefixLen}` };
}

export interface ParseCidrOptions {
  /** Names the value in errors: 'subnet', '--ip-range', 'default pool base', ... */
  what?: string;
  /**
   * Accept host bits ('192.168.1.17/24', as an interface address or a route is often written) and
   * clear them, instead of refusing. A bare address is then also accepted, as a /32.
   */
  allowHostBits?: boolean;
}

/** Parse 'A.B.C.D/N'. Throws ERR_BAD_CIDR naming the value and the accepted form. */
export function parseCidr(text: string, opts: ParseCidrOptions = {}): Cidr {
  const what = opts.what ?? 'CIDR';
  const fail = (why: string, details: Record<string, unknown> = {}): never => {
    throw new TsnError('ERR_BAD_CIDR', `${what} ${JSON.stringify(text)} is not a valid IPv4 CIDR: ${why}`, { value: text, ...details });
  };
  if (typeof text !== 'string') return fail(`it is a ${text === null ? 'null' : typeof text}, not a string; expected ADDRESS/PREFIX such as 10.0.0.0/24`);
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (opts.allowHostBits && isIpv4(text)) return makeCidr(parseIpv4(text), 32);
    return fail('the /PREFIX is missing; expected ADDRESS/PREFIX such as 10.0.0.0/24');
  }
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const addr = ipv4OrProblem(addrText);
  if (typeof addr === 'string') return fail(`address ${JSON.stringify(addrText)}: ${addr}; expected ADDRESS/PREFIX such as 10.0.0.0/24, the address being four decimal numbers 0-255`);
  if (!/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > 32) {
    return fail(`prefix length ${JSON.stringify(prefixText)} is not a number 0..32; expected e.g. ${addrText}/24`);
  }
  const prefixLen = Number(prefixText);
  const c = makeCidr(addr, prefixLen);
  if (c.network !== addr && !opts.allowHostBits) {
    return fail(`host bits are set (the network of ${text} is ${c.text}); did you mean ${c.text}?`, { suggestion: c.text });
  }
  return c;
}

/** Number of addresses in the block: 2^(32-prefix). */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefixLen);
}

/** The last address of the block (the broadcast address for prefixes up to /30). */
export function broadcast(c: Cidr): number {
  return (c.network | ~prefixMask(c.prefixLen)) >>> 0;
}

/** The first usable host: network+1, or the network itself for /31 and /32 (RFC 3021). */
export function firstHost(c: Cidr): number {
  return c.prefixLen >= 31 ? c.network : c.network + 1;
}

/** The last usable host: broadcast-1, or the last address for /31 and /32. */
export function lastHost(c: Cidr): number {
  return c.prefixLen >= 31 ? broadcast(c) : broadcast(c) - 1;
}

/** Whether `ip` (a uint32) lies in the block. */
export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & prefixMask(c.prefixLen)) >>> 0) === c.network;
}

/** Whether `inner` lies wholly in `outer`. */
export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLen >= outer.prefixLen && cidrContains(outer, inner.network);
}

/** Whether the two blocks share any address (then one contains the other). */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.network) || cidrContains(b, a.network);
}
