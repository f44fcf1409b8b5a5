/** One reading of the transmit counters every port kind writes (native/src/tx_status.h). */
import { describe, expect, it } from 'vitest';
import { TXS_COUNT, TXS_DROP_BAD_GSO, TXS_DROP_DOWN, TXS_DROP_ERR, TXS_DROP_FULL, TXS_DROP_TOO_BIG, TXS_GSO_PARTIAL, TXS_SEGMENTS, TXS_SEGS_LOST, TXS_SENT, native, PST_COUNT, VST_COUNT } from '../../../src/native/addon.js';
import { PortCounters } from '../../../src/dataplane/counters.js';
import { DROP } from '../../../src/dataplane/drop-reasons.js';
import { countTransmitStatus } from '../../../src/dataplane/ports/transmit-status.js';

describe('transmit status', () => {
  it('turns each counter into its drop reason and segments, the same for every port kind', () => {
    const st = new Int32Array(TXS_COUNT);
    st[TXS_SENT] = 9;
    st[TXS_SEGMENTS] = 44;
    st[TXS_DROP_FULL] = 1;
    st[TXS_DROP_DOWN] = 2;
    st[TXS_DROP_TOO_BIG] = 3;
    st[TXS_DROP_ERR] = 4;
    st[TXS_DROP_BAD_GSO] = 5;
    st[TXS_GSO_PARTIAL] = 6;
    st[TXS_SEGS_LOST] = 7;
    const c = new PortCounters();
    countTransmitStatus(c, st);
    expect(c.txSegments).toBe(44);
    expect(c.txSegmentsLost).toBe(7);
    const drops = { 'tx-queue-full': 1, 'uplink-down': 2, 'overlay-mtu-exceeded': 3, 'tx-error': 4, 'bad-gso': 5, 'tx-gso-partial': 6 } as const;
    for (const [reason, n] of Object.entries(drops)) expect(c.drops[DROP[reason as keyof typeof drops]], reason).toBe(n);
    expect(c.txPackets).toBe(0); // what counts as sent stays the port's
  });

  it('the addon agrees on the layout: the transmit block first, each kind\'s receive counters after it', () => {
    const l = native().layout;
    expect(l.TX_STATUS_COUNT).toBe(TXS_COUNT);
    expect(l.PACKET_STATUS_COUNT).toBe(PST_COUNT);
    expect(PST_COUNT).toBeGreaterThan(TXS_COUNT);
    expect(VST_COUNT).toBeGreaterThan(TXS_COUNT);
  });
});
