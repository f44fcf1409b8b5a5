/**
 * ARP (RFC 826) for Ethernet hardware addresses and IPv4 protocol addresses, the only kind a
 * container network carries.
 *
 *   offset  size  field
 *   0       2     hardware type (1 = Ethernet)
 *   2       2     protocol type (0x0800 = IPv4)
 *   4       1     hardware address length (6)
 *   5       1     protocol address length (4)
 *   6       2     operation (1 request, 2 reply)
 *   8       6     sender hardware address (MAC)
 *   14      4     sender protocol address (IPv4)
 *   18      6     target hardware address
 *   24      4     target protocol address
 *   28            end (Ethernet padding may follow)
 *
 * Check up front (`bind`): at least the 8-byte fixed part ('truncated'); hardware type 1 and
 * protocol type 0x0800 ('unsupported-type'); lengths 6 and 4 ('bad-address-length'); then all 28
 * bytes ('truncated'). The operation is not checked: RARP and InARP codes read like any other.
 * MACs are 48-bit numbers and IPv4 addresses uint32 numbers. Emit: `emitArp`; answer a request in
 * place: `writeArpReply` (the one ARP-reply writer: the lb, ipvlan and arp-suppress stages use it).
 */
import { ARP_LEN, ETHERTYPE_IPV4 } from './constants.js';
import { read16, read32, write16, write32 } from './bytes.js';
import { readMac, writeMac } from './mac.js';

export const ARP_HTYPE_ETHERNET = 1;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export type ArpResult = 'ok' | 'truncated' | 'unsupported-type' | 'bad-address-length';

const EMPTY = new Uint8Array(0);

export class ArpView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to `buf[off..off+len]` (the Ethernet payload) and checks it. */
  bind(buf: Uint8Array, off: number, len: number): ArpResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < 8) return 'truncated';
    if (read16(buf, off) !== ARP_HTYPE_ETHERNET || read16(buf, off + 2) !== ETHERTYPE_IPV4) return 'unsupported-type';
    if (buf[off + 4] !== 6 || buf[off + 5] !== 4) return 'bad-address-length';
    if (len < ARP_LEN) return 'truncated';
    return 'ok';
  }

  get hardwareType(): number {
    return read16(this.buf, this.off);
  }
  get protocolType(): number {
    return read16(this.buf, this.off + 2);
  }
  get hardwareLength(): number {
    return this.buf[this.off + 4];
  }
  get protocolLength(): number {
    return this.buf[this.off + 5];
  }

  get operation(): number {
    return read16(this.buf, this.off + 6);
  }
  set operation(op: number) {
    write16(this.buf, this.off + 6, op);
  }

  get senderMac(): number {
    return readMac(this.buf, this.off + 8);
  }
  set senderMac(mac: number) {
    writeMac(this.buf, this.off + 8, mac);
  }

  get senderIp(): number {
    return read32(this.buf, this.off + 14);
  }
  set senderIp(ip: number) {
    write32(this.buf, this.off + 14, ip);
  }

  get targetMac(): number {
    return readMac(this.buf, this.off + 18);
  }
  set targetMac(mac: number) {
    writeMac(this.buf, this.off + 18, mac);
  }

  get targetIp(): number {
    return read32(this.buf, this.off + 24);
  }
  set targetIp(ip: number) {
    write32(this.buf, this.off + 24, ip);
  }
}

/**
 * Writes a complete Ethernet/IPv4 ARP message at `buf[off]`. Returns its length, 28.
 * A request has `targetMac` 0; a gratuitous ARP has `senderIp === targetIp`.
 */
export function emitArp(
  buf: Uint8Array,
  off: number,
  operation: number,
  senderMac: number,
  senderIp: number,
  targetMac: number,
  targetIp: number,
): number {
  write16(buf, off, ARP_HTYPE_ETHERNET);
  write16(buf, off + 2, ETHERTYPE_IPV4);
  buf[off + 4] = 6;
  buf[off + 5] = 4;
  write16(buf, off + 6, operation);
  writeMac(buf, off + 8, senderMac);
  write32(buf, off + 14, senderIp);
  writeMac(buf, off + 18, targetMac);
  write32(buf, off + 24, targetIp);
  return ARP_LEN;
}

/**
 * Turns the Ethernet/IPv4 ARP request in the frame at `buf[frameOff]` (Ethernet header first) into its
 * reply in place: "answerIp is-at answerMac", from answerMac, to the frame's Ethernet source (the reply
 * leaves by the port the request came in), with the request's sender as the ARP target. The caller has
 * checked that the frame is such a request (28 bytes of ARP after 14 of Ethernet; padding stays).
 */
export function writeArpReply(buf: Uint8Array, frameOff: number, answerMac: number, answerIp: number): void {
  const a = frameOff + 14;
  const requesterMac = readMac(buf, a + 8);
  const requesterIp = read32(buf, a + 14);
  writeMac(buf, frameOff, readMac(buf, frameOff + 6));
  writeMac(buf, frameOff + 6, answerMac);
  write16(buf, a + 6, ARP_REPLY);
  writeMac(buf, a + 8, answerMac);
  write32(buf, a + 14, answerIp);
  writeMac(buf, a + 18, requesterMac);
  write32(buf, a + 24, requesterIp);
}
