import { describe, expect, it } from 'vitest';
import { humanRate, portRates, sortRates, type PortCounters } from '../../../src/control/render/port-rates.js';

const row = (port: string, rx: number, tx: number, drops: Record<string, number> = {}): PortCounters => ({ network: 'n', port, rxPackets: rx, rxBytes: rx * 100, txPackets: tx, txBytes: tx * 100, drops });

describe('top rates', () => {
  it('divides the difference by the interval, bits from bytes, drops by reason that moved', () => {
    const [r] = portRates([row('a', 100, 50, { runt: 4, 'same-port': 9 })], [row('a', 300, 150, { runt: 10, 'same-port': 9 })], 2);
    expect(r).toEqual({ network: 'n', port: 'a', rxPps: 100, txPps: 50, rxBps: 100 * 100 * 8, txBps: 50 * 100 * 8, dropsPs: 3, dropReasons: { runt: 3 } });
  });

  it('counts a new port from zero and a reset counter from zero, never negative', () => {
    const rates = portRates([row('a', 1000, 1000)], [row('a', 10, 20), row('b', 40, 0)], 1);
    expect(rates.map((r) => [r.port, r.rxPps, r.txPps])).toEqual([['a', 10, 20], ['b', 40, 0]]);
  });

  it('sorts busiest first by the chosen key, then by name', () => {
    const rates = portRates([], [row('b', 5, 9), row('a', 5, 1), row('c', 7, 0, { runt: 2 })], 1);
    expect(sortRates(rates, 'rx').map((r) => r.port)).toEqual(['c', 'a', 'b']);
    expect(sortRates(rates, 'tx').map((r) => r.port)).toEqual(['b', 'a', 'c']);
    expect(sortRates(rates, 'drops').map((r) => r.port)).toEqual(['c', 'a', 'b']);
    expect(sortRates(rates, 'name').map((r) => r.port)).toEqual(['a', 'b', 'c']);
  });

  it('prints rates as iftop does', () => {
    expect([humanRate(0, ''), humanRate(2.5, ''), humanRate(950, 'b'), humanRate(1234567, 'b'), humanRate(9.87e9, 'b')]).toEqual(['0', '2.5', '950b', '1.23Mb', '9.87Gb']);
  });
});
