import { describe, expect, it } from 'vitest';
import { pcapGlobalHeader, pcapRecordSize, writePcapRecord } from '../../../src/capture/pcap-format.js';
import { interfaceDescriptionBlock, sectionHeaderBlock } from '../../../src/capture/pcapng-format.js';
import { injectSecrets, PCAPNG_DSB, SECRETS_WIREGUARD_KEYLOG } from '../../../src/capture/secrets-injection.js';

/** The blocks of a little-endian pcapng file: [type, body]. */
function blocks(f: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let o = 0; o < f.length; ) {
    const len = f.readUInt32LE(o + 4);
    expect(f.readUInt32LE(o + len - 4)).toBe(len); // trailing length
    out.push([f.readUInt32LE(o), f.subarray(o + 8, o + len - 4)]);
    o += len;
  }
  return out;
}

const SECRET = Buffer.from('LOCAL_STATIC_PRIVATE_KEY = x\n'); // 29 bytes: padded in the block

describe('secrets injection (pcapng Decryption Secrets Block)', () => {
  it('puts the DSB right after a pcapng file\'s section header, keeping every block', () => {
    const orig = Buffer.concat([sectionHeaderBlock(), interfaceDescriptionBlock('u', '', 65535)]);
    const got = blocks(injectSecrets(orig, SECRETS_WIREGUARD_KEYLOG, SECRET));
    expect(got.map(([t]) => t)).toEqual([0x0a0d0d0a, PCAPNG_DSB, 1]);
    const dsb = got[1][1];
    expect(dsb.readUInt32LE(0)).toBe(0x57474b4c);
    expect(dsb.readUInt32LE(4)).toBe(SECRET.length);
    expect(dsb.subarray(8, 8 + SECRET.length).equals(SECRET)).toBe(true);
  });

  it('turns a pcap file into pcapng with the DSB, one IDB of its link type and its records as EPBs', () => {
    const frame = Buffer.from(Array.from({ length: 61 }, (_, i) => i));
    const rec = Buffer.alloc(pcapRecordSize(frame.length));
    writePcapRecord(rec, 0, 1_700_000_000_123_456, frame, 0, frame.length, 1500);
    const got = blocks(injectSecrets(Buffer.concat([pcapGlobalHeader(65535), rec]), SECRETS_WIREGUARD_KEYLOG, SECRET));
    expect(got.map(([t]) => t)).toEqual([0x0a0d0d0a, PCAPNG_DSB, 1, 6]);
    expect(got[2][1].readUInt16LE(0)).toBe(1); // Ethernet, from the pcap header
    const epb = got[3][1];
    const ts = (BigInt(epb.readUInt32LE(4)) << 32n) | BigInt(epb.readUInt32LE(8));
    expect(ts).toBe(1_700_000_000_123_456n); // microseconds, as if_tsresol 6 says
    expect([epb.readUInt32LE(12), epb.readUInt32LE(16)]).toEqual([61, 1500]);
    expect(epb.subarray(20, 81).equals(frame)).toBe(true);
  });

  it('refuses what is not a little-endian capture, naming what it found', () => {
    expect(() => injectSecrets(Buffer.from('LOCAL_STATIC'), SECRETS_WIREGUARD_KEYLOG, SECRET, 'keys.log')).toThrow(/keys.log starts with 0x41434f4c: not a little-endian pcap/);
    const be = pcapGlobalHeader(65535);
    be.writeUInt32BE(0xa1b2c3d4, 0);
    expect(() => injectSecrets(be, SECRETS_WIREGUARD_KEYLOG, SECRET)).toThrow(/not a little-endian pcap/);
    const cut = Buffer.concat([pcapGlobalHeader(65535), Buffer.alloc(10)]);
    expect(() => injectSecrets(cut, SECRETS_WIREGUARD_KEYLOG, SECRET)).toThrow(/record header cut short at byte 24/);
  });
});
