/**
 * CaptureFileWriter: where the CLI puts a capture stream — one file, a ring of files, or stdout — whole
 * blocks only (CaptureBlockSplitter), so whatever is on disk when the stream stops is a valid capture.
 *
 *   one file   -w FILE, or captures/TARGET-TIME.pcapng by default.
 *   ring       --ring-files N --ring-size MB: FILE_00001.pcapng, FILE_00002.pcapng, ... each at most
 *              about MB megabytes (a file holds at least one frame), each starting with the section
 *              header and all interface descriptions so it opens on its own; beyond N files the
 *              oldest is deleted (tshark's -b files:N -b filesize:...).
 *   stdout     -w -: for `| tshark -r -` and `| wireshark -k -i -`. Written through process.stdout
 *              with back-pressure: `write` returns false when the pipe is full, and the caller pauses
 *              its input (the daemon then drops frames from the capture rather than buffer them).
 *
 * Files are written synchronously (the CLI does nothing else meanwhile); stdout asynchronously.
 */
import { closeSync, fchmodSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { EventEmitter } from 'node:events';
import { TsnError } from '../errors.js';
import { CaptureBlockSplitter } from './capture-block-splitter.js';

export interface CaptureFileOptions {
  /** A path, or '-' for stdout. */
  path: string;
  ringFiles?: number;
  ringSizeBytes?: number;
  /** File mode (default 0644; a capture carrying secrets is 0600). */
  mode?: number;
}

/** `base.pcapng` + 3 -> `base_00003.pcapng`. */
export function ringFileName(path: string, n: number): string {
  const ext = extname(path);
  const stem = ext ? path.slice(0, -ext.length) : path;
  return `${stem}_${String(n).padStart(5, '0')}${ext}`;
}

export class CaptureFileWriter extends EventEmitter {
  readonly splitter = new CaptureBlockSplitter();
  /** Files written (ring: those still on disk), in order. */
  readonly files: string[] = [];
  records = 0;
  private fd = -1;
  private fileBytes = 0;
  private fileRecords = 0;
  private ringIndex = 0;
  private readonly toStdout: boolean;
  private closed = false;

  constructor(private readonly opts: CaptureFileOptions) {
    super();
    this.toStdout = opts.path === '-';
    const ring = opts.ringFiles !== undefined || opts.ringSizeBytes !== undefined;
    if (ring) {
      if (this.toStdout) throw new TsnError('ERR_BAD_OPTION', '--ring-files/--ring-size write files: they cannot go with -w -');
      if (!Number.isInteger(opts.ringFiles) || opts.ringFiles! < 1) throw new TsnError('ERR_BAD_OPTION', `--ring-files ${opts.ringFiles}: expected a whole number of files >= 1 (and --ring-size MB)`);
      if (!(opts.ringSizeBytes! > 0)) throw new TsnError('ERR_BAD_OPTION', `--ring-size ${opts.ringSizeBytes === undefined ? '(missing)' : opts.ringSizeBytes / 1e6}: expected megabytes > 0 (and --ring-files N)`);
    }
    if (!this.toStdout) {
      mkdirSync(dirname(opts.path), { recursive: true });
      this.openNext();
    }
  }

  private get ring(): boolean {
    return this.opts.ringFiles !== undefined;
  }

  private openNext(): void {
    if (this.fd >= 0) closeSync(this.fd);
    const path = this.ring ? ringFileName(this.opts.path, ++this.ringIndex) : this.opts.path;
    this.fd = openSync(path, 'w', this.opts.mode ?? 0o644);
    // The mode of open() applies only to a file it creates: one that existed keeps its own (a capture with secrets must not).
    if (this.opts.mode !== undefined) fchmodSync(this.fd, this.opts.mode);
    this.files.push(path);
    this.fileBytes = 0;
    this.fileRecords = 0;
    if (this.ring && this.files.length > this.opts.ringFiles!) unlinkSync(this.files.shift()!);
    for (const h of this.splitter.headerBlocks) this.writeFile(h);
  }

  private writeFile(b: Buffer): void {
    let o = 0;
    while (o < b.length) o += writeSync(this.fd, b, o, b.length - o);
    this.fileBytes += b.length;
  }

  /** Take a chunk of the stream. Returns false when stdout is full: pause until 'drain'. */
  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    const blocks = this.splitter.push(chunk);
    if (this.toStdout) {
      let ok = true;
      for (const b of blocks) {
        ok = process.stdout.write(b.bytes);
        if (b.kind === 'record') this.records++;
      }
      if (!ok) process.stdout.once('drain', () => this.emit('drain'));
      return ok;
    }
    for (const b of blocks) {
      if (b.kind === 'record') {
        if (this.ring && this.fileRecords > 0 && this.fileBytes + b.bytes.length > this.opts.ringSizeBytes!) this.openNext();
        this.records++;
        this.fileRecords++;
      }
      // A header block arriving mid-file (a port joined) was recorded by the splitter for later files.
      this.writeFile(b.bytes);
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
