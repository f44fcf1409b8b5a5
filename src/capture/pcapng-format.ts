/**
 * pcapng blocks (draft-ietf-opsawg-pcapng), written little-endian:
 *
 *   SHB  Section Header Block: byte-order magic, version 1.0, shb_userappl.
 *   IDB  Interface Description Block, one per switch port: LINKTYPE_ETHERNET, the snap length, if_name
 *        (the port's label: the endpoint, e.g. `web1:eth0`) and if_description.
 *   EPB  Enhanced Packet Block per frame: interface id, a microsecond timestamp, captured and original
 *        length, the bytes, and options: epb_flags with the direction (inbound 1 / outbound 2, bits
 *        0-1) and, when annotating, opt_comment with the switch's decision (`fdb hit -> web1`) —
 *        Wireshark shows it as the packet comment (`frame.comment`).
 *   ISB  Interface Statistics Block at the end: frames seen, accepted by the filter, dropped by the
 *        capture (writer behind) and delivered.
 *
 * Every block is sized first and then written into one preallocated buffer, so a burst's records cost
 * one allocation and one copy of each frame's bytes.
 */
export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_ISB = 0x00000005;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const LINKTYPE_ETHERNET = 1;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const EPB_FLAGS = 2;
export const ISB_STARTTIME = 2;
export const ISB_ENDTIME = 3;
export const ISB_IFRECV = 4;
export const ISB_IFDROP = 5;
export const ISB_FILTERACCEPT = 6;
export const ISB_USRDELIV = 8;

/** epb_flags bits 0-1. */
export const DIR_INBOUND = 1;
export const DIR_OUTBOUND = 2;

export const USER_APPL = 'tsnet-switch';

const pad4 = (n: number) => (n + 3) & ~3;

/** Bytes an option with a value of `len` bytes takes (code, length, value padded to 4). */
function optionSize(len: number): number {
  return 4 + pad4(len);
}

function writeOption(buf: Buffer, off: number, code: number, value: Buffer | string, valueLen: number): number {
  buf.writeUInt16LE(code, off);
  buf.writeUInt16LE(valueLen, off + 2);
  if (typeof value === 'string') buf.write(value, off + 4, valueLen, 'utf8');
  else value.copy(buf, off + 4, 0, valueLen);
  buf.fill(0, off + 4 + valueLen, off + 4 + pad4(valueLen));
  return off + 4 + pad4(valueLen);
}

function writeU64Option(buf: Buffer, off: number, code: number, value: number): number {
  buf.writeUInt16LE(code, off);
  buf.writeUInt16LE(8, off + 2);
  buf.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(value))), off + 4);
  return off + 12;
}

/** Strings as options: UTF-8, at most 65535 bytes (the option length field), never split mid-character. */
function optionText(text: string): Buffer {
  let b = Buffer.from(text, 'utf8');
  if (b.length > 0xffff) b = Buffer.from(b.subarray(0, 0xfff0).toString('utf8').replace(/\uFFFD$/, ''), 'utf8');
  return b;
}

