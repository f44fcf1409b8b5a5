/**
 * CaptureSession: one running capture — which ports it watches, its filter, its format, its sink —
 * fed by the capture hub twice a burst (see dataplane/capture-point.ts).
 *
 * Algorithm, per burst:
 *   inbound   rows whose ingress port is watched -> the BPF filter over that run of rows (one native
 *             call) -> the queue check -> the records. Without --annotate they are encoded at once into
 *             one buffer and handed to the sink; with it, the matched frames' first 256 bytes (every
 *             header a later stage may rewrite in place, as NAT does) are set aside, and the records
 *             are encoded once the stages have decided, with the decision as the packet comment.
 *   outbound  for each touched port that is watched, its transmit queue as it stands just before
 *             transmit -> the filter over those rows -> the queue check -> encoded, `from web1` noted.
 *
 * The queue: a sink reports how many bytes it holds that are not written yet (a socket's or a file
 * stream's buffer). A frame that would push that past `maxQueueBytes` is not captured and counts as
 * capture-dropped (per interface, and in the pcapng statistics block at the end): the data plane never
 * waits for a writer.
 *
 * Interfaces: pcapng interface ids are given in order of first use (a network's ports at start, then
 * any port that joins), each with an Interface Description Block named after the port's label.
 */
import { TsnError } from '../errors.js';
import type { Batch } from '../dataplane/batch.js';
import type { L2Domain } from '../dataplane/l2-domain.js';
import { DESC_STRIDE, D_LEN, D_OFF, D_PORT } from '../dataplane/layout.js';
import type { Port } from '../dataplane/port.js';
import { MAX_PORTS } from '../dataplane/readiness-hub.js';
import { inboundDecision, outboundNote } from './annotation.js';
import { CaptureFilter } from './capture-filter.js';
import { ChunkRing } from './chunk-ring.js';
import { pcapGlobalHeader, pcapRecordSize, writePcapRecord } from './pcap-format.js';
import {
  DIR_INBOUND,
  DIR_OUTBOUND,
  enhancedPacketSize,
  interfaceDescriptionBlock,
  interfaceStatisticsBlock,
  sectionHeaderBlock,
  writeEnhancedPacket,
} from './pcapng-format.js';

export type CaptureFormatName = 'pcapng' | 'pcap';
export const CAPTURE_FORMATS: readonly CaptureFormatName[] = ['pcapng', 'pcap'];
export const MAX_SNAPLEN = 262144;
export const DEFAULT_MAX_QUEUE_BYTES = 16 << 20;
/** Bytes of each inbound frame set aside until the stages decide (annotate): every header a stage may rewrite. */
const STAGED_HEADER_BYTES = 256;

/** Where a capture's bytes go: an HTTP response, a file, memory. */
export interface CaptureSink {
  /**
   * Take a chunk. When `done` is given, the chunk's memory belongs to the capture's ring: call `done`
   * once it is written out (or copied), in order; until then it must not be reused.
   */
  write(chunk: Buffer, done?: () => void): void;
  /** Bytes accepted but not yet written out: the fill of the capture's queue. */
  queuedBytes(): number;
  end(): void;
}

export type CaptureTarget = { kind: 'domain'; domain: L2Domain } | { kind: 'port'; port: Port };

export interface CaptureOptions {
  target: CaptureTarget;
  format?: CaptureFormatName;
  /** Bytes kept of each frame, 1..262144 (default 262144: whole frames, GSO super-frames included). */
  snaplen?: number;
  /** Stop after this many frames written (0 or absent: no limit). */
  count?: number;
  /** tcpdump/pcap-filter syntax. */
  filter?: string;
  /** The switch's decision as each packet's comment (pcapng only). */
  annotate?: boolean;
  maxQueueBytes?: number;
  /** For if_description: who is behind a port. */
  describePort?: (port: Port) => string;
}

export type CaptureEndReason = 'count' | 'stopped' | 'target-gone' | 'sink-closed' | 'error';

export interface CaptureCounters {
  /** Frames the capture looked at on its ports (before the filter). */
  seen: number;
  /** Frames the filter accepted. */
  accepted: number;
  /** Frames written to the sink. */
  captured: number;
  /** Frames not captured because the writer was behind (capture-dropped). */
  dropped: number;
  bytes: number;
}

interface InterfaceState {
  port: Port;
  seen: number;
  accepted: number;
  dropped: number;
  delivered: number;
}

let nextSessionId = 1;

