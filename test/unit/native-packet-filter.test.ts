/**
 * The macvlan uplink's kernel socket filter (native/src/af_packet.c, filter_build), checked without a
 * socket: packetFilterProgram returns the struct sock_filter array packetSetFilter would attach, and a
 * small classic-BPF interpreter (only the opcodes the builder emits) runs it on destination MACs.
 * The program's size matters: the kernel charges it to the socket against optmem_max.
 */
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/addon.js';

const BPF_LD_B_ABS = 0x30;
const BPF_LD_H_ABS = 0x28;
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JA = 0x05;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JSET_K = 0x45;
const BPF_RET_K = 0x06;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct sock_filter[] in host byte order. */
function decode(buf: Buffer): Insn[] {
  const le = endianness() === 'LE';
  const out: Insn[] = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) {
    out.push({ code: le ? buf.readUInt16LE(i) : buf.readUInt16BE(i), jt: buf[i + 2], jf: buf[i + 3], k: le ? buf.readUInt32LE(i + 4) : buf.readUInt32BE(i + 4) });
  }
  return out;
}

/** Run `prog` on a frame with destination MAC `dst`: the number of bytes the kernel would keep (0: dropped). */
function run(prog: Insn[], dst: number): number {
  const frame = new Uint8Array(64);
  for (let i = 5, m = dst; i >= 0; i--, m = Math.floor(m / 256)) frame[i] = m % 256;
  const dv = new DataView(frame.buffer);
  let a = 0;
  for (let pc = 0, steps = 0; pc < prog.length; pc++, steps++) {
    if (steps > prog.length) throw new Error('loop');
    const { code, jt, jf, k } = prog[pc];
    switch (code) {
      case BPF_LD_B_ABS:
        a = frame[k];
        break;
      case BPF_LD_H_ABS:
        a = dv.getUint16(k);
        break;
      case BPF_LD_W_ABS:
        a = dv.getUint32(k);
        break;
      case BPF_JMP_JA:
        pc += k;
        break;
      case BPF_JMP_JEQ_K:
        pc += a === k ? jt : jf;
        break;
      case BPF_JMP_JSET_K:
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case BPF_RET_K:
        return k;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const mac = (prefix: number, low: number) => prefix * 2 ** 32 + low;

describe('packet socket filter program', () => {
  it('costs about two instructions per MAC when the MACs share their first two bytes (02:42)', () => {
    const macs = Array.from({ length: 300 }, (_, i) => mac(0x0242, 0x0a000002 + i));
    const prog = decode(native().packetFilterProgram(macs, true));
    expect(prog.length).toBeLessThanOrEqual(2 * 300 + 10);
    expect(decode(native().packetFilterProgram(macs, false)).length).toBeLessThanOrEqual(2 * 300 + 7);
    // One load of the first two bytes, one of the last four: not a pair of loads per MAC.
    expect(prog.filter((x) => x.code === BPF_LD_W_ABS)).toHaveLength(1);
    for (const m of macs) expect(run(prog, m), m.toString(16)).toBeGreaterThan(0);
    expect(run(prog, mac(0x0242, 0x0a000001))).toBe(0);
    expect(run(prog, mac(0x0242, 0x0a000002 + 300))).toBe(0);
    expect(run(prog, mac(0x0243, 0x0a000002))).toBe(0); // a member's last four bytes under another prefix
    expect(run(prog, 0xffffffffffff)).toBeGreaterThan(0); // broadcast, groups on
    expect(run(prog, 0x01005e000001)).toBeGreaterThan(0); // IPv4 multicast
    const noGroups = decode(native().packetFilterProgram(macs, false));
    expect(run(noGroups, 0xffffffffffff)).toBe(0);
    expect(run(noGroups, macs[17])).toBeGreaterThan(0);
  });

  it('accepts exactly the members across several prefixes, duplicates counted once, in any order', () => {
    const macs = [mac(0x0242, 1), mac(0x0a00, 0xaa), mac(0x0242, 2), mac(0x5254, 0x12345678), mac(0x0242, 1), mac(0x0a00, 0xab)];
    const prog = decode(native().packetFilterProgram(macs, false));
    expect(prog.length).toBe(1 + 3 * 3 + 2 * 5 + 1); // ldh; per prefix jeq, ld, ret; per distinct MAC 2; ret
    for (const m of macs) expect(run(prog, m)).toBeGreaterThan(0);
    for (const m of [mac(0x0242, 3), mac(0x0a00, 1), mac(0x5254, 0x12345679), mac(0x0243, 1), 0, 0xffffffffffff]) expect(run(prog, m)).toBe(0);
    expect(decode(native().packetFilterProgram([...macs].reverse(), false))).toEqual(prog);
  });

  it('jumps past a prefix block longer than a conditional jump reaches (255) with ja', () => {
    const macs = [...Array.from({ length: 200 }, (_, i) => mac(0x0242, i * 7 + 1)), mac(0x0a00, 5), mac(0x0a00, 6)];
    const prog = decode(native().packetFilterProgram(macs, true));
    expect(prog.some((x) => x.code === BPF_JMP_JA)).toBe(true);
    for (const m of macs) expect(run(prog, m)).toBeGreaterThan(0);
    expect(run(prog, mac(0x0a00, 7))).toBe(0);
    expect(run(prog, mac(0x0242, 2))).toBe(0);
  });

  it('with no MACs accepts only group addresses, or nothing', () => {
    expect(run(decode(native().packetFilterProgram([], true)), mac(0x0242, 1))).toBe(0);
    expect(run(decode(native().packetFilterProgram([], true)), 0x333300000001)).toBeGreaterThan(0);
    expect(decode(native().packetFilterProgram([], false))).toHaveLength(1);
  });

  it('refuses what is not a list of 48-bit MACs', () => {
    expect(() => native().packetFilterProgram([2 ** 48], false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => native().packetFilterProgram([-1], false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => native().packetFilterProgram('x' as unknown as number[], false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
