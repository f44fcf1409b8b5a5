// native-gso: segment() and completeChecksum() from the C addon (native/src/gso.c), checked against
// checksums computed here with a deliberately naive helper that shares no code with the addon.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface Vnet {
  flags?: number;
  gsoType: number;
  hdrLen?: number;
  gsoSize: number;
  csumStart?: number;
  csumOffset?: number;
}
interface GsoAddon {
  segment(frame: Uint8Array, vnet: Vnet): Uint8Array[];
  completeChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void;
}

const native = createRequire(import.meta.url)('../../build/Release/tsnet_native.node') as GsoAddon;

const NEEDS_CSUM = 1;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_ECN = 0x80;
const FIN = 0x01;
const PSH = 0x08;
const ACK = 0x10;
const ECE = 0x40;
const CWR = 0x80;

/** Ones-complement sum of big-endian 16-bit words, folded (RFC 1071), byte by byte. */
function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i < end; i += 2) {
    acc += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
    acc = (acc & 0xffff) + (acc >>> 16);
  }
  return acc;
}

function pseudo(f: Uint8Array, l3: number, v6: boolean, l4len: number): number {
  if (v6) return sum16(new Uint8Array([l4len >>> 24, (l4len >>> 16) & 255, (l4len >>> 8) & 255, l4len & 255, 0, 0, 0, 6]), 0, 8, sum16(f, l3 + 8, l3 + 40));
  return sum16(new Uint8Array([0, 6, l4len >>> 8, l4len & 255]), 0, 4, sum16(f, l3 + 12, l3 + 20));
}

/** True when pseudo-header + TCP segment sums to 0xffff. */
function tcpChecksumOk(f: Uint8Array, l3: number, l4: number, v6: boolean): boolean {
  return sum16(f, l4, f.length, pseudo(f, l3, v6, f.length - l4)) === 0xffff;
}

interface Built {
  frame: Uint8Array;
  l3: number;
  l4: number;
  hdrs: number;
  vnet: Vnet;
}

/** A TCP super-frame as a TAP hands it over: partial checksum = folded pseudo-header sum, NEEDS_CSUM. */
function build(opts: { v6: boolean; vlan?: boolean; payload: number; flags: number; mss?: number }): Built {
  const l3 = opts.vlan ? 18 : 14;
  const l4 = l3 + (opts.v6 ? 40 : 20);
  const thl = 32;
  const hdrs = l4 + thl;
  const f = new Uint8Array(hdrs + opts.payload);
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  if (opts.vlan) {
    dv.setUint16(12, 0x8100);
    dv.setUint16(14, 100);
  }
  dv.setUint16(l3 - 2, opts.v6 ? 0x86dd : 0x0800);
  if (opts.v6) {
    f[l3] = 0x60;
    dv.setUint16(l3 + 4, f.length - l3 - 40);
    f[l3 + 6] = 6;
    f[l3 + 7] = 64;
    f[l3 + 8] = 0xfd;
    f[l3 + 23] = 1;
    f[l3 + 24] = 0xfd;
    f[l3 + 39] = 2;
  } else {
    f[l3] = 0x45;
    dv.setUint16(l3 + 2, f.length - l3);
    dv.setUint16(l3 + 4, 0xfff0); // wraps during segmentation
    dv.setUint16(l3 + 6, 0x4000); // DF
    f[l3 + 8] = 64;
    f[l3 + 9] = 6;
    f.set([10, 0, 0, 1, 10, 0, 0, 2], l3 + 12);
  }
  dv.setUint16(l4, 40000);
  dv.setUint16(l4 + 2, 5201);
  dv.setUint32(l4 + 4, 0xffffe000); // wraps during segmentation
  dv.setUint32(l4 + 8, 0x01020304);
  f[l4 + 12] = (thl / 4) << 4;
  f[l4 + 13] = opts.flags;
  dv.setUint16(l4 + 14, 501);
  f.set([1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88], l4 + 20);
  for (let i = 0; i < opts.payload; i++) f[hdrs + i] = (i * 7 + (i >> 8) + 3) & 255;
  dv.setUint16(l4 + 16, pseudo(f, l3, opts.v6, f.length - l4));
  return {
    frame: f,
    l3,
    l4,
    hdrs,
    vnet: {
      flags: NEEDS_CSUM,
      gsoType: opts.v6 ? GSO_TCPV6 : GSO_TCPV4,
      hdrLen: hdrs,
      gsoSize: opts.mss ?? 1448,
      csumStart: l4,
      csumOffset: 16,
    },
  };
}

