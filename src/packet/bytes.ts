/**
 * Big-endian (network order) integer reads and writes on a Uint8Array, by byte arithmetic.
 *
 * No DataView: the views are bound over one large shared frame pool and must not allocate per
 * frame, and TurboFan inlines these small functions into plain loads and shifts. No bounds checks:
 * callers use them inside a header whose length a view's `bind` already checked.
 */

/** The 16-bit big-endian value at `b[o]`. */
export function read16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/** Writes the low 16 bits of `v` big-endian at `b[o]`. */
export function write16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** The unsigned 32-bit big-endian value at `b[o]`. */
export function read32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes the low 32 bits of `v` big-endian at `b[o]`. */
export function write32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
