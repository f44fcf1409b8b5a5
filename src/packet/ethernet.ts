/**
 * Ethernet II frames with up to two VLAN tags (IEEE 802.1Q C-tag, 802.1ad S-tag / QinQ).
 *
 *   offset  size  field
 *   0       6     destination MAC
 *   6       6     source MAC
 *   12      2     ethertype, or TPID 0x8100 / 0x88a8 when a tag follows
 *   -- one tag (tagCount 1) --
 *   14      2     TCI: PCP (3 bits) | DEI (1) | VID (12)
 *   16      2     ethertype, or the TPID of a second tag
 *   -- two tags (tagCount 2) --
 *   18      2     inner TCI
 *   20      2     ethertype
 *   14 / 18 / 22  payload (headerLength = 14 + 4 * tagCount)
 *
 * Check up front (`bind`): at least 14 bytes ('truncated'); each tag announced by a TPID must fit
 * with the ethertype after it ('truncated'); a third TPID after two tags is 'too-many-tags'. Any of
 * 0x8100 and 0x88a8 counts as a TPID in either position. The frame check sequence is not part of
 * the bytes (TAP and AF_PACKET deliver frames without it); frames shorter than 60 bytes may carry
 * padding after the payload, which the IP views exclude by their own length fields.
 *
 * After an 'ok' bind every getter reads inside the frame: tag getters return 0 when the tag is absent.
 * Tag setters write the tag that is present (tagCount >= 1, or 2 for the inner ones) and are not to
 * be used otherwise; `pushTag` / `popTag` add or remove the outer tag by moving the MAC addresses
 * into or out of headroom. Emit: `emitEthernet`, `emitEthernetTagged`.
 */
import { ETHERNET_HEADER_LEN, ETHERTYPE_QINQ, ETHERTYPE_VLAN, VLAN_TAG_LEN } from './constants.js';
import { readMac, writeMac } from './mac.js';

export type EthernetResult = 'ok' | 'truncated' | 'too-many-tags';

const EMPTY = new Uint8Array(0);

function isTpid(t: number): boolean {
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ;
}

export class EthernetView {
  /** The bound buffer, frame offset and length. Read-only for users; `bind` sets them. */
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;
  /** Number of VLAN tags found by `bind`: 0, 1 or 2. */
  tagCount = 0;

  /** Binds the view to the frame `buf[off..off+len]` and checks it (see the file comment). */
  bind(buf: Uint8Array, off: number, len: number): EthernetResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    this.tagCount = 0;
    if (len < ETHERNET_HEADER_LEN) return 'truncated';
    if (!isTpid((buf[off + 12] << 8) | buf[off + 13])) return 'ok';
    if (len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return 'truncated';
    this.tagCount = 1;
    if (!isTpid((buf[off + 16] << 8) | buf[off + 17])) return 'ok';
    if (len < ETHERNET_HEADER_LEN + 2 * VLAN_TAG_LEN) return 'truncated';
    this.tagCount = 2;
    if (isTpid((buf[off + 20] << 8) | buf[off + 21])) return 'too-many-tags';
    return 'ok';
  }

  get dst(): number {
    return readMac(this.buf, this.off);
  }
  set dst(mac: number) {
    writeMac(this.buf, this.off, mac);
  }

  get src(): number {
    return readMac(this.buf, this.off + 6);
  }
  set src(mac: number) {
    writeMac(this.buf, this.off + 6, mac);
  }

  /** Bytes before the payload: 14, 18 or 22. */
  get headerLength(): number {
    return ETHERNET_HEADER_LEN + VLAN_TAG_LEN * this.tagCount;
  }

  /** The ethertype of the payload (after any tags). */
  get ethertype(): number {
    const o = this.off + 12 + VLAN_TAG_LEN * this.tagCount;
    return (this.buf[o] << 8) | this.buf[o + 1];
  }
  set ethertype(type: number) {
    const o = this.off + 12 + VLAN_TAG_LEN * this.tagCount;
    this.buf[o] = type >>> 8;
    this.buf[o + 1] = type;
  }

