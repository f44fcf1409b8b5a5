/** Clock offsets from record writes: the own writes' delay is taken off the peers' readings. */
import { describe, expect, it } from 'vitest';
import { ClusterClocks } from '../../../src/cluster/cluster-clocks.js';

describe('ClusterClocks', () => {
  it('subtracts the measured one-way delay, keeps the latest reading, forgets a host that left', () => {
    const c = new ClusterClocks('me');
    c.observe('peer', 10_000, 10_040); // before any own write: the delay counts as 0
    expect(c.offsetOf('peer')?.offsetMs).toBe(-40);
    c.observe('me', 20_000, 20_030); // own write seen 30 ms after it was made
    expect(c.selfDelayMs).toBe(30);
    c.observe('peer', 50_000, 20_035); // peer's clock says 50 s when ours says 20.035 s, less 30 ms transit
    expect(c.offsetOf('peer')).toEqual({ host: 'peer', offsetMs: 29_995, at: 20_035 });
    expect(c.offsetOf('me')).toBeUndefined();
    c.observe('peer', Number.NaN, 21_000); // a malformed clock changes nothing
    expect(c.offsetOf('peer')?.offsetMs).toBe(29_995);
    c.observe('other', 19_000, 20_000);
    expect(c.all().map((o) => o.host)).toEqual(['other', 'peer']);
    c.forget('peer');
    expect(c.all().map((o) => o.host)).toEqual(['other']);
  });
});
