/**
 * Fuzzing the packet views. The property: a view never reads outside (buf, off, len). It is checked
 * differentially — the same bytes are placed in three buffers whose surroundings differ (zeros, and
 * two random fills, before and after the frame); `bind` must return the same result in all, and when
 * it says 'ok' every getter and option lookup must return the same values. A read past either end
 * would see different bytes (random fills, so a walk that stops on 0x00 or 0xff still diverges).
 * Nothing may throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ArpView, EthernetView, IcmpView, Ipv4View, Ipv6View, TcpView, UdpView, VxlanView } from '../../../src/packet/index.js';
import { Mutator } from './mutator.js';

type View = { bind(buf: Uint8Array, off: number, len: number): string };
const VIEWS: [string, () => View][] = [
  ['ethernet', () => new EthernetView()],
  ['arp', () => new ArpView()],
  ['ipv4', () => new Ipv4View()],
  ['ipv6', () => new Ipv6View()],
  ['icmp', () => new IcmpView()],
  ['udp', () => new UdpView()],
  ['tcp', () => new TcpView()],
  ['vxlan', () => new VxlanView()],
];

function getterNames(v: object): string[] {
  const names: string[] = [];
  for (let p = Object.getPrototypeOf(v); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) if (d.get && !names.includes(k)) names.push(k);
  }
  return names.filter((n) => !['buf', 'off', 'len'].includes(n));
}

function readAll(v: View, names: string[]): unknown[] {
  const out: unknown[] = names.map((n) => (v as unknown as Record<string, unknown>)[n]);
  const findOption = (v as { findOption?: (k: number) => number }).findOption;
  if (findOption) for (let k = 0; k < 9; k++) out.push(findOption.call(v, k));
  return out;
}

const PAD = 24;
let fillSeed = 1;
/** The bytes at offset PAD of a buffer whose surroundings are zeros (fill 0) or pseudo-random. */
function surround(bytes: Uint8Array, fill: 'zero' | 'random'): Uint8Array {
  const buf = new Uint8Array(bytes.length + 2 * PAD);
  if (fill === 'random') {
    let x = (fillSeed = (fillSeed * 1103515245 + 12345) >>> 0);
    for (let i = 0; i < buf.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf[i] = x & 0xff;
    }
  }
  buf.set(bytes, PAD);
  return buf;
}

/** Check one byte string against every view (at the start and at each header boundary). Returns binds done. */
function checkAllViews(bytes: Uint8Array, where: string): number {
  let n = 0;
  for (const [name, make] of VIEWS) {
    for (const skip of [0, 14, 18, 34, 42, 54]) {
      if (skip > bytes.length) continue;
      const sub = bytes.subarray(skip);
      const views = [make(), make(), make()];
      const results = views.map((v, i) => v.bind(surround(sub, i === 0 ? 'zero' : 'random'), PAD, sub.length));
      n += 3;
      if (results[1] !== results[0] || results[2] !== results[0]) {
        throw new Error(`${name} bind looked outside its bytes (${results.join(' vs ')}) at ${where}, skip ${skip}`);
      }
      if (results[0] === 'ok') {
        // What a view says lies inside it must lie inside the bytes it was given.
        const v = views[0] as unknown as { payloadOffset?: number; payloadLength?: number; upperOffset?: number; upperLength?: number };
        for (const [o, l] of [
          [v.payloadOffset, v.payloadLength],
          [v.upperOffset, v.upperLength],
        ]) {
          if (o !== undefined && l !== undefined && (o < PAD || l < 0 || o + l > PAD + sub.length)) {
            throw new Error(`${name} claims [${o - PAD}, +${l}) outside its ${sub.length} bytes at ${where}, skip ${skip}`);
          }
        }
        const names = getterNames(views[0]);
        const values = views.map((v) => readAll(v, names));
        for (let i = 0; i < values[0].length; i++) {
          for (const other of [values[1], values[2]]) {
            if (!Object.is(values[0][i], other[i])) {
              throw new Error(`${name}.${names[i] ?? `findOption(${i - names.length})`} read outside its bytes (${values[0][i]} vs ${other[i]}) at ${where}, skip ${skip}`);
            }
          }
        }
      }
    }
  }
  return n;
}

describe('packet views under fuzzing', () => {
  it('never read outside their bytes, over 40k seeded mutants of real frames', () => {
    const seed = 0x7a11;
    const m = new Mutator(seed);
    let binds = 0;
    for (let i = 0; i < 40_000; i++) binds += checkAllViews(m.next().frame, `seed ${seed} case ${i}`);
    expect(binds).toBeGreaterThan(2_000_000);
  });

  it('never read outside their bytes for arbitrary byte strings (fast-check, shrinking)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => {
        checkAllViews(bytes, 'fast-check');
      }),
      { numRuns: 3000, seed: 4242 },
    );
  });
});