  /** Absolute offset of the payload in `buf`. */
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }

  /** Bytes after the header, including any Ethernet padding. */
  get payloadLength(): number {
    return this.len - this.headerLength;
  }

  /** The outer tag's TPID (0x8100 or 0x88a8), or 0 when untagged. */
  get outerTpid(): number {
    return this.tagCount > 0 ? (this.buf[this.off + 12] << 8) | this.buf[this.off + 13] : 0;
  }
  set outerTpid(tpid: number) {
    this.buf[this.off + 12] = tpid >>> 8;
    this.buf[this.off + 13] = tpid;
  }

  /** The outer tag's TCI (PCP | DEI | VID), or 0 when untagged. */
  get outerTci(): number {
    return this.tagCount > 0 ? (this.buf[this.off + 14] << 8) | this.buf[this.off + 15] : 0;
  }
  set outerTci(tci: number) {
    this.buf[this.off + 14] = tci >>> 8;
    this.buf[this.off + 15] = tci;
  }

  /** The outer tag's VLAN ID (12 bits), or 0 when untagged. */
  get vlanId(): number {
    return this.outerTci & 0x0fff;
  }
  set vlanId(vid: number) {
    const o = this.off + 14;
    this.buf[o] = (this.buf[o] & 0xf0) | ((vid >>> 8) & 0x0f);
    this.buf[o + 1] = vid;
  }

  /** The outer tag's priority code point (3 bits), or 0 when untagged. */
  get pcp(): number {
    return this.outerTci >>> 13;
  }
  set pcp(pcp: number) {
    const o = this.off + 14;
    this.buf[o] = (this.buf[o] & 0x1f) | ((pcp & 7) << 5);
  }

  /** The outer tag's drop eligible indicator. */
  get dei(): boolean {
    return (this.outerTci & 0x1000) !== 0;
  }
  set dei(dei: boolean) {
    const o = this.off + 14;
    this.buf[o] = dei ? this.buf[o] | 0x10 : this.buf[o] & 0xef;
  }

  /** The inner tag's TPID, or 0 with fewer than two tags. */
  get innerTpid(): number {
    return this.tagCount > 1 ? (this.buf[this.off + 16] << 8) | this.buf[this.off + 17] : 0;
  }
  set innerTpid(tpid: number) {
    this.buf[this.off + 16] = tpid >>> 8;
    this.buf[this.off + 17] = tpid;
  }

  /** The inner tag's TCI, or 0 with fewer than two tags. */
  get innerTci(): number {
    return this.tagCount > 1 ? (this.buf[this.off + 18] << 8) | this.buf[this.off + 19] : 0;
  }
  set innerTci(tci: number) {
    this.buf[this.off + 18] = tci >>> 8;
    this.buf[this.off + 19] = tci;
  }

  /** The inner tag's VLAN ID, or 0 with fewer than two tags. */
  get innerVlanId(): number {
    return this.innerTci & 0x0fff;
  }
  set innerVlanId(vid: number) {
    const o = this.off + 18;
    this.buf[o] = (this.buf[o] & 0xf0) | ((vid >>> 8) & 0x0f);
    this.buf[o + 1] = vid;
  }

  /**
   * Inserts a new outer tag by moving the two MAC addresses 4 bytes into the headroom in front of the
   * frame; the view is rebound to the grown frame (off - 4, len + 4). Returns the new offset, or -1
   * (nothing changed) when fewer than 4 bytes of headroom are left or two tags are already present.
   */
  pushTag(tpid: number, tci: number): number {
    if (this.off < VLAN_TAG_LEN || this.tagCount === 2) return -1;
    const b = this.buf;
    const o = this.off - VLAN_TAG_LEN;
    b.copyWithin(o, this.off, this.off + 12);
    b[o + 12] = tpid >>> 8;
    b[o + 13] = tpid;
    b[o + 14] = tci >>> 8;
    b[o + 15] = tci;
    this.off = o;
    this.len += VLAN_TAG_LEN;
    this.tagCount++;
    return o;
  }

  /**
   * Removes the outer tag by moving the MAC addresses 4 bytes forward; the view is rebound to the
   * shrunk frame (off + 4, len - 4). Returns the new offset, or -1 (nothing changed) when untagged.
   */
  popTag(): number {
    if (this.tagCount === 0) return -1;
    const o = this.off + VLAN_TAG_LEN;
    this.buf.copyWithin(o, this.off, this.off + 12);
    this.off = o;
    this.len -= VLAN_TAG_LEN;
    this.tagCount--;
    return o;
  }
}

/** Writes an untagged Ethernet header at `buf[off]`. Returns its length, 14. */
export function emitEthernet(buf: Uint8Array, off: number, dst: number, src: number, ethertype: number): number {
  writeMac(buf, off, dst);
  writeMac(buf, off + 6, src);
  buf[off + 12] = ethertype >>> 8;
  buf[off + 13] = ethertype;
  return ETHERNET_HEADER_LEN;
}

/**
 * Writes an Ethernet header with one tag (`tpid` 0x8100 or 0x88a8, `tci` = PCP << 13 | DEI << 12 | VID)
 * at `buf[off]`. Returns its length, 18.
 */
export function emitEthernetTagged(
  buf: Uint8Array,
  off: number,
  dst: number,
  src: number,
  tpid: number,
  tci: number,
  ethertype: number,
): number {
  writeMac(buf, off, dst);
  writeMac(buf, off + 6, src);
  buf[off + 12] = tpid >>> 8;
  buf[off + 13] = tpid;
  buf[off + 14] = tci >>> 8;
  buf[off + 15] = tci;
  buf[off + 16] = ethertype >>> 8;
  buf[off + 17] = ethertype;
  return ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
}
