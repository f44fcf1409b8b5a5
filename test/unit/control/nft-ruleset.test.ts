/** The NAT table's text and its owner marker (the comment reconcile reads back). */
import { describe, expect, it } from 'vitest';
import { markerNamesOwner, natRuleset, natTableMarker, parseNatTableMarker } from '../../../src/control/nat/nft-ruleset.js';
import type { DaemonState } from '../../../src/control/model.js';

const net = (name: string, masquerade: boolean) =>
  ({ id: `id-${name}`, name, driver: 'bridge', gateway: { ifname: `gw-${name}` }, ipam: { subnet: '10.1.0.0/24' }, options: { masquerade } }) as unknown as DaemonState['networks'][number];

describe('nft ruleset', () => {
  it('names its owner in the table comment, and only when there are rules', () => {
    const withRules = natRuleset({ networks: [net('a', true)], endpoints: [] }, '/var/lib/tsnet-switch');
    expect(withRules.rules).toBe(1);
    expect(withRules.text).toContain('  comment "tsnet-switch/1 owner=%2Fvar%2Flib%2Ftsnet-switch"\n');
    const none = natRuleset({ networks: [net('a', false)], endpoints: [] }, '/var/lib/tsnet-switch');
    expect(none.rules).toBe(0);
    expect(none.text).not.toContain('comment');
  });

  it('reads back the owner it wrote; a path too long for nft (128 bytes) is named by a hash', () => {
    const short = '/tmp/tsnet-test-x"y/state';
    const m = parseNatTableMarker(natTableMarker(short));
    expect(m).toEqual({ owner: short });
    expect(natTableMarker(short)).not.toContain('"'); // a quote would end nft's string
    const long = `/tmp/${'d'.repeat(150)}/state`;
    const text = natTableMarker(long);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(128);
    const h = parseNatTableMarker(text)!;
    expect('ownerHash' in h).toBe(true);
    expect(markerNamesOwner(h, long)).toBe(true);
    expect(markerNamesOwner(h, `${long}2`)).toBe(false);
    expect(markerNamesOwner(m!, short)).toBe(true);
    expect(parseNatTableMarker('made by hand')).toBeNull();
    expect(parseNatTableMarker('tsnet-switch/1 owner=%E0%A4%A')).toBeNull();
  });
});
