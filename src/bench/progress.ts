/**
 * What the bench says while it runs, on stderr (stdout is for the result table).
 *
 * On a terminal: one status line redrawn in place five times a second — scenario, path, repeat,
 * elapsed seconds against the duration — with finished samples and notes printed above it. Otherwise
 * (a pipe, a CI log): plain lines only, one per step and one per sample, nothing redrawn.
 */

export interface ProgressSink {
  /** A permanent line (a note, a finished sample). */
  line(text: string): void;
  /** Measuring now: shown as the live status on a terminal, as a plain line otherwise. */
  measuring(status: { scenario: string; path: string; repeat: number; repeats: number; durationS: number }): void;
  /** Between measurements (building a topology, tearing down). */
  idle(text: string): void;
  /** Remove the status line; no more output. */
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  // A reader that went away (`bench 2>&1 | head`) must not crash the run before its teardown: EPIPE
  // and friends silence the progress instead.
  stream.on('error', () => undefined);
  return stream.isTTY ? new TerminalProgress(stream) : new PlainProgress(stream);
}

class PlainProgress implements ProgressSink {
  constructor(private readonly out: NodeJS.WritableStream) {}
  line(text: string): void {
    this.out.write(`${text}\n`);
  }
  measuring(s: { scenario: string; path: string; repeat: number; repeats: number; durationS: number }): void {
    this.out.write(`${s.scenario}: ${s.path}, repeat ${s.repeat}/${s.repeats}, ${s.durationS} s\n`);
  }
  idle(text: string): void {
    this.out.write(`${text}\n`);
  }
  stop(): void {}
}

class TerminalProgress implements ProgressSink {
  private status = '';
  private since = 0;
  private durationS = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly out: NodeJS.WriteStream) {}

  line(text: string): void {
    this.out.write(`\r\x1b[K${text}\n`);
    this.draw();
  }

  measuring(s: { scenario: string; path: string; repeat: number; repeats: number; durationS: number }): void {
    this.status = `${s.scenario} · ${s.path} · repeat ${s.repeat}/${s.repeats}`;
    this.since = Date.now();
    this.durationS = s.durationS;
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 200);
      this.timer.unref();
    }
    this.draw();
  }

  idle(text: string): void {
    this.status = text;
    this.durationS = 0;
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.out.write('\r\x1b[K');
  }

  private draw(): void {
    if (!this.status) return;
    const elapsed = this.durationS ? ` · ${((Date.now() - this.since) / 1000).toFixed(1)} s / ${this.durationS} s` : '';
    const text = `${this.status}${elapsed}`;
    const width = this.out.columns || 100;
    this.out.write(`\r\x1b[K${text.length >= width ? text.slice(0, width - 1) : text}`);
  }
}
