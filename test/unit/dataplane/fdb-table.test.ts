import { describe, expect, it } from 'vitest';
import { prng } from '../../helpers/frames.js';
import { FdbTable, hashMac, type FdbEntry, type LearnOutcome } from '../../../src/dataplane/fdb-table.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';

describe('FdbTable', () => {
  const p1 = new MemoryPort('p1');
  const p2 = new MemoryPort('p2');

  it('learns, refreshes, moves, and reports each outcome', () => {
    const t = new FdbTable();
    expect(t.learn(1, p1, 0)).toBe('new');
    expect(t.learn(1, p1, 5)).toBe('refreshed');
    expect(t.get(1)?.updated).toBe(5);
    expect(t.learn(1, p2, 6)).toBe('moved');
    expect(t.lookup(1)).toBe(p2);
    expect(t.counters()).toMatchObject({ entries: 1, learned: 1, moved: 1 });
  });

  it('never moves or ages a static entry; a learn against it is a counted conflict', () => {
    const t = new FdbTable({ agingSeconds: 10 });
    t.addStatic(7, p1);
    expect(t.learn(7, p2, 1)).toBe('static');
    expect(t.lookup(7)).toBe(p1);
    expect(t.age(1e9)).toBe(0);
    expect(t.counters().staticConflicts).toBe(1);
  });

  it('counts only learned entries against the cap', () => {
    const t = new FdbTable({ capacity: 2 });
    t.addStatic(100, p1);
    t.addStatic(101, p1);
    expect(t.learn(1, p1, 0)).toBe('new');
    expect(t.learn(2, p1, 0)).toBe('new');
    expect(t.learn(3, p1, 0)).toBe('refused-full');
    t.remove(1);
    expect(t.learn(3, p1, 0)).toBe('new');
    expect(t.size).toBe(4);
  });

  it('ages at exactly the aging time and frees room under the cap', () => {
    const t = new FdbTable({ capacity: 1, agingSeconds: 300 });
    t.learn(1, p1, 0);
    expect(t.age(299.9)).toBe(0);
    expect(t.age(300)).toBe(1);
    expect(t.learn(2, p1, 300)).toBe('new');
  });

  it('flushes every entry of a port', () => {
    const t = new FdbTable();
    t.learn(1, p1, 0);
    t.learn(2, p2, 0);
    t.addStatic(3, p1);
    expect(t.flushPort(p1)).toBe(2);
    expect(t.list().map((e) => e.mac)).toEqual([2]);
  });

  it('refuses nonsense options with the value named', () => {
    expect(() => new FdbTable({ capacity: 0 })).toThrow(/fdb capacity 0: expected a positive integer/);
    expect(() => new FdbTable({ agingSeconds: -1 })).toThrow(/aging time -1/);
  });
});

// ---- The typed-array table: probe runs, backward-shift deletion, sizing, and a differential test ----

const TWO_32 = 0x100000000;
const homeOf = (mac: number, slots: number) => hashMac(mac >>> 0, Math.floor(mac / TWO_32)) & (slots - 1);

/** `n` distinct unicast MACs (from 02:42:ac:11:00:00 on) whose home slot in a `slots`-slot table is `home`. */
function collidingMacs(n: number, home: number, slots: number, from = 0x0242ac110000): number[] {
  const out: number[] = [];
  for (let m = from; out.length < n; m++) if (homeOf(m, slots) === home) out.push(m);
  return out;
}

