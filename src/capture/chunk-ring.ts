/**
 * ChunkRing: the memory behind a capture's queue. One ArrayBuffer (the queue limit, 16 MB by default)
 * from which each burst's encoded records are carved as one contiguous chunk, handed to the writer as a
 * Buffer view, and given back when the writer says the bytes are gone (a socket write's callback), in
 * the order they were taken.
 *
 * Why: a fresh buffer per burst costs an allocation and, for big frames, fresh pages the kernel must
 * zero (a 64-frame burst of 64 KB super-frames is 8 MB); reusing one region costs neither. And it is the
 * bound itself: when no contiguous room is left, the capture drops the burst's frames and counts them.
 *
 * A chunk that does not fit before the end of the buffer starts again at 0; the skipped tail is
 * returned with it.
 */
export class ChunkRing {
  readonly bytes: Buffer;
  private head = 0;
  private tail = 0;
  /** Bytes taken and not yet given back (waste included). */
  used = 0;
  private readonly taken: number[] = [];
  private takenHead = 0;

  constructor(readonly size: number) {
    this.bytes = Buffer.from(new ArrayBuffer(size));
  }

  /** Offset of `n` contiguous bytes, or -1 if there is no room. */
  alloc(n: number): number {
    if (n > this.size || n <= 0) return -1;
    if (this.used === 0) this.head = this.tail = 0;
    const wrapped = this.tail < this.head || (this.tail === this.head && this.used > 0);
    if (!wrapped) {
      if (this.tail + n <= this.size) return this.take(this.tail, n, 0);
      if (n <= this.head) return this.take(0, n, this.size - this.tail);
      return -1;
    }
    if (this.tail + n <= this.head) return this.take(this.tail, n, 0);
    return -1;
  }

  private take(off: number, n: number, waste: number): number {
    this.taken.push(n + waste);
    this.used += n + waste;
    this.tail = off + n;
    return off;
  }

  /** Give back the oldest chunk still out. */
  release(): void {
    if (this.takenHead >= this.taken.length) return;
    const n = this.taken[this.takenHead++];
    if (this.takenHead > 1024 && this.takenHead * 2 > this.taken.length) {
      this.taken.splice(0, this.takenHead);
      this.takenHead = 0;
    }
    this.used -= n;
    this.head = (this.head + n) % this.size;
  }
}
