/**
 * Reading captures back, for the emulator's inputs and the tests: classic pcap (either byte order,
 * microsecond or nanosecond magic) and pcapng (every section, either byte order; IDBs with if_name and
 * if_tsresol; EPBs with epb_flags and opt_comment; simple and obsolete packet blocks; other blocks
 * skipped). Only Ethernet link types are accepted: the switch speaks nothing else.
 *
 * Timestamps come out as integer microseconds since the epoch. Anything truncated or inconsistent is a
 * TsnError ERR_BAD_CAPTURE_FILE naming the file offset.
 */
import { TsnError } from '../errors.js';
import { PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS } from './pcap-format.js';
import { LINKTYPE_ETHERNET, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_SHB } from './pcapng-format.js';

export interface CaptureRecord {
  timeMicros: number;
  /** pcapng interface id within its section (0 for classic pcap). */
  interfaceId: number;
  /** if_name of the interface, when the file says. */
  interfaceName: string | null;
  data: Uint8Array;
  origLen: number;
  /** epb_flags direction: 0 unknown, 1 inbound, 2 outbound. */
  direction: 0 | 1 | 2;
  comments: string[];
}

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  interfaces: { name: string | null; linktype: number; snaplen: number }[];
  records: CaptureRecord[];
}

function bad(what: string, offset: number, name: string): never {
  throw new TsnError('ERR_BAD_CAPTURE_FILE', `${name}: ${what} at byte ${offset}; expected a pcap or pcapng capture of Ethernet frames`);
}

export function readCapture(bytes: Uint8Array, name = 'capture'): CaptureFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) bad('file shorter than any capture header', 0, name);
  const magicLE = buf.readUInt32LE(0);
  if (magicLE === PCAPNG_SHB) return readPcapng(buf, name);
  return readPcap(buf, name);
}

function readPcap(buf: Buffer, name: string): CaptureFile {
  const le = buf.readUInt32LE(0);
  const be = buf.readUInt32BE(0);
  let little: boolean;
  let nanos: boolean;
  if (le === PCAP_MAGIC_MICROS || le === PCAP_MAGIC_NANOS) (little = true), (nanos = le === PCAP_MAGIC_NANOS);
  else if (be === PCAP_MAGIC_MICROS || be === PCAP_MAGIC_NANOS) (little = false), (nanos = be === PCAP_MAGIC_NANOS);
  else bad(`unknown magic 0x${le.toString(16)}`, 0, name);
  if (buf.length < 24) bad('truncated pcap global header', 0, name);
  const u32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const snaplen = u32(16);
  const linktype = u32(20) & 0xffff;
  if (linktype !== LINKTYPE_ETHERNET) bad(`link type ${linktype} is not Ethernet (1)`, 20, name);
  const records: CaptureRecord[] = [];
  let o = 24;
  while (o < buf.length) {
    if (o + 16 > buf.length) bad('truncated record header', o, name);
    const sec = u32(o);
    const frac = u32(o + 4);
    const caplen = u32(o + 8);
    const origLen = u32(o + 12);
    if (o + 16 + caplen > buf.length) bad(`record of ${caplen} bytes cut short`, o, name);
    records.push({
      timeMicros: sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac),
      interfaceId: 0,
      interfaceName: null,
      data: new Uint8Array(buf.subarray(o + 16, o + 16 + caplen)),
      origLen,
      direction: 0,
      comments: [],
    });
    o += 16 + caplen;
  }
  return { format: 'pcap', interfaces: [{ name: null, linktype, snaplen }], records };
}

interface Iface {
  name: string | null;
  linktype: number;
  snaplen: number;
  /** Timestamp units per second. */
  unitsPerSecond: bigint;
}

