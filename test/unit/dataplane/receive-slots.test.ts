/**
 * A port that coalesces (a VTEP: a super-frame keeps its GRO message's slot, other frames go to
 * spare slots after the messages) returns fewer rows than the slots it filled. Before the fix the
 * engine gave the next port of the same burst the slots after the rows, so a TAP reading ACKs in the
 * same burst overwrote the VTEP's super-frames (its virtio-net header landed on their VXLAN header:
 * 7% of an encrypted overlay's frames dropped as vxlan-bad-flags in the bench, and TCP retransmitting
 * 10% of its segments). Now the next port reads after every slot the first one used.
 */
import { describe, expect, it } from 'vitest';
import type { FramePool } from '../../../src/dataplane/frame-pool.js';
import { DESC_STRIDE } from '../../../src/dataplane/layout.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';

const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const frameOf = (src: number, fill: number) => Uint8Array.from([...BCAST, 2, 0x42, 0, 0, 0, src, 0x88, 0xb5, ...new Array(100).fill(fill)]);

/** Returns one row whose frame lives in the third of its slots, as a VTEP's spare-slot frame does. */
class CoalescingPort extends MemoryPort {
  private frame: Uint8Array | null = null;
  put(frame: Uint8Array): void {
    this.frame = frame;
  }
  override get pending(): number {
    return this.frame ? 1 : 0;
  }
  override receive(pool: FramePool, firstSlot: number, max: number): number {
    if (!this.frame || max < 3) return 0;
    pool.load(firstSlot + 2, this.frame);
    pool.desc.copyWithin(firstSlot * DESC_STRIDE, (firstSlot + 2) * DESC_STRIDE, (firstSlot + 3) * DESC_STRIDE);
    this.frame = null;
    return 1;
  }
  override receiveSlots(): number {
    return 3;
  }
}

describe('a burst with a coalescing port', () => {
  it('gives the next port the slots after all the first one used, so its frame arrives intact', () => {
    const sw = new SwitchEngine({ poolSlots: 16 });
    const net = sw.createDomain('n');
    const vtep = new CoalescingPort('vtep');
    const tap = new MemoryPort('tap');
    const out = new MemoryPort('out');
    for (const p of [vtep, tap, out]) sw.addPort(p, net);
    const big = frameOf(1, 0xaa);
    vtep.put(big);
    for (let i = 0; i < 3; i++) tap.inject(frameOf(2, 0x10 + i));
    expect(sw.runBurst([vtep, tap])).toBe(4);
    const got = out.take().map((f) => Buffer.from(f.frame).toString('hex'));
    expect(got).toHaveLength(4);
    expect(got).toContain(Buffer.from(big).toString('hex'));
    for (let i = 0; i < 3; i++) expect(got).toContain(Buffer.from(frameOf(2, 0x10 + i)).toString('hex'));
  });
});
