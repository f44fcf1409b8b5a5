/**
 * The one reading of a send's transmit counters (native/src/tx_status.h), which TAP ports, AF_PACKET
 * uplinks and VTEP sockets all write at the head of their status vectors: drops by reason and
 * segments, added to the port's counters. What counts as a packet sent stays the port's (frames for
 * TAP and AF_PACKET, inner frames for a VXLAN port whose socket counts datagrams).
 */
import { TXS_DROP_BAD_GSO, TXS_DROP_DOWN, TXS_DROP_ERR, TXS_DROP_FULL, TXS_DROP_TOO_BIG, TXS_GSO_PARTIAL, TXS_SEGMENTS, TXS_SEGS_LOST } from '../../native/addon.js';
import type { PortCounters } from '../counters.js';
import { DROP } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import { DESC_STRIDE, D_LEN } from '../layout.js';

/**
 * One frame-per-frame transmit burst (a TAP's writev burst, an AF_PACKET sendmmsg): the first `count`
 * rows go to the pool's transmit index, `send` makes the one native call and returns how many frames
 * left, and the status vector it wrote is counted. Returns that number.
 */
export function sendFrames(c: PortCounters, pool: FramePool, rows: Int32Array, count: number, status: Int32Array, send: (count: number) => number): number {
  const desc = pool.desc;
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += desc[rows[i] * DESC_STRIDE + D_LEN];
  pool.txIdx.set(count === rows.length ? rows : rows.subarray(0, count), 0);
  const sent = send(count);
  c.txPackets += sent;
  // Bytes are exact when everything left; on a partial failure the average is a fair estimate.
  c.txBytes += sent === count ? bytes : Math.round((bytes * sent) / Math.max(count, 1));
  countTransmitStatus(c, status);
  return sent;
}

export function countTransmitStatus(c: PortCounters, st: Int32Array): void {
  c.txSegments += st[TXS_SEGMENTS];
  if (st[TXS_DROP_FULL]) c.drops[DROP['tx-queue-full']] += st[TXS_DROP_FULL];
  if (st[TXS_DROP_DOWN]) c.drops[DROP['uplink-down']] += st[TXS_DROP_DOWN];
  if (st[TXS_DROP_TOO_BIG]) c.drops[DROP['overlay-mtu-exceeded']] += st[TXS_DROP_TOO_BIG];
  if (st[TXS_DROP_ERR]) c.drops[DROP['tx-error']] += st[TXS_DROP_ERR];
  if (st[TXS_DROP_BAD_GSO]) c.drops[DROP['bad-gso']] += st[TXS_DROP_BAD_GSO];
  // A super-frame cut short by a failed send: the frame counts as a drop of its own reason, its
  // segments that left are in txSegments, those that did not in txSegmentsLost.
  if (st[TXS_GSO_PARTIAL]) {
    c.drops[DROP['tx-gso-partial']] += st[TXS_GSO_PARTIAL];
    c.txSegmentsLost += st[TXS_SEGS_LOST];
  }
}