describe('FdbTable (open addressing)', () => {
  const p1 = new MemoryPort('p1');
  const p2 = new MemoryPort('p2');
  const p3 = new MemoryPort('p3');

  it('starts small and doubles as MACs come, keeping the load at most one half', () => {
    expect(new FdbTable().slots).toBe(256);
    expect(new FdbTable({ capacity: 1 }).slots).toBe(8);
    expect(new FdbTable({ capacity: 50 }).slots).toBe(128);
    const t = new FdbTable();
    for (let i = 0; i < 8192; i++) {
      expect(t.learn(0x0a0000000000 + i * 7919, p1, 0)).toBe('new');
      expect(t.size * 2).toBeLessThanOrEqual(t.slots);
    }
    expect(t.slots).toBe(16384); // the default cap's 8192 MACs
    for (let i = 0; i < 8192; i++) expect(t.lookup(0x0a0000000000 + i * 7919)).toBe(p1);
    expect(t.learn(0x0b0000000000, p1, 0)).toBe('refused-full');
  });

  it('finds every MAC of long collision runs, including one that wraps past the last slot', () => {
    const t = new FdbTable({ capacity: 64 });
    const slots = t.slots;
    const a = collidingMacs(8, 5, slots); // one run at 5..
    const b = collidingMacs(4, 6, slots); // homes inside a's run: interleaved
    const c = collidingMacs(6, slots - 1, slots); // home at the last slot: the run wraps to 0..
    const d = collidingMacs(3, 0, slots); // homes where c's run wraps to
    const all = [...a, ...b, ...c, ...d];
    for (const [i, m] of all.entries()) expect(t.learn(m, i % 2 ? p1 : p2, i)).toBe('new');
    expect(t.size).toBe(all.length);
    const slotsSeen = new Set<number>();
    for (const [i, m] of all.entries()) {
      const s = t.find(m);
      expect(s).toBeGreaterThanOrEqual(0);
      slotsSeen.add(s);
      expect(t.macAt(s)).toBe(m);
      expect(t.portAt(s)).toBe(i % 2 ? p1 : p2);
      expect(t.updatedAt(s)).toBe(i);
      expect(t.isStaticAt(s)).toBe(false);
      expect(t.remoteAt(s)).toBe(0);
    }
    expect(slotsSeen.size).toBe(all.length);
    // Misses whose home is inside the runs probe through them to the end.
    for (const m of collidingMacs(3, 5, slots, a[a.length - 1] + 1)) expect(t.lookup(m)).toBeUndefined();
    for (const m of collidingMacs(3, slots - 1, slots, c[c.length - 1] + 1)) expect(t.lookup(m)).toBeUndefined();
  });

  it('removing an entry early in a run keeps the ones further along it (backward shift)', () => {
    for (const order of ['first', 'last', 'middle', 'random'] as const) {
      const t = new FdbTable({ capacity: 64 });
      const slots = t.slots;
      const all = [...collidingMacs(7, 9, slots), ...collidingMacs(3, 10, slots), ...collidingMacs(5, slots - 2, slots), ...collidingMacs(2, 1, slots)];
      for (const m of all) t.learn(m, p1, 0);
      const left = new Set(all);
      const r = prng(order.length);
      const queue = order === 'first' ? [...all] : order === 'last' ? [...all].reverse() : order === 'middle' ? [...all.slice(1, -1), all[0], all[all.length - 1]] : [...all].sort(() => r() - 0.5);
      for (const m of queue) {
        expect(t.remove(m)).toBe(true);
        expect(t.remove(m)).toBe(false);
        left.delete(m);
        for (const x of all) expect(t.lookup(x)).toBe(left.has(x) ? p1 : undefined);
        expect(t.size).toBe(left.size);
      }
      // The table is reusable after: nothing left behind (no tombstones).
      for (const m of all) expect(t.learn(m, p2, 1)).toBe('new');
      for (const m of all) expect(t.lookup(m)).toBe(p2);
    }
  });

  it('flushPort removes entries in the middle of runs and keeps the rest findable', () => {
    const t = new FdbTable({ capacity: 64 });
    const slots = t.slots;
    const all = [...collidingMacs(9, 3, slots), ...collidingMacs(4, 4, slots), ...collidingMacs(6, slots - 1, slots), ...collidingMacs(3, 0, slots)];
    const portOf = (i: number) => [p1, p2, p3][i % 3];
    for (const [i, m] of all.entries()) {
      if (i % 5 === 0) t.addStatic(m, portOf(i));
      else t.learn(m, portOf(i), 0);
    }
    const expected = all.filter((_, i) => portOf(i) === p1).length;
    expect(t.flushPort(p1)).toBe(expected);
    expect(t.flushPort(p1)).toBe(0);
    for (const [i, m] of all.entries()) expect(t.lookup(m)).toBe(portOf(i) === p1 ? undefined : portOf(i));
    expect(t.size).toBe(all.length - expected);
    // The learned count went down with the learned entries only: exactly the freed room can be learned.
    const learnedLeft = all.filter((_, i) => portOf(i) !== p1 && i % 5 !== 0).length;
    const fresh = collidingMacs(64, 3, slots, all[all.length - 1] + 1);
    let added = 0;
    for (const m of fresh) if (t.learn(m, p1, 0) === 'new') added++;
    expect(added).toBe(64 - learnedLeft);
  });

  it('age removes old entries in the middle of runs, never statics', () => {
    const t = new FdbTable({ capacity: 64, agingSeconds: 10 });
    const slots = t.slots;
    const all = [...collidingMacs(10, 7, slots), ...collidingMacs(5, slots - 3, slots), ...collidingMacs(4, 0, slots)];
    for (const [i, m] of all.entries()) {
      if (i % 4 === 3) t.addStatic(m, p2, 0);
      else t.learn(m, p1, i % 2 ? 0 : 5); // odd: old, even: fresh
    }
    const goes = all.filter((_, i) => i % 4 !== 3 && i % 2 === 1);
    expect(t.age(9.9)).toBe(0);
    expect(t.age(10)).toBe(goes.length); // updated 0 <= 10 - 10
    for (const [i, m] of all.entries()) expect(t.lookup(m)).toBe(i % 4 === 3 ? p2 : i % 2 ? undefined : p1);
    expect(t.age(15)).toBe(all.filter((_, i) => i % 4 !== 3 && i % 2 === 0).length);
    expect(t.size).toBe(all.filter((_, i) => i % 4 === 3).length);
    expect(t.counters().aged).toBe(all.filter((_, i) => i % 4 !== 3).length);
    expect(t.age(1e9)).toBe(0);
  });

  it('holds exactly `capacity` learned entries plus any number of statics, and refuses past the cap', () => {
    const t = new FdbTable({ capacity: 16 });
    expect(t.slots).toBe(32);
    const learned = Array.from({ length: 16 }, (_, i) => 0x0242ac110000 + i);
    const statics = Array.from({ length: 40 }, (_, i) => 0x0242ac120000 + i);
    for (const m of learned) expect(t.learn(m, p1, 0)).toBe('new');
    for (const m of statics) t.addStatic(m, p2, 0);
    expect(t.size).toBe(56);
    expect(t.slots).toBeGreaterThanOrEqual(112); // grew for the statics; load stays <= 1/2
    for (const m of learned) expect(t.lookup(m)).toBe(p1);
    for (const m of statics) expect(t.lookup(m)).toBe(p2);
    expect(t.learn(0x0242ac130000, p1, 0)).toBe('refused-full');
    expect(t.learnRemote(0x0242ac130001, p1, 1, 0)).toBe('refused-full');
    expect(t.lookup(0x0242ac130000)).toBeUndefined();
    t.remove(statics[0]); // a static going frees no learned room
    expect(t.learn(0x0242ac130000, p1, 0)).toBe('refused-full');
    expect(t.learn(learned[0], p1, 1)).toBe('refreshed'); // known MACs still refresh at the cap
    expect(t.learn(learned[1], p2, 1)).toBe('moved');
    t.remove(learned[2]);
    expect(t.learn(0x0242ac130000, p1, 0)).toBe('new');
    expect(t.counters()).toEqual({ entries: 55, learned: 17, moved: 1, refusedFull: 3, aged: 0, staticConflicts: 0 });
  });

  it('learnRemote: a new VTEP or port is a move, the same both a refresh; statics conflict only on a difference', () => {
    const t = new FdbTable();
    const vtepA = 0xc6120001; // 198.18.0.1: above 2**31, stays unsigned
    const vtepB = 0xc6120002;
    expect(t.learnRemote(1, p1, vtepA, 0)).toBe('new');
    expect(t.learnRemote(1, p1, vtepA, 1)).toBe('refreshed');
    expect(t.learnRemote(1, p1, vtepB, 2)).toBe('moved');
    expect(t.get(1)).toEqual({ mac: 1, port: p1, isStatic: false, updated: 2, remote: vtepB });
    expect(t.learnRemote(1, p2, vtepB, 3)).toBe('moved');
    expect(t.learn(1, p2, 4)).toBe('refreshed'); // a local learn leaves `remote` as it was
    expect(t.get(1)?.remote).toBe(vtepB);
    expect(t.learn(1, p1, 5)).toBe('moved');
    expect(t.get(1)).toEqual({ mac: 1, port: p1, isStatic: false, updated: 5, remote: 0 }); // moved to a local port: behind no VTEP
    t.addStatic(2, p1, 0, vtepA);
    expect(t.learnRemote(2, p1, vtepA, 1)).toBe('static');
    expect(t.counters().staticConflicts).toBe(0);
    expect(t.learnRemote(2, p1, vtepB, 1)).toBe('static');
    expect(t.learnRemote(2, p2, vtepA, 1)).toBe('static');
    expect(t.learn(2, p1, 1)).toBe('static'); // same port: no conflict for a local learn
    expect(t.counters()).toMatchObject({ entries: 2, learned: 1, moved: 3, staticConflicts: 2 });
    const s = t.find(2);
    expect([t.portAt(s), t.remoteAt(s), t.isStaticAt(s), t.updatedAt(s)]).toEqual([p1, vtepA, true, 0]);
  });

  it('addStatic over a learned entry frees its learned room, keeps its place in list(), and never ages', () => {
    const t = new FdbTable({ capacity: 2, agingSeconds: 10 });
    t.learn(1, p1, 0);
    t.learn(2, p1, 0);
    t.learn(3, p1, 0);
    expect(t.learn(4, p1, 0)).toBe('refused-full');
    t.addStatic(1, p2, 7, 0xc6120001);
    expect(t.learn(4, p1, 0)).toBe('new'); // 1 no longer counts against the cap
    expect(t.list().map((e) => e.mac)).toEqual([1, 2, 4]);
    expect(t.get(1)).toEqual({ mac: 1, port: p2, isStatic: true, updated: 7, remote: 0xc6120001 });
    t.addStatic(1, p3); // replacing a static: a static still, no count change
    expect(t.get(1)).toEqual({ mac: 1, port: p3, isStatic: true, updated: 0, remote: 0 });
    expect(t.age(1e6)).toBe(2);
    expect(t.list().map((e) => e.mac)).toEqual([1]);
    expect(t.counters()).toEqual({ entries: 1, learned: 3, moved: 0, refusedFull: 2, aged: 2, staticConflicts: 0 });
  });

  it('list() is in the order entries were added; a removed and re-added MAC goes last', () => {
    const t = new FdbTable({ capacity: 64 });
    const macs = [...collidingMacs(5, 2, t.slots), 0xffffffffffff, 0, 0x020000000001];
    for (const m of macs) t.learn(m, p1, 0);
    t.remove(macs[1]);
    t.learn(macs[1], p2, 0);
    t.learn(macs[0], p2, 1); // a move keeps the place
    expect(t.list().map((e) => e.mac)).toEqual([macs[0], ...macs.slice(2), macs[1]]);
    const e = t.get(macs[0])!;
    t.learn(macs[0], p3, 2);
    expect(e.port).toBe(p2); // get() is a copy
  });

  it('stores any 48-bit MAC, broadcast and all-zero included, as the Map did (stages keep group sources out)', () => {
    const t = new FdbTable();
    const odd = [0xffffffffffff, 0, 0x800000000000, 0x7fffffffffff, 0xffff00000000, 0x0000ffffffff, 0x000100000000, 1, 0x0001ffffffff, 0xfffe00000001];
    for (const [i, m] of odd.entries()) expect(t.learn(m, i % 2 ? p1 : p2, 0)).toBe('new');
    for (const [i, m] of odd.entries()) {
      expect(t.lookup(m)).toBe(i % 2 ? p1 : p2);
      expect(t.macAt(t.find(m))).toBe(m);
    }
    expect(t.list().map((e) => e.mac)).toEqual(odd);
    expect(t.lookup(0xfffffffffffe)).toBeUndefined();
    expect(t.lookup(0x000200000000)).toBeUndefined(); // same lo32 as 0, other hi16
    expect(t.remove(0xffffffffffff)).toBe(true);
    expect(t.lookup(0xffffffffffff)).toBeUndefined();
    expect(t.size).toBe(odd.length - 1);
  });

  it('matches a Map-based model over 20,000 random operations', () => {
    for (const cfg of [
      { seed: 1, capacity: 48, aging: 40, universe: 200, colliding: true },
      { seed: 2, capacity: 300, aging: 600, universe: 900, colliding: false },
      { seed: 3, capacity: 8, aging: 15, universe: 60, colliding: true },
    ]) differential(cfg);
  });
});

