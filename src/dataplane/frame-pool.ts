/**
 * FramePool: one big buffer of fixed-size slots shared with the native addon, the descriptor vector
 * (one row of int32s per slot), a transmit index vector and the addon's status vector.
 *
 * A burst reads into consecutive slots starting at 0; every slot is free again once the burst's
 * transmit queues are flushed (writes to a descriptor copy the bytes), so there is no free list.
 * The native side sees the pool only once a kernel-backed port needs it (`nativeHandle`).
 */
import { native, TXS_COUNT } from '../native/addon.js';
import {
  DESC_STRIDE,
  D_CSUM_OFF,
  D_CSUM_START,
  D_GSO_SIZE,
  D_GSO_TYPE,
  D_HDR_LEN,
  D_LEN,
  D_OFF,
  D_OUT,
  D_SLOT,
  D_VFLAGS,
  HEADROOM,
  OUT_NONE,
  SLOT_SIZE,
} from './layout.js';

export interface VnetFields {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export const NO_VNET: VnetFields = Object.freeze({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });

export class FramePool {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly desc: Int32Array;
  readonly txIdx: Int32Array;
  readonly status: Int32Array;
  private handle = -1;

  constructor(readonly slots = 256) {
    if (!Number.isInteger(slots) || slots < 1 || slots > 4096) throw new RangeError(`pool slots ${slots}: expected an integer 1..4096`);
    this.buffer = new ArrayBuffer(slots * SLOT_SIZE);
    this.bytes = new Uint8Array(this.buffer);
    this.desc = new Int32Array(slots * DESC_STRIDE);
    this.txIdx = new Int32Array(slots);
    this.status = new Int32Array(TXS_COUNT);
  }

  /** The addon's handle for this pool, registering it on first use. */
  nativeHandle(): number {
    if (this.handle < 0) this.handle = native().attachPool(this.buffer, this.desc, this.txIdx, this.status);
    return this.handle;
  }

  release(): void {
    if (this.handle >= 0) native().detachPool(this.handle);
    this.handle = -1;
  }

  /** Copy a frame into a slot and fill its descriptor (in-memory ports; tests). */
  load(slot: number, frame: Uint8Array, vnet: VnetFields = NO_VNET): void {
    if (frame.length > SLOT_SIZE - HEADROOM) throw new RangeError(`frame of ${frame.length} bytes exceeds a slot`);
    const off = slot * SLOT_SIZE + HEADROOM;
    this.bytes.set(frame, off);
    const d = slot * DESC_STRIDE;
    const desc = this.desc;
    desc[d + D_OFF] = off;
    desc[d + D_LEN] = frame.length;
    desc[d + D_OUT] = OUT_NONE;
    desc[d + D_SLOT] = slot;
    desc[d + D_VFLAGS] = vnet.flags;
    desc[d + D_GSO_TYPE] = vnet.gsoType;
    desc[d + D_HDR_LEN] = vnet.hdrLen;
    desc[d + D_GSO_SIZE] = vnet.gsoSize;
    desc[d + D_CSUM_START] = vnet.csumStart;
    desc[d + D_CSUM_OFF] = vnet.csumOffset;
  }

  /** A view (no copy) of the frame in row `row`. */
  frame(row: number): Uint8Array {
    const d = row * DESC_STRIDE;
    return this.bytes.subarray(this.desc[d + D_OFF], this.desc[d + D_OFF] + this.desc[d + D_LEN]);
  }

  vnet(row: number): VnetFields {
    const d = row * DESC_STRIDE;
    const desc = this.desc;
    return {
      flags: desc[d + D_VFLAGS],
      gsoType: desc[d + D_GSO_TYPE],
      hdrLen: desc[d + D_HDR_LEN],
      gsoSize: desc[d + D_GSO_SIZE],
      csumStart: desc[d + D_CSUM_START],
      csumOffset: desc[d + D_CSUM_OFF],
    };
  }
}