/** Validate capture options, naming the bad value and what is accepted. */
export function checkCaptureOptions(o: CaptureOptions): { format: CaptureFormatName; snaplen: number; count: number; annotate: boolean; maxQueueBytes: number } {
  const format = o.format ?? 'pcapng';
  if (!CAPTURE_FORMATS.includes(format)) throw new TsnError('ERR_BAD_OPTION', `capture format ${JSON.stringify(format)}: expected ${CAPTURE_FORMATS.join(' or ')}`);
  const snaplen = o.snaplen ?? MAX_SNAPLEN;
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_SNAPLEN) throw new TsnError('ERR_BAD_OPTION', `snaplen ${snaplen}: expected an integer from 1 to ${MAX_SNAPLEN}`);
  const count = o.count ?? 0;
  if (!Number.isInteger(count) || count < 0) throw new TsnError('ERR_BAD_OPTION', `count ${count}: expected a whole number (0: no limit)`);
  const annotate = o.annotate ?? false;
  if (annotate && format !== 'pcapng') throw new TsnError('ERR_BAD_OPTION', '--annotate needs the pcapng format: classic pcap has no packet comments');
  const maxQueueBytes = o.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
  if (!(maxQueueBytes > 0)) throw new TsnError('ERR_BAD_OPTION', `maxQueueBytes ${maxQueueBytes}: expected a positive number`);
  return { format, snaplen, count, annotate, maxQueueBytes };
}

export class CaptureSession {
  readonly id = `cap${nextSessionId++}`;
  readonly format: CaptureFormatName;
  readonly snaplen: number;
  readonly count: number;
  readonly annotate: boolean;
  readonly filter: CaptureFilter | null;
  readonly target: CaptureTarget;
  readonly counters: CaptureCounters = { seen: 0, accepted: 0, captured: 0, dropped: 0, bytes: 0 };
  ended: CaptureEndReason | null = null;
  private readonly maxQueueBytes: number;
  private readonly describePort: (port: Port) => string;
  /** 1 for each port id this capture watches. */
  private readonly watch = new Uint8Array(MAX_PORTS);
  private readonly ifIdByPortId = new Int32Array(MAX_PORTS).fill(-1);
  private readonly interfaces: InterfaceState[] = [];
  private readonly startMicros: number;
  private lastMicros: number;
  private readonly endListeners: ((reason: CaptureEndReason) => void)[] = [];
  // The records of the current step, structure of arrays, reused.
  private recCount = 0;
  private recIf: number[] = [];
  private recOff: number[] = [];
  private recCap: number[] = [];
  private recLen: number[] = [];
  private recRow: number[] = [];
  private recComment: (Buffer | null)[] = [];
  private pendingBytes = 0;
  // Inbound copies held until the stages decide (annotate only).
  private staging = Buffer.alloc(0);
  private stagedCount = 0;
  private readonly candidates: Int32Array;
  private readonly mask: Uint8Array;
  /** The queue's memory: encoded bursts live here until the writer is done with them. */
  private readonly ring: ChunkRing;
  private readonly releaseChunk = () => this.ring.release();
  /** A Buffer view of the frame pool, so frames are copied without a view per frame. */
  private poolView: Buffer | null = null;
  /** Annotations repeat: their UTF-8 bytes are made once. */
  private readonly commentBytes = new Map<string, Buffer>();

  constructor(
    opts: CaptureOptions,
    private readonly sink: CaptureSink,
    private readonly ports: readonly (Port | undefined)[],
    poolSlots: number,
    nowMicros: number,
  ) {
    const o = checkCaptureOptions(opts);
    this.format = o.format;
    this.snaplen = o.snaplen;
    this.count = o.count;
    this.annotate = o.annotate;
    this.maxQueueBytes = o.maxQueueBytes;
    this.ring = new ChunkRing(o.maxQueueBytes);
    this.target = opts.target;
    this.filter = opts.filter && opts.filter.trim() !== '' ? CaptureFilter.compile(opts.filter, o.snaplen) : null;
    this.describePort = opts.describePort ?? ((p) => `tsnet-switch port ${p.name}`);
    this.candidates = new Int32Array(poolSlots);
    this.mask = new Uint8Array(poolSlots);
    this.startMicros = this.lastMicros = nowMicros;
    this.sink.write(this.format === 'pcapng' ? sectionHeaderBlock() : pcapGlobalHeader(this.snaplen));
    this.refreshPorts();
    // A network's current ports are its interfaces 0..n-1, in join order, even before they send.
    if (this.format === 'pcapng') for (const p of this.watchedPorts()) this.interfaceOf(p.id);
  }

  onEnd(fn: (reason: CaptureEndReason) => void): void {
    this.endListeners.push(fn);
  }

  /** Ports watched now. */
  watchedPorts(): Port[] {
    const t = this.target;
    if (t.kind === 'port') return this.ports[t.port.id] === t.port ? [t.port] : [];
    return [...t.domain.ports];
  }

  /** Interface labels in pcapng id order. */
  interfaceNames(): string[] {
    return this.interfaces.map((i) => i.port.label);
  }

