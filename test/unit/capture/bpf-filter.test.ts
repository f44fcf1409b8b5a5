/**
 * Capture filters compiled by libpcap in the addon: tcpdump syntax over hand-built frames, per frame and
 * over a run of pool rows in one call; libpcap's own message for a bad filter.
 */
import { describe, expect, it } from 'vitest';
import { CaptureFilter } from '../../../src/capture/capture-filter.js';
import { FramePool } from '../../../src/dataplane/frame-pool.js';
import { BROADCAST, ethFrame, tcpFrame } from '../../helpers/frames.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const http = tcpFrame({ dst: B, src: A, srcIp: '10.0.0.2', dstIp: '10.0.0.3', sport: 40000, dport: 80, payloadLen: 10 }).frame;
const ssh = tcpFrame({ dst: A, src: B, srcIp: '10.0.0.3', dstIp: '10.0.0.2', sport: 22, dport: 50000, payloadLen: 10 }).frame;
const arp = ethFrame(BROADCAST, A, 0x0806);
const big = tcpFrame({ dst: B, src: A, srcIp: '10.0.0.2', dstIp: '10.0.0.3', sport: 40000, dport: 80, payloadLen: 60000 }).frame; // a GSO super-frame

describe('capture filter', () => {
  it('matches tcpdump expressions against frames', () => {
    const cases: [string, boolean[]][] = [
      ['tcp port 80', [true, false, false, true]],
      ['tcp', [true, true, false, true]],
      ['arp', [false, false, true, false]],
      ['ether host 02:42:0a:00:00:03', [true, true, false, true]],
      ['ether src 02:42:0a:00:00:03', [false, true, false, false]],
      ['src host 10.0.0.2 and dst port 80', [true, false, false, true]],
      ['not port 22', [true, false, true, true]],
      ['ether broadcast', [false, false, true, false]],
      ['greater 1000', [false, false, false, true]],
      ['tcp[tcpflags] & tcp-push != 0', [true, true, false, true]],
    ];
    for (const [expr, want] of cases) {
      const f = CaptureFilter.compile(expr, 262144);
      expect([http, ssh, arp, big].map((x) => f.matches(x)), expr).toEqual(want);
    }
  });

  it('filters a run of pool rows in one call', () => {
    const pool = new FramePool(8);
    const frames = [http, ssh, arp, big, ssh, http];
    frames.forEach((f, i) => pool.load(i, f));
    const rows = Int32Array.from([5, 0, 1, 3]);
    const mask = new Uint8Array(rows.length);
    const f = CaptureFilter.compile('dst port 80', 65535);
    expect(f.filterRows(pool, rows, rows.length, mask)).toBe(3);
    expect([...mask]).toEqual([1, 1, 0, 1]);
    expect(f.filterRows(pool, rows, 0, mask)).toBe(0);
    pool.release();
  });

  it('says what libpcap says about a bad filter, and what is accepted', () => {
    expect(() => CaptureFilter.compile('tcp prt 80', 1500)).toThrow(/capture filter "tcp prt 80": can't parse filter expression: syntax error; expected tcpdump \(pcap-filter\) syntax/);
    expect(() => CaptureFilter.compile('port 99999', 1500)).toThrow(/port 99999.*illegal port number 99999/);
    expect(() => CaptureFilter.compile('ether host zz', 1500)).toThrow(/capture filter "ether host zz"/);
    try {
      CaptureFilter.compile('((', 1500);
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe('ERR_BAD_FILTER');
    }
  });
});