/** The table as it was (a Map of entry objects), to check the typed-array one against. */
class ModelFdb {
  entries = new Map<number, FdbEntry>();
  learnedCount = 0;
  c = { learned: 0, moved: 0, refusedFull: 0, aged: 0, staticConflicts: 0 };
  constructor(
    readonly capacity: number,
    readonly agingSeconds: number,
  ) {}
  learn(mac: number, port: MemoryPort, now: number, remote?: number): LearnOutcome {
    const e = this.entries.get(mac);
    if (e) {
      const same = e.port === port && (remote === undefined || e.remote === remote);
      if (e.isStatic) {
        if (!same) this.c.staticConflicts++;
        return 'static';
      }
      e.updated = now;
      if (same) return 'refreshed';
      e.port = port;
      e.remote = remote ?? 0;
      this.c.moved++;
      return 'moved';
    }
    if (this.learnedCount >= this.capacity) {
      this.c.refusedFull++;
      return 'refused-full';
    }
    this.entries.set(mac, { mac, port, isStatic: false, updated: now, remote: remote ?? 0 });
    this.learnedCount++;
    this.c.learned++;
    return 'new';
  }
  addStatic(mac: number, port: MemoryPort, now: number, remote: number): void {
    const e = this.entries.get(mac);
    if (e && !e.isStatic) this.learnedCount--;
    this.entries.set(mac, { mac, port, isStatic: true, updated: now, remote });
  }
  remove(mac: number): boolean {
    const e = this.entries.get(mac);
    if (!e) return false;
    if (!e.isStatic) this.learnedCount--;
    return this.entries.delete(mac);
  }
  flushPort(port: MemoryPort): number {
    let n = 0;
    for (const [mac, e] of this.entries) {
      if (e.port !== port) continue;
      if (!e.isStatic) this.learnedCount--;
      this.entries.delete(mac);
      n++;
    }
    return n;
  }
  age(now: number): number {
    let n = 0;
    for (const [mac, e] of this.entries) {
      if (!e.isStatic && e.updated <= now - this.agingSeconds) {
        this.entries.delete(mac);
        this.learnedCount--;
        n++;
      }
    }
    this.c.aged += n;
    return n;
  }
}

