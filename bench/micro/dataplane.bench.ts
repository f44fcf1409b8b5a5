/**
 * Micro benchmarks of the data plane's hot pieces: FDB lookup and learn, and a 64-frame burst of
 * small frames through the whole graph over in-memory ports (rx copy, ingress, learn, forward,
 * egress, tx copy). Per-frame cost = burst time / 64.
 */
import { bench, describe } from 'vitest';
import { FdbTable } from '../../src/dataplane/fdb-table.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { ethFrame } from '../../test/helpers/frames.js';

describe('fdb', () => {
  const t = new FdbTable({ capacity: 8192 });
  const p = new MemoryPort('p');
  const macs = Array.from({ length: 4096 }, (_, i) => 0x020000000000 + i * 7919);
  for (const m of macs) t.learn(m, p, 0);
  let i = 0;
  bench('lookup hit (4096 entries)', () => {
    t.lookup(macs[i++ & 4095]);
  });
  bench('learn refresh (4096 entries)', () => {
    t.learn(macs[i++ & 4095], p, 1);
  });
});

describe('graph', () => {
  // A transmit-discarding port: the bench measures the switch, not the array of sent frames.
  class SinkPort extends MemoryPort {
    override transmit(_pool: never, _rows: Int32Array, count: number): void {
      this.counters.txPackets += count;
    }
  }
  const sw = new SwitchEngine({ poolSlots: 64 });
  const net = sw.createDomain('b');
  const a = new MemoryPort('a', { ownMac: 0x02420a000002 });
  const b = new SinkPort('b', { ownMac: 0x02420a000003 });
  sw.addPort(a, net);
  sw.addPort(b, net);
  const frame = ethFrame(0x02420a000003, 0x02420a000002);
  bench('burst of 64 x 60-byte frames through ingress/learn/fwd/egress', () => {
    for (let k = 0; k < 64; k++) a.inject(frame);
    sw.poll();
  });
  const tr = new SwitchEngine({ poolSlots: 4 });
  const n2 = tr.createDomain('t');
  const ta = new MemoryPort('a', { ownMac: 0x02420a000002 });
  tr.addPort(ta, n2);
  tr.addPort(new MemoryPort('b', { ownMac: 0x02420a000003 }), n2);
  bench('trace one frame (dry run with records)', () => {
    tr.trace(ta, frame);
  });
});
