/**
 * Schedulers over plain RealServer objects: exact spreads for rr/wrr, least-connection choices, sh
 * stability per client, and Maglev's minimal disruption (removing one of N servers remaps about 1/N).
 */
import { describe, expect, it } from 'vitest';
import { RealServer } from '../../../src/lb/real-server.js';
import { createScheduler } from '../../../src/lb/schedulers/index.js';
import { isPrime, MaglevScheduler, populateMaglev } from '../../../src/lb/schedulers/maglev.js';

function servers(weights: number[]): RealServer[] {
  return weights.map((w, i) => new RealServer(i, 0, (10 << 24) | (1 << 8) | (i + 10), 80, w, 'nat', 0x020000000001 + i));
}

function counts(picks: (RealServer | null)[]): number[] {
  const c: number[] = [];
  for (const p of picks) c[p!.id] = (c[p!.id] ?? 0) + 1;
  return c;
}

describe('schedulers', () => {
  it('rr spreads exactly and skips servers that are not handed to it', () => {
    const s = servers([1, 1, 1]);
    const rr = createScheduler('rr');
    rr.update(s);
    expect(Array.from({ length: 9 }, () => rr.pick(0, 0)!.id)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    rr.update([s[0], s[2]]);
    expect(Array.from({ length: 4 }, () => rr.pick(0, 0)!.id)).toEqual([0, 2, 0, 2]);
    rr.update([]);
    expect(rr.pick(0, 0)).toBeNull();
  });

  it('wrr follows the weights exactly over each cycle, interleaved like IPVS', () => {
    const s = servers([3, 2, 1]);
    const wrr = createScheduler('wrr');
    wrr.update(s);
    const seq = Array.from({ length: 6 }, () => wrr.pick(0, 0)!.id);
    expect(seq).toEqual([0, 0, 1, 0, 1, 2]);
    const many = Array.from({ length: 600 }, () => wrr.pick(0, 0));
    expect(counts(many)).toEqual([300, 200, 100]);
    // gcd stepping: weights 4:2 behave like 2:1
    const t = servers([4, 2]);
    wrr.update(t);
    expect(counts(Array.from({ length: 6 }, () => wrr.pick(0, 0)))).toEqual([4, 2]);
  });

  it('lc picks the fewest connections (active count 256x), wlc relative to weight', () => {
    const s = servers([1, 1, 1]);
    s[0].activeConns = 2;
    s[1].activeConns = 1;
    s[2].activeConns = 1;
    s[2].inactConns = 5;
    const lc = createScheduler('lc');
    lc.update(s);
    expect(lc.pick(0, 0)!.id).toBe(1);
    const w = servers([1, 4]);
    w[0].activeConns = 1;
    w[1].activeConns = 3; // 3/4 < 1/1
    const wlc = createScheduler('wlc');
    wlc.update(w);
    expect(wlc.pick(0, 0)!.id).toBe(1);
    w[1].activeConns = 5; // 5/4 > 1/1
    expect(wlc.pick(0, 0)!.id).toBe(0);
  });

  it('sh sends a client to the same server every time, and spreads clients over servers', () => {
    const s = servers([1, 1, 1]);
    const sh = createScheduler('sh');
    sh.update(s);
    const seen = new Set<number>();
    for (let c = 1; c <= 200; c++) {
      const ip = (10 << 24) | c;
      const first = sh.pick(ip, 1000)!.id;
      for (let k = 0; k < 3; k++) expect(sh.pick(ip, 2000 + k)!.id).toBe(first);
      seen.add(first);
    }
    expect(seen.size).toBe(3);
  });

  it('Maglev fills a prime table, balances by weight, and is stable per client', () => {
    expect(isPrime(65537)).toBe(true);
    expect(() => new MaglevScheduler(65536)).toThrow(/prime/);
    const table = populateMaglev([{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }, { key: 'c', weight: 2 }], 65537);
    const c = [0, 0, 0];
    for (const i of table) c[i]++;
    expect(c.reduce((x, y) => x + y)).toBe(65537);
    expect(c[2] / 65537).toBeGreaterThan(0.45);
    expect(c[2] / 65537).toBeLessThan(0.55);
    expect(Math.abs(c[0] - c[1]) / 65537).toBeLessThan(0.02);
    const s = servers([1, 1, 1]);
    const mh = createScheduler('mh');
    mh.update(s);
    for (let k = 1; k < 50; k++) expect(mh.pick((10 << 24) | k, 1)).toBe(mh.pick((10 << 24) | k, 999));
  });

  it('Maglev: removing one of N servers remaps about 1/N of clients and no more; adding it back restores them', () => {
    const N = 10;
    const s = servers(Array(N).fill(1));
    const mh = createScheduler('mh');
    mh.update(s);
    const clients = Array.from({ length: 20000 }, (_, i) => ((10 << 24) | (i * 7919 + 13)) >>> 0);
    const before = clients.map((c) => mh.pick(c, 0)!.id);
    const gone = 3;
    mh.update(s.filter((x) => x.id !== gone));
    const after = clients.map((c) => mh.pick(c, 0)!.id);
    let moved = 0;
    let movedOther = 0;
    for (let i = 0; i < clients.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        if (before[i] !== gone) movedOther++;
      }
      expect(after[i]).not.toBe(gone);
    }
    const share = before.filter((x) => x === gone).length;
    // Every client of the removed server moves; of the others, almost none (Maglev's small extra).
    expect(moved).toBeGreaterThanOrEqual(share);
    expect(moved / clients.length).toBeLessThan((1 / N) * 1.25);
    expect(movedOther / clients.length).toBeLessThan(0.02);
    // Same set again -> the same table: every client is back where it was.
    mh.update(s);
    expect(clients.map((c) => mh.pick(c, 0)!.id)).toEqual(before);
  });
});
