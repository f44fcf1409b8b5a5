/**
 * CaptureFilter: a tcpdump/pcap-filter expression (`tcp port 80`, `icmp or arp`, `ether host
 * 02:42:0a:00:00:02`) compiled once by libpcap's own compiler in the addon (native/src/bpf.c) and run
 * by libpcap's BPF interpreter, per burst over a run of pool rows (one native call), or per frame.
 * A filter libpcap refuses is a TsnError ERR_BAD_FILTER carrying libpcap's message.
 */
import { TsnError } from '../errors.js';
import type { FramePool } from '../dataplane/frame-pool.js';
import { native, type BpfProgram } from '../native/addon.js';

export const FILTER_EXAMPLES = '"tcp port 80", "icmp or arp", "ether host 02:42:0a:00:00:02", "not port 22"';

export class CaptureFilter {
  private constructor(
    readonly expression: string,
    private readonly program: BpfProgram,
  ) {}

  /** Compile `expression` for Ethernet frames captured at `snaplen`; throws ERR_BAD_FILTER. */
  static compile(expression: string, snaplen: number): CaptureFilter {
    let program: BpfProgram;
    try {
      program = native().bpfCompile(expression, snaplen);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_BAD_FILTER') {
        throw new TsnError('ERR_BAD_FILTER', `capture filter ${JSON.stringify(expression)}: ${e.message}; expected tcpdump (pcap-filter) syntax, e.g. ${FILTER_EXAMPLES}`, { filter: expression });
      }
      throw err;
    }
    return new CaptureFilter(expression, program);
  }

  /** Whether one frame matches. */
  matches(frame: Uint8Array): boolean {
    return native().bpfMatch(this.program, frame);
  }

  /** mask[i] = 1 for each of rows[0..count) whose frame matches; returns how many matched. */
  filterRows(pool: FramePool, rows: Int32Array, count: number, mask: Uint8Array): number {
    return native().bpfFilterRows(this.program, pool.nativeHandle(), rows, count, mask);
  }
}
