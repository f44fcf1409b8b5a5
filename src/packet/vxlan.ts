/**
 * VXLAN headers (RFC 7348), carried in UDP to port 4789, in front of an inner Ethernet frame.
 *
 *   offset  size  field
 *   0       1     flags: R R R R I R R R (I = 0x08, "VNI valid", must be set)
 *   1       3     reserved
 *   4       3     VNI (24-bit VXLAN network identifier)
 *   7       1     reserved
 *   8             inner Ethernet frame
 *
 * Check up front (`bind`): at least 8 bytes ('truncated'); the I flag set ('bad-flags'). Reserved
 * bits are ignored on receipt as RFC 7348 section 5 says (Linux is stricter and drops unknown
 * flags unless an extension such as GBP is configured); `reservedBitsSet` tells whether any is set.
 * Emit: `emitVxlan` writes flags 0x08, the VNI and zero reserved fields.
 */
import { write32 } from './bytes.js';
import { VXLAN_HEADER_LEN } from './constants.js';

export type VxlanResult = 'ok' | 'truncated' | 'bad-flags';

/** The I flag: the VNI field is valid. */
export const VXLAN_FLAG_I = 0x08;
/** Largest VNI (24 bits). */
export const VXLAN_VNI_MAX = 0xffffff;

const EMPTY = new Uint8Array(0);

export class VxlanView {
  buf: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Binds the view to `buf[off..off+len]` (the UDP data) and checks it. */
  bind(buf: Uint8Array, off: number, len: number): VxlanResult {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < VXLAN_HEADER_LEN) return 'truncated';
    if ((buf[off] & VXLAN_FLAG_I) === 0) return 'bad-flags';
    return 'ok';
  }

  /** The flags byte. */
  get flags(): number {
    return this.buf[this.off];
  }
  set flags(flags: number) {
    this.buf[this.off] = flags;
  }

  /** The 24-bit VNI. */
  get vni(): number {
    const b = this.buf;
    const o = this.off + 4;
    return (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
  }
  set vni(vni: number) {
    const b = this.buf;
    const o = this.off + 4;
    b[o] = vni >>> 16;
    b[o + 1] = vni >>> 8;
    b[o + 2] = vni;
  }

  /** True when any bit other than the I flag is set in the flags or reserved fields. */
  get reservedBitsSet(): boolean {
    const b = this.buf;
    const o = this.off;
    return (b[o] & ~VXLAN_FLAG_I) !== 0 || b[o + 1] !== 0 || b[o + 2] !== 0 || b[o + 3] !== 0 || b[o + 7] !== 0;
  }

  /** Absolute offset of the inner Ethernet frame in `buf`. */
  get payloadOffset(): number {
    return this.off + VXLAN_HEADER_LEN;
  }
  /** Bytes of the inner Ethernet frame. */
  get payloadLength(): number {
    return this.len - VXLAN_HEADER_LEN;
  }
}

/** Writes an 8-byte VXLAN header (I flag, `vni`, reserved fields zero) at `buf[off]`. Returns 8. */
export function emitVxlan(buf: Uint8Array, off: number, vni: number): number {
  write32(buf, off, VXLAN_FLAG_I << 24);
  write32(buf, off + 4, (vni & VXLAN_VNI_MAX) << 8);
  return VXLAN_HEADER_LEN;
}
