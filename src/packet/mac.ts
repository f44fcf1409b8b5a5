/**
 * MAC addresses as 48-bit numbers.
 *
 * On the hot path a MAC is a plain JS number, `hi16 * 2**32 + lo32`, exact in a double (53-bit
 * mantissa), so it can key a Map, be compared with `===`, and be stored in a Float64Array without
 * allocating. Bytes map to the number in wire order: aa:bb:cc:dd:ee:ff is 0xaabbccddeeff.
 *
 *   byte:   0    1    2    3    4    5
 *          [hi16     ][lo32               ]
 *   bit 40 (byte 0, bit 0) is the I/G bit: 1 = group (multicast, broadcast) address.
 *
 * Text forms exist only at the edges (CLI, API, trace): `formatMac` and `parseMac`.
 * Nothing here checks bounds: callers read a MAC from a header whose length a view already checked.
 */

/** ff:ff:ff:ff:ff:ff. */
export const BROADCAST_MAC = 0xffffffffffff;

const TWO_32 = 0x100000000;
const TWO_40 = 0x10000000000;

/** The 6 bytes at `buf[off..off+6]` as a 48-bit number. */
export function readMac(buf: Uint8Array, off: number): number {
  return (
    ((buf[off] << 8) | buf[off + 1]) * TWO_32 +
    (((buf[off + 2] << 24) | (buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5]) >>> 0)
  );
}

/** Writes a 48-bit number as 6 bytes at `buf[off..off+6]`, most significant byte first. */
export function writeMac(buf: Uint8Array, off: number, mac: number): void {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac >>> 0; // ToUint32 keeps the low 32 bits of an integer below 2**53
  buf[off] = hi >>> 8;
  buf[off + 1] = hi;
  buf[off + 2] = lo >>> 24;
  buf[off + 3] = lo >>> 16;
  buf[off + 4] = lo >>> 8;
  buf[off + 5] = lo;
}

/** True for group addresses (I/G bit set): multicast and broadcast. */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / TWO_40) & 1) === 1;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: number): string {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac >>> 0;
  return (
    HEX[(hi >>> 8) & 0xff] +
    ':' +
    HEX[hi & 0xff] +
    ':' +
    HEX[lo >>> 24] +
    ':' +
    HEX[(lo >>> 16) & 0xff] +
    ':' +
    HEX[(lo >>> 8) & 0xff] +
    ':' +
    HEX[lo & 0xff]
  );
}

const MAC_TEXT = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/**
 * Parses six colon-separated two-digit hex bytes (either case), e.g. `02:42:ac:11:00:02`.
 * Throws an Error naming the value and the accepted form for anything else.
 */
export function parseMac(text: string): number {
  if (typeof text !== 'string' || !MAC_TEXT.test(text)) {
    throw new Error(
      `invalid MAC address ${JSON.stringify(text)}: expected six two-digit hex bytes separated by colons, like 02:42:ac:11:00:02`,
    );
  }
  const hex = text.replace(/:/g, '');
  return parseInt(hex.slice(0, 4), 16) * TWO_32 + parseInt(hex.slice(4), 16);
}
