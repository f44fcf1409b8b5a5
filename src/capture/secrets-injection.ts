/**
 * A key log embedded in a capture file as a pcapng Decryption Secrets Block (pcapng, block type
 * 0x0000000A), so Wireshark and tshark decrypt the capture with no key-log setting of their own:
 * `tsnet-switch overlay secrets --inject`. A pcapng input keeps every block, the DSB going right after
 * its first Section Header Block (Wireshark reads secrets on its first pass, so they must come before
 * the packets they open); a pcap input (tcpdump -w) becomes pcapng: SHB, DSB, one Interface
 * Description Block of its link type and time resolution, one Enhanced Packet Block per record.
 * Little-endian files only (what tcpdump, dumpcap and this project write on these machines).
 */
import { TsnError } from '../errors.js';
import { PCAP_GLOBAL_HEADER_LEN, PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAP_RECORD_HEADER_LEN } from './pcap-format.js';
import { PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_EPB, PCAPNG_IDB, PCAPNG_SHB, sectionHeaderBlock } from './pcapng-format.js';

export const PCAPNG_DSB = 0x0000000a;
/** Secrets types of the DSB: WireGuard key log ("WGKL"), as Wireshark names it. */
export const SECRETS_WIREGUARD_KEYLOG = 0x57474b4c;
const IF_TSRESOL = 9;

const pad4 = (n: number) => (n + 3) & ~3;

export function decryptionSecretsBlock(secretsType: number, secrets: Buffer): Buffer {
  const len = 20 + pad4(secrets.length);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(PCAPNG_DSB, 0);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(secretsType, 8);
  b.writeUInt32LE(secrets.length, 12);
  secrets.copy(b, 16);
  b.writeUInt32LE(len, len - 4);
  return b;
}

/** `capture` with `secrets` in a DSB of `secretsType`, as a pcapng file. Throws ERR_BAD_CAPTURE naming what it found. */
export function injectSecrets(capture: Buffer, secretsType: number, secrets: Buffer, what = 'the capture'): Buffer {
  const dsb = decryptionSecretsBlock(secretsType, secrets);
  const magic = capture.length >= 4 ? capture.readUInt32LE(0) : -1;
  if (magic === PCAPNG_SHB) {
    if (capture.length < 28 || capture.readUInt32LE(8) !== PCAPNG_BYTE_ORDER_MAGIC) throw new TsnError('ERR_BAD_CAPTURE', `${what} is a big-endian or truncated pcapng file: only little-endian pcapng or pcap is accepted`);
    const shbLen = capture.readUInt32LE(4);
    if (shbLen < 28 || shbLen > capture.length) throw new TsnError('ERR_BAD_CAPTURE', `${what}: its section header block claims ${shbLen} bytes of ${capture.length}`);
    return Buffer.concat([capture.subarray(0, shbLen), dsb, capture.subarray(shbLen)]);
  }
  if (magic === PCAP_MAGIC_MICROS || magic === PCAP_MAGIC_NANOS) return pcapToPcapng(capture, magic === PCAP_MAGIC_NANOS, dsb, what);
  const seen = magic < 0 ? 'shorter than 4 bytes' : `starts with 0x${(magic >>> 0).toString(16).padStart(8, '0')}`;
  throw new TsnError('ERR_BAD_CAPTURE', `${what} ${seen}: not a little-endian pcap (a1b2c3d4/a1b23c4d) or pcapng (0a0d0d0a) file`);
}

function pcapToPcapng(pcap: Buffer, nanos: boolean, dsb: Buffer, what: string): Buffer {
  if (pcap.length < PCAP_GLOBAL_HEADER_LEN) throw new TsnError('ERR_BAD_CAPTURE', `${what}: a pcap header of ${pcap.length} bytes, 24 expected`);
  const snaplen = pcap.readUInt32LE(16);
  const linktype = pcap.readUInt32LE(20) & 0xffff;
  const idb = Buffer.alloc(32);
  idb.writeUInt32LE(PCAPNG_IDB, 0);
  idb.writeUInt32LE(32, 4);
  idb.writeUInt16LE(linktype, 8);
  idb.writeUInt32LE(snaplen, 12);
  idb.writeUInt16LE(IF_TSRESOL, 16);
  idb.writeUInt16LE(1, 18);
  idb.writeUInt8(nanos ? 9 : 6, 20); // 10^-6 or 10^-9 s, as the pcap records count
  idb.writeUInt32LE(32, 28); // (opt_endofopt at 24 is zeros)
  const blocks: Buffer[] = [sectionHeaderBlock(), dsb, idb];
  const unit = nanos ? 1_000_000_000n : 1_000_000n;
  for (let off = PCAP_GLOBAL_HEADER_LEN; off < pcap.length; ) {
    if (off + PCAP_RECORD_HEADER_LEN > pcap.length) throw new TsnError('ERR_BAD_CAPTURE', `${what}: a record header cut short at byte ${off}`);
    const sec = pcap.readUInt32LE(off), frac = pcap.readUInt32LE(off + 4), caplen = pcap.readUInt32LE(off + 8), origlen = pcap.readUInt32LE(off + 12);
    const data = off + PCAP_RECORD_HEADER_LEN;
    if (data + caplen > pcap.length) throw new TsnError('ERR_BAD_CAPTURE', `${what}: the record at byte ${off} claims ${caplen} bytes, ${pcap.length - data} left`);
    const ts = BigInt(sec) * unit + BigInt(frac);
    const len = 32 + pad4(caplen);
    const epb = Buffer.alloc(len);
    epb.writeUInt32LE(PCAPNG_EPB, 0);
    epb.writeUInt32LE(len, 4);
    epb.writeUInt32LE(Number(ts >> 32n), 12);
    epb.writeUInt32LE(Number(ts & 0xffffffffn), 16);
    epb.writeUInt32LE(caplen, 20);
    epb.writeUInt32LE(origlen, 24);
    pcap.copy(epb, 28, data, data + caplen);
    epb.writeUInt32LE(len, len - 4);
    blocks.push(epb);
    off = data + caplen;
  }
  return Buffer.concat(blocks);
}
