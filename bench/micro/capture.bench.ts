/**
 * Micro benchmarks of a capture's per-frame cost: a 64-frame burst of small frames through the graph
 * over in-memory ports with no capture, with a capture of the network (every frame recorded in and
 * out: two pcapng records), annotated, and behind a BPF filter. The writer takes each chunk at once,
 * so this is the data plane's own cost of capturing. Per-frame cost = burst time / 64.
 */
import { bench, describe } from 'vitest';
import { CaptureHub } from '../../src/capture/capture-hub.js';
import type { CaptureOptions } from '../../src/capture/capture-session.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { ethFrame } from '../../test/helpers/frames.js';

class SinkPort extends MemoryPort {
  override transmit(_pool: never, _rows: Int32Array, count: number): void {
    this.counters.txPackets += count;
  }
}

function bridge(capture: Omit<CaptureOptions, 'target'> | null) {
  const sw = new SwitchEngine({ poolSlots: 64 });
  const net = sw.createDomain('b');
  const a = new MemoryPort('a', { ownMac: 0x02420a000002 });
  sw.addPort(a, net);
  sw.addPort(new SinkPort('b', { ownMac: 0x02420a000003 }), net);
  if (capture) CaptureHub.for(sw).start({ ...capture, target: { kind: 'domain', domain: net } }, { write: (_c, done) => done?.(), queuedBytes: () => 0, end() {} });
  return { sw, a };
}

describe('capture', () => {
  const frame = ethFrame(0x02420a000003, 0x02420a000002);
  for (const [name, opts] of [
    ['no capture', null],
    ['capture (in + out records)', {}],
    ['capture --annotate', { annotate: true }],
    ['capture with filter "tcp port 80" (matches nothing)', { filter: 'tcp port 80' }],
  ] as const) {
    const { sw, a } = bridge(opts);
    bench(`burst of 64 x 60-byte frames, ${name}`, () => {
      for (let k = 0; k < 64; k++) a.inject(frame);
      sw.poll();
    });
  }
});
