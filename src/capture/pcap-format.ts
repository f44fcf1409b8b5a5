/**
 * Classic libpcap files (LINKTYPE_ETHERNET, microsecond timestamps, little-endian): a 24-byte global
 * header, then per frame a 16-byte record header (seconds, microseconds, captured length, original
 * length) and the bytes. For readers that do not speak pcapng. It has no room for interfaces,
 * directions or comments: a network capture in this format interleaves every port's frames without
 * saying which port, and --annotate is refused.
 */
import { copyBytes, LINKTYPE_ETHERNET } from './pcapng-format.js';

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export function pcapGlobalHeader(snaplen: number): Buffer {
  const b = Buffer.alloc(PCAP_GLOBAL_HEADER_LEN);
  b.writeUInt32LE(PCAP_MAGIC_MICROS, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8); // thiszone: UTC
  b.writeUInt32LE(0, 12); // sigfigs
  b.writeUInt32LE(snaplen, 16);
  b.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  return b;
}

export function pcapRecordSize(caplen: number): number {
  return PCAP_RECORD_HEADER_LEN + caplen;
}

/** Write one record at `buf[off]`; returns the offset after it. */
export function writePcapRecord(buf: Buffer, off: number, tsMicros: number, data: Uint8Array, dataOff: number, caplen: number, origLen: number): number {
  buf.writeUInt32LE(Math.floor(tsMicros / 1e6), off);
  buf.writeUInt32LE(tsMicros % 1e6, off + 4);
  buf.writeUInt32LE(caplen, off + 8);
  buf.writeUInt32LE(origLen, off + 12);
  copyBytes(data, dataOff, caplen, buf, off + 16);
  return off + 16 + caplen;
}
