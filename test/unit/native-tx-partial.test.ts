// native-tx-partial: txBurst (native/src/burst.c) segmenting a GSO super-frame for a descriptor that
// cannot take GSO, when a write fails half-way (issue 19, item 5). The descriptor is a FIFO holding
// 64 KiB: 64 segments of 1054 bytes do not all fit, so the kernel takes the first ones and refuses the
// rest with EAGAIN. What left is counted in TXS_SEGMENTS, what did not in TXS_SEGS_LOST, the frame once
// as cut short (TXS_GSO_PARTIAL), not as a dropped frame; the bytes read back from the FIFO agree.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FramePool } from '../../src/dataplane/frame-pool.js';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../src/dataplane/layout.js';
import { native, TXS_DROP_ERR, TXS_DROP_FULL, TXS_GSO_PARTIAL, TXS_SEGMENTS, TXS_SEGS_LOST, TXS_SENT } from '../../src/native/addon.js';
import { tcpFrame } from '../helpers/frames.js';

describe('txBurst: a super-frame whose segmentation stops half-way', () => {
  it('counts the segments that left and those that did not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsn-txp-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const pool = new FramePool(4);
    try {
      const mss = 1000;
      const sf = tcpFrame({ dst: 0x020000000002, src: 0x020000000001, srcIp: '10.30.0.1', dstIp: '10.30.0.2', sport: 1, dport: 2, payloadLen: 64 * mss, partialCsum: true });
      pool.load(0, sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: mss, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
      pool.txIdx[0] = 0;
      const sent = native().txBurst(pool.nativeHandle(), fd, 0, 0, 1);
      const st = pool.status;
      let bytes = 0;
      const buf = Buffer.alloc(1 << 17);
      for (;;) {
        try {
          const n = readSync(fd, buf);
          if (n <= 0) break;
          bytes += n;
        } catch {
          break; // EAGAIN: the FIFO is empty
        }
      }
      expect(sent).toBe(0);
      expect(st[TXS_SENT]).toBe(0);
      expect(st[TXS_GSO_PARTIAL]).toBe(1);
      expect(st[TXS_SEGMENTS]).toBeGreaterThan(0);
      expect(st[TXS_SEGMENTS] + st[TXS_SEGS_LOST]).toBe(64);
      expect(st[TXS_SEGS_LOST]).toBeGreaterThan(0);
      expect(st[TXS_DROP_FULL] + st[TXS_DROP_ERR]).toBe(0); // not counted as a wholly dropped frame
      expect(bytes).toBe(st[TXS_SEGMENTS] * (54 + mss)); // exactly the segments said to have left
    } finally {
      pool.release();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