function readPcapng(buf: Buffer, name: string): CaptureFile {
  let little = true;
  const u16 = (o: number) => (little ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  let ifaces: Iface[] = [];
  const allIfaces: CaptureFile['interfaces'] = [];
  const records: CaptureRecord[] = [];
  let o = 0;
  let sawShb = false;

  /** Options between `start` and `end`: code -> values. */
  const options = (start: number, end: number): Map<number, Buffer[]> => {
    const m = new Map<number, Buffer[]>();
    let p = start;
    while (p + 4 <= end) {
      const code = u16(p);
      const len = u16(p + 2);
      if (code === 0) break;
      if (p + 4 + len > end) bad(`option ${code} runs past its block`, p, name);
      const v = buf.subarray(p + 4, p + 4 + len);
      const list = m.get(code);
      if (list) list.push(v);
      else m.set(code, [v]);
      p += 4 + ((len + 3) & ~3);
    }
    return m;
  };

  while (o < buf.length) {
    if (o + 12 > buf.length) bad('truncated block header', o, name);
    const typeLE = buf.readUInt32LE(o);
    if (typeLE === PCAPNG_SHB) {
      const bom = buf.readUInt32LE(o + 8);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) little = true;
      else if (buf.readUInt32BE(o + 8) === PCAPNG_BYTE_ORDER_MAGIC) little = false;
      else bad('section header with an unknown byte-order magic', o + 8, name);
      sawShb = true;
      ifaces = [];
    } else if (!sawShb) bad('pcapng file that does not start with a section header', o, name);
    const type = u32(o);
    const len = u32(o + 4);
    if (len < 12 || len % 4 !== 0 || o + len > buf.length) bad(`block of type ${type} with length ${len} cut short or misaligned`, o, name);
    if (u32(o + len - 4) !== len) bad(`block of type ${type} whose trailing length differs`, o, name);
    const end = o + len - 4;
    if (type === PCAPNG_IDB) {
      const linktype = u16(o + 8);
      const snaplen = u32(o + 12);
      const opts = options(o + 16, end);
      const ifName = opts.get(2)?.[0]?.toString('utf8') ?? null;
      let unitsPerSecond = 1_000_000n;
      const res = opts.get(9)?.[0];
      if (res && res.length >= 1) {
        const r = res[0];
        unitsPerSecond = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
      }
      if (linktype !== LINKTYPE_ETHERNET) bad(`interface ${ifaces.length} has link type ${linktype}, not Ethernet (1)`, o + 8, name);
      ifaces.push({ name: ifName, linktype, snaplen, unitsPerSecond });
      allIfaces.push({ name: ifName, linktype, snaplen });
    } else if (type === PCAPNG_EPB || type === 2 /* obsolete packet block */) {
      const ifId = type === PCAPNG_EPB ? u32(o + 8) : u16(o + 8);
      const iface = ifaces[ifId];
      if (!iface) bad(`packet for interface ${ifId}, which the section has not described`, o + 8, name);
      const ts = (BigInt(u32(o + 12)) << 32n) | BigInt(u32(o + 16));
      const caplen = u32(o + 20);
      const origLen = u32(o + 24);
      const dataEnd = o + 28 + caplen;
      if (dataEnd > end) bad(`packet of ${caplen} bytes runs past its block`, o, name);
      const opts = options(o + 28 + ((caplen + 3) & ~3), end);
      const flags = opts.get(2)?.[0];
      const dir = flags && flags.length >= 4 ? (little ? flags.readUInt32LE(0) : flags.readUInt32BE(0)) & 3 : 0;
      records.push({
        timeMicros: Number((ts * 1_000_000n) / iface.unitsPerSecond),
        interfaceId: ifId,
        interfaceName: iface.name,
        data: new Uint8Array(buf.subarray(o + 28, dataEnd)),
        origLen,
        direction: (dir === 3 ? 0 : dir) as 0 | 1 | 2,
        comments: (opts.get(1) ?? []).map((b) => b.toString('utf8')),
      });
    } else if (type === 3 /* simple packet block */) {
      const iface = ifaces[0];
      if (!iface) bad('simple packet block before any interface description', o, name);
      const origLen = u32(o + 8);
      const caplen = Math.min(origLen, iface.snaplen || origLen, end - (o + 12));
      records.push({ timeMicros: 0, interfaceId: 0, interfaceName: iface.name, data: new Uint8Array(buf.subarray(o + 12, o + 12 + caplen)), origLen, direction: 0, comments: [] });
    }
    o += len;
  }
  return { format: 'pcapng', interfaces: allIfaces, records };
}
