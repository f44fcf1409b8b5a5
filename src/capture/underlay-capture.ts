/**
 * UnderlayCapture: `capture --underlay NETWORK`, the overlay's outside: the VXLAN or WireGuard datagrams
 * between this host's VTEP and its peers, as the kernel sends and receives them on the interface that
 * holds the VTEP address (libpcap, both directions: native/src/pcap_live.c). The frames do not cross
 * the switch, so this is not a CaptureSession over ports; it writes the same pcapng stream (SHB, one
 * IDB, EPBs, an ISB at the end) to the same sinks.
 *
 * With `--write-secrets` (an encrypted overlay; SENSITIVE, opt in): the stream carries the WireGuard
 * key log as pcapng Decryption Secrets Blocks, so Wireshark and tshark decrypt the capture, VXLAN and
 * inner frames included, with no setting of their own. At the start: this host's static private key
 * (initiations from peers), then a new handshake with every peer, so every session in the capture has
 * its handshake in it; later handshakes (a rekey every 2 minutes, a peer's) each add a DSB. The WireGuard
 * underlay hands the entry over before its handshake message leaves (WireguardUnderlay.onSecret), so
 * the DSB always comes before the packets it opens, which is what Wireshark's one pass needs.
 */
import { native, type PcapLiveHandle } from '../native/addon.js';
import type { CaptureSink } from './capture-session.js';
import { interfaceDescriptionBlock, interfaceStatisticsBlock, sectionHeaderBlock, enhancedPacketSize, writeEnhancedPacket } from './pcapng-format.js';
import { decryptionSecretsBlock, SECRETS_WIREGUARD_KEYLOG } from './secrets-injection.js';

/** How often the capture is read (ms): a capture tool, where a few ms of latency cost nothing. */
const POLL_MS = 5;
const READ_BUFFER = 4 << 20;
/** Past this many bytes queued in the sink (a slow reader), packets are dropped and counted. */
const MAX_QUEUED = 16 << 20;

/** Where the secrets come from: the network's WireGuard underlay. */
export interface UnderlaySecrets {
  staticSecret(): string;
  onSecret(listener: (entry: string) => void): () => void;
  rehandshakeAll(why: string): unknown;
}

export interface UnderlayCaptureOptions {
  /** The capture's id (DELETE /v1/captures/ID), known to the sink before the first block. */
  id: string;
  /** The interface holding the VTEP address, in the daemon's host namespace. */
  ifname: string;
  /** libpcap filter (what the service built: the VTEP's UDP port, and the user's filter). */
  filter: string;
  snaplen: number;
  count?: number;
  /** "underlay of network ov (198.18.0.1, WireGuard udp/51820)": the IDB's description. */
  description: string;
  secrets?: UnderlaySecrets;
}

export type UnderlayEndReason = 'count' | 'stopped' | 'sink-closed' | 'error';

export class UnderlayCapture {
  readonly id: string;
  readonly format = 'pcapng' as const;
  readonly started = Date.now();
  readonly counters = { captured: 0, dropped: 0, secrets: 0 };
  ended = false;
  /** end() is running: its last poll may reach the count and call end() again. */
  private ending = false;
  private endReason: UnderlayEndReason | null = null;
  private readonly handle: PcapLiveHandle;
  private readonly timer: NodeJS.Timeout;
  private readonly buf = Buffer.alloc(READ_BUFFER);
  private readonly unsubscribe: () => void = () => undefined;
  private readonly endListeners: ((reason: UnderlayEndReason) => void)[] = [];

  /** Opens the capture (throws ERR_PCAP / ERR_BAD_FILTER before anything is written), then starts writing. */
  constructor(
    private readonly opts: UnderlayCaptureOptions,
    private readonly sink: CaptureSink,
  ) {
    this.id = opts.id;
    this.handle = native().pcapLiveOpen(opts.ifname, opts.snaplen, opts.filter);
    sink.write(sectionHeaderBlock());
    sink.write(interfaceDescriptionBlock(opts.ifname, opts.description, opts.snaplen));
    const s = opts.secrets;
    if (s) {
      this.writeSecret(s.staticSecret());
      this.unsubscribe = s.onSecret((entry) => this.writeSecret(entry));
    }
    this.timer = setInterval(() => this.poll(), POLL_MS);
    try {
      // After the subscription: the new handshakes' entries reach the stream before their messages leave.
      if (s) s.rehandshakeAll('capture --write-secrets');
    } catch (err) {
      this.end('error'); // nothing left open: the handle, the timer, the listener
      throw err;
    }
  }

  private writeSecret(entry: string): void {
    if (this.ended) return;
    this.sink.write(decryptionSecretsBlock(SECRETS_WIREGUARD_KEYLOG, Buffer.from(entry)));
    this.counters.secrets++;
  }

  private poll(): void {
    if (this.ended) return;
    let n: number;
    try {
      n = native().pcapLiveRead(this.handle, this.buf);
    } catch {
      this.end('error');
      return;
    }
    if (n === 0) return;
    const blocks: Buffer[] = [];
    for (let off = 0; off < n; ) {
      const sec = this.buf.readUInt32LE(off);
      const usec = this.buf.readUInt32LE(off + 4);
      const caplen = this.buf.readUInt32LE(off + 8);
      const len = this.buf.readUInt32LE(off + 12);
      const data = off + 16;
      off = data + ((caplen + 3) & ~3);
      if (this.sink.queuedBytes() > MAX_QUEUED) {
        this.counters.dropped++;
        continue;
      }
      const b = Buffer.alloc(enhancedPacketSize(caplen, 0));
      writeEnhancedPacket(b, 0, 0, sec * 1e6 + usec, this.buf, data, caplen, len, 0, null);
      blocks.push(b);
      this.counters.captured++;
      if (this.opts.count !== undefined && this.counters.captured >= this.opts.count) break;
    }
    if (blocks.length) this.sink.write(Buffer.concat(blocks));
    if (this.opts.count !== undefined && this.counters.captured >= this.opts.count) this.end('count');
  }

  onEnd(f: (reason: UnderlayEndReason) => void): void {
    if (this.endReason !== null) f(this.endReason);
    else this.endListeners.push(f);
  }

  end(reason: UnderlayEndReason): void {
    if (this.ended || this.ending) return;
    this.ending = true;
    if (reason !== 'error' && reason !== 'sink-closed') this.poll(); // what is waiting in the ring still goes out
    this.ended = true;
    this.endReason = reason;
    clearInterval(this.timer);
    this.unsubscribe();
    let stats = { received: 0, dropped: 0, ifDropped: 0 };
    try {
      stats = native().pcapLiveStats(this.handle);
    } catch {
      /* closed already */
    }
    native().pcapLiveClose(this.handle);
    if (reason !== 'sink-closed') {
      this.sink.write(
        interfaceStatisticsBlock({ ifId: 0, startMicros: this.started * 1000, endMicros: Date.now() * 1000, received: stats.received, filterAccepted: stats.received, dropped: stats.dropped + stats.ifDropped + this.counters.dropped, delivered: this.counters.captured }),
      );
      this.sink.end();
    }
    for (const f of this.endListeners.splice(0)) f(reason);
  }

  summary() {
    return { id: this.id, target: `underlay ${this.opts.ifname}`, format: this.format, captured: this.counters.captured, dropped: this.counters.dropped, secrets: this.counters.secrets, ended: this.ended, reason: this.endReason };
  }
}