function differential(cfg: { seed: number; capacity: number; aging: number; universe: number; colliding: boolean }): void {
  const r = prng(cfg.seed);
  const t = new FdbTable({ capacity: cfg.capacity, agingSeconds: cfg.aging });
  const m = new ModelFdb(cfg.capacity, cfg.aging);
  const ports = [0, 1, 2, 3].map((i) => new MemoryPort(`d${i}`));
  const remotes = [0, 0x0a000001, 0xc6120002, 0xffffffff];
  // MACs: with `colliding`, most share a few home slots of the initial table (long runs, wraps).
  const slots = t.slots;
  const macs: number[] = cfg.colliding
    ? [...collidingMacs(cfg.universe / 4, 0, slots), ...collidingMacs(cfg.universe / 4, slots - 1, slots), ...collidingMacs(cfg.universe / 4, slots >> 1, slots)]
    : [];
  while (macs.length < cfg.universe) macs.push(Math.floor(r() * 0x1000000000000));
  macs.push(0xffffffffffff, 0);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  let now = 0;
  for (let step = 0; step < 20_000; step++) {
    const op = r();
    const mac = pick(macs);
    const port = pick(ports);
    let what: string;
    if (op < 0.4) {
      what = `learn ${mac} ${port.name}`;
      expect(t.learn(mac, port, now), what).toBe(m.learn(mac, port, now));
    } else if (op < 0.6) {
      const remote = pick(remotes);
      what = `learnRemote ${mac} ${port.name} ${remote}`;
      expect(t.learnRemote(mac, port, remote, now), what).toBe(m.learn(mac, port, now, remote));
    } else if (op < 0.66) {
      const remote = pick(remotes);
      what = `addStatic ${mac} ${port.name} ${remote}`;
      t.addStatic(mac, port, now, remote);
      m.addStatic(mac, port, now, remote);
    } else if (op < 0.8) {
      what = `remove ${mac}`;
      expect(t.remove(mac), what).toBe(m.remove(mac));
    } else if (op < 0.81) {
      what = `flushPort ${port.name}`;
      expect(t.flushPort(port), what).toBe(m.flushPort(port));
    } else if (op < 0.86) {
      what = `age ${now}`;
      expect(t.age(now), what).toBe(m.age(now));
    } else {
      what = `tick ${now}`;
      now += Math.floor(r() * 8); // integral steps: entries land exactly on the aging boundary too
    }
    // Plain comparisons first, expect() only on a difference: 60,000 steps of expect() calls are slow.
    const ctx = () => `seed ${cfg.seed} step ${step}: ${what}`;
    const counters = t.counters();
    const want = { entries: m.entries.size, ...m.c };
    if (t.size !== m.entries.size) expect(t.size, ctx()).toBe(m.entries.size);
    for (const k of Object.keys(want) as (keyof typeof want)[]) if (counters[k] !== want[k]) expect(counters, ctx()).toEqual(want);
    for (let k = 0; k < 4; k++) {
      const x = pick(macs);
      if (t.lookup(x) !== m.entries.get(x)?.port) expect(t.lookup(x), `${ctx()}; lookup ${x}`).toBe(m.entries.get(x)?.port);
    }
    if (step % 50 === 0 || step === 19_999) {
      expect(t.list(), ctx()).toEqual([...m.entries.values()].map((e) => ({ ...e })));
      for (const x of macs) {
        const a = t.get(x);
        const b = m.entries.get(x);
        const same = a === undefined ? b === undefined : b !== undefined && a.mac === b.mac && a.port === b.port && a.isStatic === b.isStatic && a.updated === b.updated && a.remote === b.remote;
        if (!same) expect(a, `${ctx()}; get ${x}`).toEqual(b);
      }
    }
  }
  // The run went everywhere it should: to the cap, through moves, conflicts and aging (and growth).
  const ctx = `seed ${cfg.seed}: ${JSON.stringify(m.c)}, slots ${slots} -> ${t.slots}`;
  expect(m.c.refusedFull, ctx).toBeGreaterThan(0);
  expect(m.c.moved, ctx).toBeGreaterThan(0);
  expect(m.c.staticConflicts, ctx).toBeGreaterThan(0);
  expect(m.c.aged, ctx).toBeGreaterThan(0);
  if (cfg.colliding) expect(t.slots, ctx).toBeGreaterThan(slots); // statics pushed the load past 1/2
}

describe('the cap and moves (later fixes)', () => {
  const p1 = new MemoryPort('p1');
  const p2 = new MemoryPort('p2');
  it('a remote MAC that moves to a local port loses its VTEP; the cap counts learned entries only', () => {
    const t = new FdbTable({ capacity: 2 });
    const M = 0x02420a000077;
    expect(t.learnRemote(M, p1, 0xc6120002, 0)).toBe('new');
    expect(t.learn(M, p2, 1)).toBe('moved');
    expect(t.get(M)).toMatchObject({ port: p2, remote: 0 });
    t.addStatic(0x02420a000001, p1);
    t.addStatic(0x02420a000002, p1);
    expect(t.learnedSize).toBe(1);
    expect(t.size).toBe(3);
    expect(t.learn(0x02420a000078, p1, 2)).toBe('new'); // 2 learned: at the cap, statics aside
    expect(t.learn(0x02420a000079, p1, 2)).toBe('refused-full');
  });
});