  /**
   * Re-read the watched ports (a port joined or left). A capture whose endpoint left, or whose network
   * is gone from the switch (`domains`, when given), ends.
   */
  refreshPorts(domains?: ReadonlyMap<string, L2Domain>): void {
    if (this.ended) return;
    const t = this.target;
    if (t.kind === 'domain' && domains && domains.get(t.domain.name) !== t.domain) {
      this.end('target-gone');
      return;
    }
    this.watch.fill(0);
    const list = this.watchedPorts();
    for (const p of list) if (p.id >= 0) this.watch[p.id] = 1;
    for (let id = 0; id < MAX_PORTS; id++) {
      const ifId = this.ifIdByPortId[id];
      if (ifId >= 0 && this.interfaces[ifId].port !== this.ports[id]) this.ifIdByPortId[id] = -1;
    }
    if (this.target.kind === 'port' && list.length === 0) this.end('target-gone');
  }

  private interfaceOf(portId: number): number {
    let ifId = this.ifIdByPortId[portId];
    if (ifId >= 0) return ifId;
    const port = this.ports[portId]!;
    ifId = this.interfaces.length;
    this.interfaces.push({ port, seen: 0, accepted: 0, dropped: 0, delivered: 0 });
    this.ifIdByPortId[portId] = ifId;
    if (this.format === 'pcapng') this.sink.write(interfaceDescriptionBlock(port.label, this.describePort(port), this.snaplen));
    return ifId;
  }

  /** Inbound capture point: rows 0..n-1 as received. */
  received(batch: Batch, n: number, nowMicros: number): void {
    if (this.ended) return;
    this.lastMicros = nowMicros;
    const desc = batch.pool.desc;
    const watch = this.watch;
    const cand = this.candidates;
    let c = 0;
    for (let row = 0; row < n; row++) if (watch[desc[row * DESC_STRIDE + D_PORT]] === 1) cand[c++] = row;
    this.stagedCount = 0;
    if (c === 0) return;
    this.select(batch, cand, c);
    if (this.recCount === 0) return;
    if (!this.annotate) {
      this.emit(this.viewOf(batch), DIR_INBOUND, nowMicros);
      return;
    }
    // Set the headers aside: stages may rewrite them (NAT) before we know the decision. Stages never
    // touch the bytes past the headers in place (encap writes into the headroom, decap moves the
    // start), so the rest is taken from the pool when the record is written.
    const need = this.recCount * STAGED_HEADER_BYTES;
    if (this.staging.length < need) this.staging = Buffer.allocUnsafe(need);
    const bytes = this.viewOf(batch);
    for (let i = 0; i < this.recCount; i++) {
      const src = this.recOff[i];
      const n = Math.min(this.recCap[i], STAGED_HEADER_BYTES);
      bytes.copy(this.staging, i * STAGED_HEADER_BYTES, src, src + n);
    }
    this.stagedCount = this.recCount;
  }

  /** Outbound capture point (and the inbound annotations): after the stages, before transmit. */
  decided(batch: Batch, touched: readonly Port[], nowMicros: number): void {
    if (this.ended) return;
    if (this.stagedCount > 0) {
      this.recCount = this.stagedCount;
      this.stagedCount = 0;
      for (let i = 0; i < this.recCount; i++) this.recComment[i] = this.comment(inboundDecision(batch, this.recRow[i]));
      this.emit(this.viewOf(batch), DIR_INBOUND, nowMicros, this.staging);
      if (this.ended) return;
    }
    this.recCount = 0;
    this.pendingBytes = 0;
    for (let k = 0; k < touched.length; k++) {
      const p = touched[k];
      if (p.id < 0 || this.watch[p.id] !== 1 || p.txCount === 0) continue;
      this.outPortId = p.id;
      this.select(batch, p.txQueue, p.txCount, true);
    }
    if (this.recCount > 0) {
      if (this.annotate) for (let i = 0; i < this.recCount; i++) this.recComment[i] = this.comment(outboundNote(batch, this.recRow[i]));
      this.emit(this.viewOf(batch), DIR_OUTBOUND, nowMicros);
    }
  }

