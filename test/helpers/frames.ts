/**
 * Hand-built frames for tests, written byte by byte so the tests do not lean on the views they check.
 */
export const BROADCAST = 0xffffffffffff;

export function macBytes(mac: number): number[] {
  const hi = Math.floor(mac / 2 ** 32);
  const lo = mac >>> 0;
  return [(hi >> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff];
}

/** Ethernet frame: dst, src, ethertype, payload (default: 46 bytes of a counter pattern). */
export function ethFrame(dst: number, src: number, ethertype = 0x0800, payload?: Uint8Array | number[]): Uint8Array {
  const body = payload ?? Array.from({ length: 46 }, (_, i) => i & 0xff);
  return Uint8Array.from([...macBytes(dst), ...macBytes(src), ethertype >> 8, ethertype & 0xff, ...body]);
}

function sum16(bytes: ArrayLike<number>, off: number, len: number, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < len; i += 2) s += (bytes[off + i] << 8) | bytes[off + i + 1];
  if (len & 1) s += bytes[off + len - 1] << 8;
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

export function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/**
 * Ethernet + IPv4 + TCP with `payloadLen` bytes of pattern, all checksums correct. Returns the frame and
 * the offsets a virtio-net header would carry (csum_start/offset of TCP).
 */
export function tcpFrame(opts: {
  dst: number;
  src: number;
  srcIp: string;
  dstIp: string;
  sport: number;
  dport: number;
  seq?: number;
  flags?: number;
  payloadLen: number;
  partialCsum?: boolean;
}): { frame: Uint8Array; csumStart: number; csumOffset: number } {
  const ipLen = 20 + 20 + opts.payloadLen;
  const f = new Uint8Array(14 + ipLen);
  f.set(macBytes(opts.dst), 0);
  f.set(macBytes(opts.src), 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 2] = (ipLen >> 8) & 0xff;
  f[ip + 3] = ipLen & 0xff;
  f[ip + 4] = 0x12;
  f[ip + 5] = 0x34;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  f.set(ipv4Bytes(opts.srcIp), ip + 12);
  f.set(ipv4Bytes(opts.dstIp), ip + 16);
  const hc = fold(sum16(f, ip, 20));
  f[ip + 10] = hc >> 8;
  f[ip + 11] = hc & 0xff;
  const t = ip + 20;
  f[t] = opts.sport >> 8;
  f[t + 1] = opts.sport & 0xff;
  f[t + 2] = opts.dport >> 8;
  f[t + 3] = opts.dport & 0xff;
  const seq = opts.seq ?? 1000;
  f[t + 4] = seq >>> 24;
  f[t + 5] = (seq >> 16) & 0xff;
  f[t + 6] = (seq >> 8) & 0xff;
  f[t + 7] = seq & 0xff;
  f[t + 12] = 5 << 4;
  f[t + 13] = opts.flags ?? 0x18; // PSH|ACK
  f[t + 14] = 0xff;
  f[t + 15] = 0xff;
  for (let i = 0; i < opts.payloadLen; i++) f[t + 20 + i] = (i * 7) & 0xff;
  const tcpLen = 20 + opts.payloadLen;
  const pseudo = sum16(f, ip + 12, 8) + 6 + tcpLen;
  if (opts.partialCsum) {
    // As a TCP stack with checksum offload leaves it: the folded pseudo-header sum, not complemented.
    const p = (~fold(pseudo)) & 0xffff;
    f[t + 16] = p >> 8;
    f[t + 17] = p & 0xff;
  } else {
    const c = fold(sum16(f, t, tcpLen, pseudo));
    f[t + 16] = c >> 8;
    f[t + 17] = c & 0xff;
  }
  return { frame: f, csumStart: t, csumOffset: 16 };
}

/** True if the IPv4 header and TCP checksum of an Ethernet/IPv4/TCP frame verify. */
export function tcpChecksumsValid(f: Uint8Array): boolean {
  const ip = 14;
  const ihl = (f[ip] & 0x0f) * 4;
  if (fold(sum16(f, ip, ihl)) !== 0) return false;
  const total = (f[ip + 2] << 8) | f[ip + 3];
  const tcpLen = total - ihl;
  const pseudo = sum16(f, ip + 12, 8) + 6 + tcpLen;
  return fold(sum16(f, ip + ihl, tcpLen, pseudo)) === 0;
}

/** Deterministic PRNG (mulberry32) for fuzz-style tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a NIC/kernel does to a NEEDS_CSUM frame: sum from csum_start to the end, store the complement. */
export function completePartialChecksum(f: Uint8Array, csumStart: number, csumOffset: number): void {
  const c = fold(sum16(f, csumStart, f.length - csumStart));
  f[csumStart + csumOffset] = c >> 8;
  f[csumStart + csumOffset + 1] = c & 0xff;
}

/** The 16 bytes of IPv6 text (tests only: full or `::` forms, no dotted tail). */
export function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.split('::');
  const words = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/**
 * An Ethernet/IPv6/TCP or UDP frame (next header right after the fixed header) with a valid
 * checksum, or with `partialCsum` the folded pseudo-header sum a NEEDS_CSUM sender leaves.
 */
export function l4Frame6(opts: {
  dst: number;
  src: number;
  srcIp: string;
  dstIp: string;
  proto: 6 | 17;
  sport: number;
  dport: number;
  flags?: number;
  payloadLen: number;
  partialCsum?: boolean;
}): { frame: Uint8Array; csumStart: number; csumOffset: number } {
  const l4Len = (opts.proto === 6 ? 20 : 8) + opts.payloadLen;
  const f = new Uint8Array(14 + 40 + l4Len);
  f.set(macBytes(opts.dst), 0);
  f.set(macBytes(opts.src), 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  const ip = 14;
  f[ip] = 0x60;
  f[ip + 4] = l4Len >> 8;
  f[ip + 5] = l4Len & 0xff;
  f[ip + 6] = opts.proto;
  f[ip + 7] = 64;
  f.set(ipv6Bytes(opts.srcIp), ip + 8);
  f.set(ipv6Bytes(opts.dstIp), ip + 24);
  const t = ip + 40;
  f[t] = opts.sport >> 8;
  f[t + 1] = opts.sport & 0xff;
  f[t + 2] = opts.dport >> 8;
  f[t + 3] = opts.dport & 0xff;
  const hdr = opts.proto === 6 ? 20 : 8;
  if (opts.proto === 6) {
    f[t + 12] = 5 << 4;
    f[t + 13] = opts.flags ?? 0x18;
    f[t + 14] = 0xff;
  } else {
    f[t + 4] = l4Len >> 8;
    f[t + 5] = l4Len & 0xff;
  }
  for (let i = 0; i < opts.payloadLen; i++) f[t + hdr + i] = (i * 11) & 0xff;
  const at = opts.proto === 6 ? 16 : 6;
  const pseudo = sum16(f, ip + 8, 32) + opts.proto + l4Len;
  const c = opts.partialCsum ? ~fold(pseudo) & 0xffff : fold(sum16(f, t, l4Len, pseudo));
  f[t + at] = c >> 8;
  f[t + at + 1] = c & 0xff;
  return { frame: f, csumStart: t, csumOffset: at };
}

/** True if the TCP/UDP/ICMPv6 checksum of an Ethernet/IPv6 frame (no extension headers) verifies. */
export function l4Checksum6Valid(f: Uint8Array): boolean {
  const ip = 14;
  const len = (f[ip + 4] << 8) | f[ip + 5];
  return fold(sum16(f, ip + 40, len, sum16(f, ip + 8, 32) + f[ip + 6] + len)) === 0;
}
