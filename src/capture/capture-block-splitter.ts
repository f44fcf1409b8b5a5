/**
 * CaptureBlockSplitter: cuts a capture byte stream (as it arrives from the daemon, in chunks of any
 * size) into whole pcapng blocks or pcap records, so that the CLI only ever writes whole blocks — a
 * file cut off by Ctrl-C or a dropped connection is still valid — and knows which blocks every file of
 * a ring must start with (pcapng: the section header and every interface description so far; pcap:
 * the global header).
 *
 * The format is told by the first four bytes. Pending bytes are kept in one buffer; each complete
 * block is returned as a view into the chunk data (no copy when a chunk holds whole blocks).
 */
import { TsnError } from '../errors.js';
import { PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAP_GLOBAL_HEADER_LEN, PCAP_RECORD_HEADER_LEN } from './pcap-format.js';
import { PCAPNG_IDB, PCAPNG_SHB } from './pcapng-format.js';

export type BlockKind = 'header' | 'record' | 'other';

export interface CaptureBlock {
  kind: BlockKind;
  bytes: Buffer;
}

export class CaptureBlockSplitter {
  format: 'pcapng' | 'pcap' | null = null;
  /** Blocks a new file must begin with, in order. */
  readonly headerBlocks: Buffer[] = [];
  private pending: Buffer = Buffer.alloc(0);

  /** The whole blocks completed by `chunk`. */
  push(chunk: Buffer): CaptureBlock[] {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: CaptureBlock[] = [];
    let o = 0;
    if (this.format === null) {
      if (buf.length < 4) {
        this.pending = Buffer.from(buf);
        return out;
      }
      const magic = buf.readUInt32LE(0);
      if (magic === PCAPNG_SHB) this.format = 'pcapng';
      else if (magic === PCAP_MAGIC_MICROS || magic === PCAP_MAGIC_NANOS) this.format = 'pcap';
      else throw new TsnError('ERR_BAD_CAPTURE_FILE', `capture stream starts with 0x${magic.toString(16)}: expected a little-endian pcapng section header or pcap header`);
    }
    for (;;) {
      const rest = buf.length - o;
      let len: number;
      let kind: BlockKind;
      if (this.format === 'pcapng') {
        if (rest < 8) break;
        const type = buf.readUInt32LE(o);
        len = buf.readUInt32LE(o + 4);
        if (len < 12 || len % 4 !== 0) throw new TsnError('ERR_BAD_CAPTURE_FILE', `capture stream: pcapng block of type ${type} with length ${len}`);
        kind = type === PCAPNG_SHB || type === PCAPNG_IDB ? 'header' : type === 6 || type === 3 || type === 2 ? 'record' : 'other';
        if (rest < len) break;
        if (type === PCAPNG_SHB) this.headerBlocks.length = 0;
      } else if (this.headerBlocks.length === 0) {
        if (rest < PCAP_GLOBAL_HEADER_LEN) break;
        len = PCAP_GLOBAL_HEADER_LEN;
        kind = 'header';
      } else {
        if (rest < PCAP_RECORD_HEADER_LEN) break;
        len = PCAP_RECORD_HEADER_LEN + buf.readUInt32LE(o + 8);
        kind = 'record';
        if (rest < len) break;
      }
      const bytes = buf.subarray(o, o + len);
      if (kind === 'header') this.headerBlocks.push(Buffer.from(bytes));
      out.push({ kind, bytes });
      o += len;
    }
    this.pending = o < buf.length ? Buffer.from(buf.subarray(o)) : Buffer.alloc(0);
    buf = Buffer.alloc(0);
    return out;
  }

  /** Bytes of an incomplete block held back (dropped if the stream ends here). */
  get pendingBytes(): number {
    return this.pending.length;
  }
}
