/**
 * Where a capture session's bytes go (CaptureSink, see capture-session.ts):
 *
 *   StreamSink  a Node Writable: the daemon's HTTP response (a streaming API body), a file stream.
 *               Writes never wait; the stream's own buffer (`writableLength`) is the capture's queue,
 *               which the session keeps under its limit by dropping frames, never by blocking.
 *   MemorySink  chunks kept in memory (tests).
 *   FileSink    a file written synchronously (the emulator's per-port captures).
 *
 * A sink that closes underneath its session (the client went away) ends the session.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { CaptureSink } from './capture-session.js';

export class StreamSink implements CaptureSink {
  private closed = false;
  private onClose: (() => void) | null = null;

  constructor(private readonly stream: Writable) {
    const gone = () => {
      if (this.closed) return;
      this.closed = true;
      this.onClose?.();
    };
    stream.once('close', gone);
    stream.once('error', gone);
  }

  /** Called once if the stream closes or fails before the session ends it. */
  whenClosed(fn: () => void): void {
    this.onClose = fn;
    if (this.closed) fn();
  }

  write(chunk: Buffer, done?: () => void): void {
    if (!this.closed && !this.stream.writableEnded) this.stream.write(chunk, done && (() => done()));
    else done?.();
  }

  queuedBytes(): number {
    return this.stream.writableLength;
  }

  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }
}

export class MemorySink implements CaptureSink {
  readonly chunks: Buffer[] = [];
  ended = false;
  /** Pretend this many bytes are waiting to be written (tests of the full-queue path). */
  backlog = 0;

  write(chunk: Buffer, done?: () => void): void {
    this.chunks.push(done ? Buffer.from(chunk) : chunk);
    done?.();
  }

  queuedBytes(): number {
    return this.backlog;
  }

  end(): void {
    this.ended = true;
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A file written synchronously (the emulator: nothing runs meanwhile, and nothing may be dropped). */
export class FileSink implements CaptureSink {
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w', 0o644);
  }

  write(chunk: Buffer, done?: () => void): void {
    let o = 0;
    while (o < chunk.length) o += writeSync(this.fd, chunk, o, chunk.length - o);
    done?.();
  }

  queuedBytes(): number {
    return 0;
  }

  end(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
