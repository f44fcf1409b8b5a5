import { describe, expect, it } from 'vitest';
import { FdbTable } from '../../../src/dataplane/fdb-table.js';
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
