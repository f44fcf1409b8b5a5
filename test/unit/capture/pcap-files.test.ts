/**
 * Capture file bytes: every field of the pcapng blocks and the classic pcap header/record we write,
 * checked against hand-written bytes; the reader on both formats, both byte orders and named malformed
 * cases; the block splitter on a stream cut at every possible point; the file writer's ring.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureBlockSplitter } from '../../../src/capture/capture-block-splitter.js';
import { CaptureFileWriter, ringFileName } from '../../../src/capture/capture-file-writer.js';
import { readCapture } from '../../../src/capture/capture-reader.js';
import { pcapGlobalHeader, pcapRecordSize, writePcapRecord } from '../../../src/capture/pcap-format.js';
import {
  enhancedPacketSize,
  interfaceDescriptionBlock,
  interfaceStatisticsBlock,
  sectionHeaderBlock,
  writeEnhancedPacket,
} from '../../../src/capture/pcapng-format.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'tsnet-pcapfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function epb(ifId: number, us: number, data: number[], direction: number, comment: string | null): Buffer {
  const c = comment === null ? null : Buffer.from(comment);
  const b = Buffer.alloc(enhancedPacketSize(data.length, c?.length ?? 0));
  const end = writeEnhancedPacket(b, 0, ifId, us, Uint8Array.from(data), 0, data.length, data.length + 100, direction, c);
  expect(end).toBe(b.length);
  return b;
}

describe('pcapng blocks', () => {
  it('writes a section header with the byte-order magic, version 1.0, unknown length and shb_userappl', () => {
    expect(hex(sectionHeaderBlock())).toBe(
      '0a0d0d0a' + '30000000' + '4d3c2b1a' + '0100' + '0000' + 'ffffffffffffffff' + '0400' + '0c00' + hex(Buffer.from('tsnet-switch')) + '00000000' + '30000000',
    );
  });

  it('writes an interface description: Ethernet, snap length, if_name and if_description padded to 4', () => {
    expect(hex(interfaceDescriptionBlock('web1', 'abcde', 1500))).toBe(
      '01000000' + '2c000000' + '0100' + '0000' + 'dc050000' + '0200' + '0400' + hex(Buffer.from('web1')) + '0300' + '0500' + hex(Buffer.from('abcde')) + '000000' + '00000000' + '2c000000',
    );
  });

  it('writes an enhanced packet: interface, 64-bit microseconds, lengths, padded data, direction flags, comment', () => {
    const us = 0x0000000123456789;
    expect(hex(epb(2, us, [1, 2, 3, 4, 5], 1, 'hi'))).toBe(
      '06000000' + '3c000000' + '02000000' + '01000000' + '89674523' + '05000000' + '69000000' + '0102030405000000' + '0200' + '0400' + '01000000' + '0100' + '0200' + '68690000' + '00000000' + '3c000000',
    );
    expect(hex(epb(0, 0, [9, 9, 9, 9], 2, null))).toBe('06000000' + '30000000' + '00000000' + '00000000' + '00000000' + '04000000' + '68000000' + '09090909' + '0200' + '0400' + '02000000' + '00000000' + '30000000');
  });

  it('writes interface statistics with start/end times and 64-bit counters', () => {
    const b = interfaceStatisticsBlock({ ifId: 1, startMicros: 10, endMicros: 20, received: 5, filterAccepted: 4, dropped: 1, delivered: 3 });
    expect(b.readUInt32LE(0)).toBe(5);
    expect(b.readUInt32LE(4)).toBe(b.length);
    expect(b.readUInt32LE(b.length - 4)).toBe(b.length);
    expect(b.readUInt32LE(8)).toBe(1);
    const opts = new Map<number, bigint>();
    for (let o = 20; b.readUInt16LE(o) !== 0; o += 12) opts.set(b.readUInt16LE(o), b.readUInt16LE(o) <= 3 ? BigInt(b.readUInt32LE(o + 4)) * 2n ** 32n + BigInt(b.readUInt32LE(o + 8)) : b.readBigUInt64LE(o + 4));
    expect(Object.fromEntries(opts)).toEqual({ 2: 10n, 3: 20n, 4: 5n, 5: 1n, 6: 4n, 8: 3n });
  });
});

describe('classic pcap', () => {
  it('writes the global header and records with seconds and microseconds', () => {
    expect(hex(pcapGlobalHeader(65535))).toBe('d4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
    const b = Buffer.alloc(pcapRecordSize(3));
    writePcapRecord(b, 0, 1_700_000_000_250_000, Uint8Array.from([7, 8, 9]), 0, 3, 60);
    expect(hex(b)).toBe('00f15365' + '90d00300' + '03000000' + '3c000000' + '070809');
  });
});

describe('capture reader', () => {
  it('reads back what we write, in both formats', () => {
    const ng = Buffer.concat([sectionHeaderBlock(), interfaceDescriptionBlock('a', '', 100), interfaceDescriptionBlock('b', '', 100), epb(1, 5_000_001, [1, 2], 2, 'fdb hit -> a'), epb(0, 6_000_000, [3], 1, null)]);
    const f = readCapture(ng);
    expect(f.interfaces.map((i) => i.name)).toEqual(['a', 'b']);
    expect(f.records.map((r) => [r.interfaceName, r.timeMicros, hex(r.data), r.origLen, r.direction, r.comments])).toEqual([
      ['b', 5_000_001, '0102', 102, 2, ['fdb hit -> a']],
      ['a', 6_000_000, '03', 101, 1, []],
    ]);
    const rec = Buffer.alloc(pcapRecordSize(2));
    writePcapRecord(rec, 0, 3_000_004, Uint8Array.from([5, 6]), 0, 2, 2);
    const p = readCapture(Buffer.concat([pcapGlobalHeader(100), rec]));
    expect(p.records.map((r) => [r.timeMicros, hex(r.data)])).toEqual([[3_000_004, '0506']]);
  });

  it('reads big-endian pcap with nanosecond timestamps', () => {
    const b = Buffer.alloc(24 + 16 + 1);
    b.writeUInt32BE(0xa1b23c4d, 0);
    b.writeUInt16BE(2, 4);
    b.writeUInt16BE(4, 6);
    b.writeUInt32BE(65535, 16);
    b.writeUInt32BE(1, 20);
    b.writeUInt32BE(7, 24);
    b.writeUInt32BE(123_456_789, 28);
    b.writeUInt32BE(1, 32);
    b.writeUInt32BE(1, 36);
    b[40] = 0xab;
    expect(readCapture(b).records.map((r) => [r.timeMicros, hex(r.data)])).toEqual([[7_123_456, 'ab']]);
  });

  it('names what is wrong with a malformed file', () => {
    const ng = Buffer.concat([sectionHeaderBlock(), interfaceDescriptionBlock('a', '', 100), epb(0, 0, [1, 2, 3], 1, null)]);
    expect(() => readCapture(ng.subarray(0, ng.length - 3), 'cut.pcapng')).toThrow(/cut\.pcapng: block of type 6 with length 48 cut short or misaligned at byte/);
    const noIf = Buffer.concat([sectionHeaderBlock(), epb(3, 0, [1], 1, null)]);
    expect(() => readCapture(noIf)).toThrow(/packet for interface 3, which the section has not described/);
    expect(() => readCapture(Buffer.from('not a capture at all, no'))).toThrow(/unknown magic/);
    const wrongLink = pcapGlobalHeader(100);
    wrongLink.writeUInt32LE(105, 20);
    expect(() => readCapture(wrongLink)).toThrow(/link type 105 is not Ethernet/);
    const rec = Buffer.alloc(pcapRecordSize(4));
    writePcapRecord(rec, 0, 0, Uint8Array.from([1, 2, 3, 4]), 0, 4, 4);
    expect(() => readCapture(Buffer.concat([pcapGlobalHeader(100), rec.subarray(0, 18)]))).toThrow(/record of 4 bytes cut short at byte 24/);
  });
});

describe('block splitter and file writer', () => {
  const stream = Buffer.concat([
    sectionHeaderBlock(),
    interfaceDescriptionBlock('a', '', 100),
    ...Array.from({ length: 6 }, (_, i) => epb(0, i, Array.from({ length: 40 + i }, () => i), 1, i % 2 ? 'x' : null)),
    interfaceDescriptionBlock('late', '', 100),
    epb(1, 9, [1, 2, 3], 2, null),
    interfaceStatisticsBlock({ ifId: 0, startMicros: 0, endMicros: 9, received: 6, filterAccepted: 6, dropped: 0, delivered: 6 }),
  ]);

  it('yields exactly the whole blocks, wherever the stream is cut', () => {
    for (let cut = 1; cut < stream.length; cut += 7) {
      const s = new CaptureBlockSplitter();
      const blocks = [...s.push(stream.subarray(0, cut)), ...s.push(stream.subarray(cut))];
      expect(Buffer.concat(blocks.map((b) => b.bytes)).equals(stream)).toBe(true);
      expect(blocks.map((b) => b.kind).join(',')).toBe('header,header,record,record,record,record,record,record,header,record,other');
      expect(s.headerBlocks).toHaveLength(3);
    }
    const s = new CaptureBlockSplitter();
    const part = s.push(stream.subarray(0, stream.length - 5));
    expect(Buffer.concat(part.map((b) => b.bytes)).length).toBe(stream.length - interfaceStatisticsBlock({ ifId: 0, startMicros: 0, endMicros: 0, received: 0, filterAccepted: 0, dropped: 0, delivered: 0 }).length);
    expect(s.pendingBytes).toBeGreaterThan(0);
  });

  it('a capture with secrets is 0600 even over an existing file that was not', () => {
    const path = join(dir, 'secret.pcapng');
    writeFileSync(path, 'old');
    chmodSync(path, 0o644);
    const w = new CaptureFileWriter({ path, mode: 0o600 });
    w.write(stream);
    w.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('rotates ring files, each opening with the section and interface headers, keeping the newest N', () => {
    const base = join(dir, 'ring', 'cap.pcapng');
    expect(ringFileName(base, 7)).toBe(join(dir, 'ring', 'cap_00007.pcapng'));
    const w = new CaptureFileWriter({ path: base, ringFiles: 2, ringSizeBytes: 250 });
    for (let i = 0; i < stream.length; i += 13) w.write(stream.subarray(i, i + 13));
    w.close();
    expect(w.records).toBe(7);
    const files = readdirSync(join(dir, 'ring')).sort();
    expect(files).toEqual(w.files.map((f) => f.slice(f.lastIndexOf('/') + 1)));
    expect(files).toHaveLength(2);
    const all = files.map((f) => readCapture(readFileSync(join(dir, 'ring', f))));
    for (const f of all) expect(f.records.length).toBeGreaterThan(0);
    // The last file knows the late interface, and the statistics block ended up in it.
    expect(all[1].interfaces.map((i) => i.name)).toEqual(['a', 'late']);
    expect(all[1].records.at(-1)!.interfaceName).toBe('late');
    expect(() => new CaptureFileWriter({ path: '-', ringFiles: 2, ringSizeBytes: 10 })).toThrow(/cannot go with -w -/);
    expect(() => new CaptureFileWriter({ path: base, ringFiles: 0, ringSizeBytes: 10 })).toThrow(/--ring-files 0/);
  });
});