function checkSegments(b: Built, segs: Uint8Array[], v6: boolean): void {
  const mss = b.vnet.gsoSize;
  const payload = b.frame.length - b.hdrs;
  const expected = Math.max(1, Math.ceil(payload / mss));
  expect(segs.length).toBe(expected);
  const orig = new DataView(b.frame.buffer);
  const seq0 = orig.getUint32(b.l4 + 4);
  const id0 = orig.getUint16(b.l3 + 4);
  const flags0 = b.frame[b.l4 + 13];
  const joined: Uint8Array[] = [];
  let joinedLen = 0;
  segs.forEach((s, k) => {
    expect(s).toBeInstanceOf(Uint8Array);
    const dv = new DataView(s.buffer, s.byteOffset, s.byteLength);
    const n = Math.min(mss, payload - k * mss);
    expect(s.length).toBe(b.hdrs + n);
    expect(s.subarray(0, b.l3)).toEqual(b.frame.subarray(0, b.l3));
    if (v6) {
      expect(dv.getUint16(b.l3 + 4)).toBe(s.length - b.l3 - 40);
    } else {
      expect(sum16(s, b.l3, b.l4)).toBe(0xffff);
      expect(dv.getUint16(b.l3 + 2)).toBe(s.length - b.l3);
      expect(dv.getUint16(b.l3 + 4)).toBe((id0 + k) & 0xffff);
      expect(dv.getUint16(b.l3 + 6)).toBe(0x4000);
    }
    expect(tcpChecksumOk(s, b.l3, b.l4, v6)).toBe(true);
    expect(dv.getUint32(b.l4 + 4)).toBe((seq0 + joinedLen) >>> 0);
    let want = flags0;
    if (k > 0) want &= ~CWR;
    if (k < segs.length - 1) want &= ~(FIN | PSH);
    expect(s[b.l4 + 13]).toBe(want);
    joined.push(s.subarray(b.hdrs));
    joinedLen += s.length - b.hdrs;
  });
  expect(Buffer.concat(joined).equals(b.frame.subarray(b.hdrs))).toBe(true);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('native segment()', () => {
  it('cuts a 64000-byte TCP/IPv4 super-frame at MSS 1448', () => {
    const b = build({ v6: false, payload: 64000 - 66, flags: ACK | PSH | FIN | CWR | ECE });
    const before = b.frame.slice();
    const segs = native.segment(b.frame, b.vnet);
    expect(segs.length).toBe(45);
    checkSegments(b, segs, false);
    expect(Buffer.from(b.frame).equals(before)).toBe(true); // input untouched
  });

  it('cuts a 64000-byte TCP/IPv6 super-frame with GSO_ECN at MSS 1448', () => {
    const b = build({ v6: true, payload: 64000 - 86, flags: ACK | PSH | FIN | CWR });
    b.vnet.gsoType |= GSO_ECN;
    const segs = native.segment(b.frame, b.vnet);
    expect(segs.length).toBe(45);
    checkSegments(b, segs, true);
  });

  it('handles an 802.1Q tag, an odd MSS and an odd payload', () => {
    const b = build({ v6: false, vlan: true, payload: 4001, flags: ACK | PSH, mss: 1001 });
    checkSegments(b, native.segment(b.frame, b.vnet), false);
  });

  it('emits a frame that already fits once, with its checksum completed', () => {
    const b = build({ v6: false, payload: 100, flags: ACK | PSH | FIN | CWR });
    const segs = native.segment(b.frame, b.vnet);
    expect(segs.length).toBe(1);
    checkSegments(b, segs, false);
  });

  it('ignores hdrLen and accepts a Buffer', () => {
    const b = build({ v6: true, payload: 5000, flags: ACK });
    b.vnet.hdrLen = 0;
    checkSegments(b, native.segment(Buffer.from(b.frame), b.vnet), true);
  });

  it('throws EINVAL for malformed input', () => {
    const truncated = build({ v6: false, payload: 5000, flags: ACK });
    expect(codeOf(() => native.segment(truncated.frame.subarray(0, 24), truncated.vnet))).toBe('EINVAL');

    const zeroMss = build({ v6: false, payload: 5000, flags: ACK });
    expect(codeOf(() => native.segment(zeroMss.frame, { ...zeroMss.vnet, gsoSize: 0 }))).toBe('EINVAL');

    const udp = build({ v6: false, payload: 5000, flags: ACK });
    udp.frame[udp.l3 + 9] = 17;
    expect(codeOf(() => native.segment(udp.frame, udp.vnet))).toBe('EINVAL');

    const past = build({ v6: false, payload: 5000, flags: ACK });
    expect(codeOf(() => native.segment(past.frame, { ...past.vnet, csumStart: past.frame.length + 10 }))).toBe('EINVAL');

    const wrongFamily = build({ v6: false, payload: 5000, flags: ACK });
    expect(codeOf(() => native.segment(wrongFamily.frame, { ...wrongFamily.vnet, gsoType: GSO_TCPV6 }))).toBe('EINVAL');

    const e = (() => {
      try {
        native.segment(zeroMss.frame, { ...zeroMss.vnet, gsoSize: 0 });
      } catch (err) {
        return err as Error & { errno?: number };
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(Error);
    expect(e?.errno).toBe(22);
    expect(e?.message).toMatch(/gsoSize 0/);
  });

  it('refuses bad argument types and out-of-range fields', () => {
    const b = build({ v6: false, payload: 5000, flags: ACK });
    expect(codeOf(() => native.segment([1, 2, 3] as unknown as Uint8Array, b.vnet))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => native.segment(b.frame, null as unknown as Vnet))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => native.segment(b.frame, { ...b.vnet, gsoSize: 70000 }))).toBe('EINVAL');
    expect(codeOf(() => native.segment(b.frame, { ...b.vnet, gsoSize: -1 }))).toBe('EINVAL');
    expect(codeOf(() => native.segment(b.frame, { gsoType: GSO_TCPV4 } as Vnet))).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('native completeChecksum()', () => {
  it('completes a partial TCP checksum in place', () => {
    for (const [v6, payload] of [
      [false, 0],
      [true, 1],
      [false, 1447],
      [true, 60001],
    ] as const) {
      const b = build({ v6, payload, flags: ACK | PSH });
      native.completeChecksum(b.frame, b.l4, 16);
      expect(tcpChecksumOk(b.frame, b.l3, b.l4, v6)).toBe(true);
    }
  });

  it('stores a UDP result of 0 as 0xffff', () => {
    const f = new Uint8Array(14 + 20 + 12);
    const dv = new DataView(f.buffer);
    dv.setUint16(12, 0x0800);
    f[14] = 0x45;
    dv.setUint16(16, 32);
    f[22] = 64;
    f[23] = 17;
    f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
    const uh = 34;
    dv.setUint16(uh, 1000);
    dv.setUint16(uh + 2, 2000);
    dv.setUint16(uh + 4, 12);
    const ps = sum16(new Uint8Array([0, 17, 0, 12]), 0, 4, sum16(f, 26, 34));
    dv.setUint16(uh + 6, ps);
    dv.setUint16(uh + 10, 0xffff - sum16(f, uh, uh + 12)); // makes the final checksum come out as 0
    native.completeChecksum(f, uh, 6);
    expect(dv.getUint16(uh + 6)).toBe(0xffff);
  });

  it('throws EINVAL when the offsets fall outside the frame', () => {
    const b = build({ v6: false, payload: 10, flags: ACK });
    const n = b.frame.length;
    expect(codeOf(() => native.completeChecksum(b.frame, n, 0))).toBe('EINVAL');
    expect(codeOf(() => native.completeChecksum(b.frame, n - 1, 0))).toBe('EINVAL');
    expect(codeOf(() => native.completeChecksum(b.frame, b.l4, 0xffff))).toBe('EINVAL');
    expect(codeOf(() => native.completeChecksum(b.frame, 70000, 0))).toBe('EINVAL');
    expect(codeOf(() => native.completeChecksum(b.frame, n - 2, 0))).toBeUndefined();
  });
});