  /**
   * Filter `rows[0..count)` and queue-check them into the record arrays (appending when `append`).
   * All rows here belong to watched ports.
   */
  private select(batch: Batch, rows: Int32Array, count: number, append = false): void {
    if (!append) {
      this.recCount = 0;
      this.pendingBytes = 0;
    }
    const desc = batch.pool.desc;
    const mask = this.mask;
    const filter = this.filter;
    if (filter !== null) filter.filterRows(batch.pool, rows, count, mask);
    const room = this.maxQueueBytes - Math.max(this.sink.queuedBytes(), this.ring.used);
    const limit = this.count > 0 ? this.count - this.counters.captured : Infinity;
    const pcapng = this.format === 'pcapng';
    const counters = this.counters;
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      // Outbound rows belong to the port they leave by, not their ingress port.
      const ifId = this.interfaceOf(append ? this.outPortId : desc[d + D_PORT]);
      const iface = this.interfaces[ifId];
      iface.seen++;
      counters.seen++;
      if (filter !== null && mask[i] === 0) continue;
      iface.accepted++;
      counters.accepted++;
      if (this.recCount >= limit) continue;
      const len = desc[d + D_LEN];
      if (len <= 0) continue;
      const cap = len < this.snaplen ? len : this.snaplen;
      const size = pcapng ? enhancedPacketSize(cap, 64) : pcapRecordSize(cap);
      if (this.pendingBytes + size > room) {
        iface.dropped++;
        counters.dropped++;
        continue;
      }
      const r = this.recCount++;
      this.recIf[r] = ifId;
      this.recOff[r] = desc[d + D_OFF];
      this.recCap[r] = cap;
      this.recLen[r] = len;
      this.recRow[r] = row;
      this.recComment[r] = null;
      this.pendingBytes += size;
    }
  }

  /** Port id the outbound rows being selected leave by (set per touched port). */
  private outPortId = -1;

  private viewOf(batch: Batch): Buffer {
    const pool = batch.pool;
    if (this.poolView === null || this.poolView.buffer !== pool.buffer) this.poolView = Buffer.from(pool.buffer);
    return this.poolView;
  }

  private comment(text: string): Buffer {
    let b = this.commentBytes.get(text);
    if (b === undefined) {
      if (this.commentBytes.size > 4096) this.commentBytes.clear();
      this.commentBytes.set(text, (b = Buffer.from(text, 'utf8')));
    }
    return b;
  }

  /**
   * Encode the current records from `src` into one chunk of the ring and hand it to the sink; with
   * `headers`, record i's first bytes come from its staged copy there (pcapng only).
   */
  private emit(src: Buffer, direction: number, nowMicros: number, headers: Buffer | null = null): void {
    const n = this.recCount;
    const pcapng = this.format === 'pcapng';
    let size = 0;
    for (let i = 0; i < n; i++) size += pcapng ? enhancedPacketSize(this.recCap[i], this.recComment[i]?.length ?? 0) : pcapRecordSize(this.recCap[i]);
    const at = this.ring.alloc(size);
    if (at < 0) {
      // No contiguous room left in the queue: these frames are dropped from the capture.
      for (let i = 0; i < n; i++) {
        this.interfaces[this.recIf[i]].dropped++;
        this.recComment[i] = null;
      }
      this.counters.dropped += n;
      this.recCount = 0;
      this.pendingBytes = 0;
      return;
    }
    const buf = this.ring.bytes.subarray(at, at + size);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const start = o;
      o = pcapng
        ? writeEnhancedPacket(buf, o, this.recIf[i], nowMicros, src, this.recOff[i], this.recCap[i], this.recLen[i], direction, this.recComment[i])
        : writePcapRecord(buf, o, nowMicros, src, this.recOff[i], this.recCap[i], this.recLen[i]);
      if (headers !== null) headers.copy(buf, start + 28, i * STAGED_HEADER_BYTES, i * STAGED_HEADER_BYTES + Math.min(this.recCap[i], STAGED_HEADER_BYTES));
      this.interfaces[this.recIf[i]].delivered++;
      this.recComment[i] = null;
    }
    this.counters.captured += n;
    this.counters.bytes += size;
    this.recCount = 0;
    this.pendingBytes = 0;
    this.sink.write(buf, this.releaseChunk);
    if (this.count > 0 && this.counters.captured >= this.count) this.end('count');
  }

  /** Stop: the statistics blocks (pcapng), then the end of the stream. Idempotent. */
  end(reason: CaptureEndReason): void {
    if (this.ended) return;
    this.ended = reason;
    if (reason !== 'sink-closed') {
      if (this.format === 'pcapng') {
        for (let ifId = 0; ifId < this.interfaces.length; ifId++) {
          const i = this.interfaces[ifId];
          this.sink.write(
            interfaceStatisticsBlock({
              ifId,
              startMicros: this.startMicros,
              endMicros: this.lastMicros,
              received: i.seen,
              filterAccepted: i.accepted,
              dropped: i.dropped,
              delivered: i.delivered,
            }),
          );
        }
      }
      this.sink.end();
    }
    for (const fn of this.endListeners) fn(reason);
  }

  /** Summary for the API and the CLI. */
  summary() {
    return {
      id: this.id,
      format: this.format,
      snaplen: this.snaplen,
      filter: this.filter?.expression ?? null,
      annotate: this.annotate,
      count: this.count,
      ended: this.ended,
      ...this.counters,
      interfaces: this.interfaces.map((i, ifId) => ({ ifId, name: i.port.label, seen: i.seen, accepted: i.accepted, captured: i.delivered, dropped: i.dropped })),
    };
  }
}
