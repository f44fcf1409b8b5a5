/**
 * Micro benchmarks of the FDB (src/dataplane/fdb-table.ts) on its own: lookups that hit and miss,
 * learns that refresh, learns of new MACs, at 1000 and 8000 entries of an 8192-entry table. Each bench
 * call does 1000 operations in a random order (the per-call overhead of the harness would otherwise
 * be most of what is measured): per-operation cost = mean / 1000.
 *
 * MACs: the 1000 set is Docker's sequential 02:42:ac:11:xx:xx (a weak hash's worst case), the 8000
 * set random locally administered unicast MACs.
 */
import { prng } from '../../test/helpers/frames.js';
import { bench, describe } from 'vitest';
import { FdbTable } from '../../src/dataplane/fdb-table.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';

const OPS = 1000;

/** Deterministic (mulberry32): every run measures the same MACs. */
const rng = prng;

function randomMacs(n: number, r: () => number): number[] {
  const seen = new Set<number>();
  while (seen.size < n) {
    const hi = ((Math.floor(r() * 0x10000) & 0xfeff) | 0x0200) & 0xffff; // unicast, locally administered
    seen.add(hi * 0x100000000 + Math.floor(r() * 0x100000000));
  }
  return [...seen];
}

/** OPS indexes into `n` items, in random order. */
function order(n: number, r: () => number): Int32Array {
  const o = new Int32Array(OPS);
  for (let i = 0; i < OPS; i++) o[i] = Math.floor(r() * n);
  return o;
}

const r = rng(16);
const docker = Array.from({ length: 1000 }, (_, i) => 0x0242ac110002 + i);
const rand8k = randomMacs(8000, r);
const misses = randomMacs(OPS, rng(61)).map((m) => m + 0x0100_0000_0000); // another OUI byte: never learned
const p = new MemoryPort('p');
const q = new MemoryPort('q');
let sink = 0; // module state: what the benches compute stays observable, so none of it is dead code

for (const [label, macs] of [
  ['1000 entries', docker],
  ['8000 entries', rand8k],
] as const) {
  describe(`fdb ${label}`, () => {
    const t = new FdbTable({ capacity: 8192 });
    for (const m of macs) t.learn(m, p, 0);
    const o = order(macs.length, r);
    const keys = Array.from(o, (k) => macs[k]);
    bench(`lookup hit x${OPS}`, () => {
      let n = 0;
      for (let i = 0; i < OPS; i++) if (t.lookup(keys[i]) === p) n++;
      sink += n;
    });
    bench(`lookup miss x${OPS}`, () => {
      let n = 0;
      for (let i = 0; i < OPS; i++) if (t.lookup(misses[i]) === undefined) n++;
      sink += n;
    });
    let now = 1;
    bench(`learn refresh x${OPS}`, () => {
      now++;
      for (let i = 0; i < OPS; i++) t.learn(keys[i], p, now);
    });
    const tr = new FdbTable({ capacity: 8192 });
    for (const m of macs) tr.learnRemote(m, p, 0xc6120002, 0);
    bench(`learnRemote refresh x${OPS}`, () => {
      now++;
      for (let i = 0; i < OPS; i++) tr.learnRemote(keys[i], p, 0xc6120002, now);
    });
    bench(`get hit, read .remote x${OPS}`, () => {
      let n = 0;
      for (let i = 0; i < OPS; i++) n += tr.get(keys[i])!.remote & 1;
      sink += n;
    });
    // What the hot callers do instead of get() (vxlan-port transmit: the port and the remote VTEP).
    bench(`find + portAt + remoteAt x${OPS}`, () => {
      let n = 0;
      for (let i = 0; i < OPS; i++) {
        const s = tr.find(keys[i]);
        if (s >= 0 && tr.portAt(s) === p) n += tr.remoteAt(s) & 1;
      }
      sink += n;
    });
    // A move and back: two learns per MAC, counted as moves.
    bench(`learn move x${OPS}`, () => {
      now++;
      for (let i = 0; i < OPS; i += 2) {
        t.learn(keys[i], q, now);
        t.learn(keys[i], p, now);
      }
    });
  });
}

describe('fdb learn new', () => {
  // 1000 new MACs learned and removed again per call (an empty table each time).
  const t1 = new FdbTable({ capacity: 8192 });
  let now = 0;
  bench(`learn new + remove, 1000 MACs`, () => {
    now++;
    for (let i = 0; i < 1000; i++) t1.learn(docker[i], p, now);
    for (let i = 0; i < 1000; i++) t1.remove(docker[i]);
  });
  // 8000 new MACs into an empty table, then aged out all at once (the aging sweep is in the number).
  const t8 = new FdbTable({ capacity: 8192, agingSeconds: 300 });
  let clock = 0;
  bench(`learn new 8000 MACs, then age them all out`, () => {
    for (let i = 0; i < 8000; i++) t8.learn(rand8k[i], p, clock);
    clock += 300;
    sink += t8.age(clock);
  });
  // Past the cap: every learn refused (a MAC flood).
  const full = new FdbTable({ capacity: 1000 });
  for (const m of docker) full.learn(m, p, 0);
  bench(`learn refused (table full) x${OPS}`, () => {
    for (let i = 0; i < OPS; i++) full.learn(rand8k[i], p, 1);
  });
});