export function sectionHeaderBlock(): Buffer {
  const appl = optionText(USER_APPL);
  const len = 28 + optionSize(appl.length) + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(PCAPNG_SHB, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(PCAPNG_BYTE_ORDER_MAGIC, 8);
  b.writeUInt16LE(1, 12);
  b.writeUInt16LE(0, 14);
  b.writeBigInt64LE(-1n, 16); // section length unknown: we stream
  let o = writeOption(b, 24, SHB_USERAPPL, appl, appl.length);
  o += 4; // opt_endofopt (zeros)
  b.writeUInt32LE(len, o);
  return b;
}

export function interfaceDescriptionBlock(name: string, description: string, snaplen: number): Buffer {
  const n = optionText(name);
  const d = optionText(description);
  const len = 16 + optionSize(n.length) + (d.length ? optionSize(d.length) : 0) + 4 + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(PCAPNG_IDB, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt16LE(LINKTYPE_ETHERNET, 8);
  b.writeUInt16LE(0, 10);
  b.writeUInt32LE(snaplen, 12);
  let o = writeOption(b, 16, IF_NAME, n, n.length);
  if (d.length) o = writeOption(b, o, IF_DESCRIPTION, d, d.length);
  o += 4;
  b.writeUInt32LE(len, o);
  return b;
}

/**
 * Copy frame bytes: a plain loop for short frames (cheaper than any call with argument checks), one
 * memcpy through Buffer.copy for the rest, never a view allocated per frame.
 */
export function copyBytes(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): void {
  if (len <= 96) {
    for (let k = 0; k < len; k++) dst[dstOff + k] = src[srcOff + k];
  } else if (Buffer.isBuffer(src)) {
    src.copy(dst, dstOff, srcOff, srcOff + len);
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}

/** Block headers are written as 32-bit words through one view of the target's memory (little-endian hosts). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let wordsOwner: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOf(buf: Buffer): Uint32Array {
  if (buf.buffer !== wordsOwner) {
    wordsOwner = buf.buffer;
    words = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
  }
  return words;
}

/** Size of an EPB holding `caplen` bytes, with a direction flag and an optional comment of `commentLen` bytes. */
export function enhancedPacketSize(caplen: number, commentLen: number): number {
  return 28 + pad4(caplen) + 8 /* epb_flags */ + (commentLen > 0 ? optionSize(commentLen) : 0) + 4 /* endofopt */ + 4;
}

/**
 * Write an EPB at `buf[off]` (space for it sized by enhancedPacketSize) and return the offset after it.
 * `tsMicros` is microseconds since the epoch; `comment` is already UTF-8.
 */
export function writeEnhancedPacket(
  buf: Buffer,
  off: number,
  ifId: number,
  tsMicros: number,
  data: Uint8Array,
  dataOff: number,
  caplen: number,
  origLen: number,
  direction: number,
  comment: Buffer | null,
): number {
  const commentLen = comment ? comment.length : 0;
  const len = enhancedPacketSize(caplen, commentLen);
  const abs = buf.byteOffset + off;
  if (LITTLE_ENDIAN && (abs & 3) === 0) {
    // The hot path: whole words, no per-field bounds-checked calls.
    const w = wordsOf(buf);
    let i = abs >>> 2;
    w[i] = PCAPNG_EPB;
    w[i + 1] = len;
    w[i + 2] = ifId;
    w[i + 3] = Math.floor(tsMicros / 0x100000000);
    w[i + 4] = tsMicros % 0x100000000 >>> 0;
    w[i + 5] = caplen;
    w[i + 6] = origLen;
    const padded = (caplen + 3) & ~3;
    if (padded !== caplen) w[i + 7 + (padded >>> 2) - 1] = 0; // zero the last word, then the data over it
    copyBytes(data, dataOff, caplen, buf, off + 28);
    i += 7 + (padded >>> 2);
    w[i++] = EPB_FLAGS | (4 << 16);
    w[i++] = direction;
    if (commentLen > 0) {
      w[i++] = OPT_COMMENT | (commentLen << 16);
      const cp = (commentLen + 3) & ~3;
      if (cp !== commentLen) w[i + (cp >>> 2) - 1] = 0;
      copyBytes(comment!, 0, commentLen, buf, (i << 2) - buf.byteOffset);
      i += cp >>> 2;
    }
    w[i++] = 0; // opt_endofopt
    w[i++] = len;
    return (i << 2) - buf.byteOffset;
  }
  buf.writeUInt32LE(PCAPNG_EPB, off);
  buf.writeUInt32LE(len, off + 4);
  buf.writeUInt32LE(ifId, off + 8);
  buf.writeUInt32LE(Math.floor(tsMicros / 0x100000000), off + 12);
  buf.writeUInt32LE(tsMicros % 0x100000000 >>> 0, off + 16);
  buf.writeUInt32LE(caplen, off + 20);
  buf.writeUInt32LE(origLen, off + 24);
  copyBytes(data, dataOff, caplen, buf, off + 28);
  let o = off + 28 + caplen;
  const padded = off + 28 + pad4(caplen);
  if (o < padded) buf.fill(0, o, padded);
  o = padded;
  buf.writeUInt16LE(EPB_FLAGS, o);
  buf.writeUInt16LE(4, o + 2);
  buf.writeUInt32LE(direction, o + 4);
  o += 8;
  if (comment && comment.length) o = writeOption(buf, o, OPT_COMMENT, comment, comment.length);
  buf.writeUInt32LE(0, o); // opt_endofopt
  buf.writeUInt32LE(len, o + 4);
  return o + 8;
}

export interface InterfaceStatistics {
  ifId: number;
  startMicros: number;
  endMicros: number;
  /** Frames the capture saw on this port (before the filter). */
  received: number;
  /** Frames the filter accepted. */
  filterAccepted: number;
  /** Frames the capture dropped because its writer was behind. */
  dropped: number;
  /** Frames written. */
  delivered: number;
}

export function interfaceStatisticsBlock(s: InterfaceStatistics): Buffer {
  const len = 20 + 12 * 6 + 4 + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(PCAPNG_ISB, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(s.ifId, 8);
  b.writeUInt32LE(Math.floor(s.endMicros / 0x100000000), 12);
  b.writeUInt32LE(s.endMicros % 0x100000000 >>> 0, 16);
  let o = 20;
  for (const [code, us] of [
    [ISB_STARTTIME, s.startMicros],
    [ISB_ENDTIME, s.endMicros],
  ] as const) {
    b.writeUInt16LE(code, o);
    b.writeUInt16LE(8, o + 2);
    b.writeUInt32LE(Math.floor(us / 0x100000000), o + 4);
    b.writeUInt32LE(us % 0x100000000 >>> 0, o + 8);
    o += 12;
  }
  o = writeU64Option(b, o, ISB_IFRECV, s.received);
  o = writeU64Option(b, o, ISB_IFDROP, s.dropped);
  o = writeU64Option(b, o, ISB_FILTERACCEPT, s.filterAccepted);
  o = writeU64Option(b, o, ISB_USRDELIV, s.delivered);
  o += 4;
  b.writeUInt32LE(len, o);
  return b;
}
