import { describe, expect, it } from 'vitest';
import { deviceAlias, formatMarker, parseMarker } from '../../../src/control/device-marker.js';
import { expectTsnError } from '../../helpers/tsn-error.js';

describe('device marker (interface alias)', () => {
  it('formats and parses every role, owner paths with spaces included', () => {
    const gw = { owner: '/var/lib/tsnet switch', network: 'a1b2', role: 'gateway' as const };
    expect(formatMarker(gw)).toBe('tsnet-switch/1 owner=%2Fvar%2Flib%2Ftsnet%20switch net=a1b2 role=gateway');
    expect(parseMarker(formatMarker(gw))).toEqual(gw);
    const ep = { owner: '/s', network: 'n', role: 'endpoint' as const, endpoint: 'e9' };
    expect(parseMarker(formatMarker(ep))).toEqual(ep);
    expect(parseMarker(formatMarker({ owner: '/s', network: 'n', role: 'shim' }))).toEqual({ owner: '/s', network: 'n', role: 'shim' });
  });

  it('anything else is not a marker: never guessed', () => {
    for (const alias of ['', 'tsn-1234', 'tsnet-switch/2 owner=%2Fs net=n role=gateway', 'tsnet-switch/1 owner=%2Fs net=n role=router', 'tsnet-switch/1 owner=%2Fs net=n role=endpoint', 'tsnet-switch/1 net=n role=gateway', 'tsnet-switch/1 owner=%E0 net=n role=gateway']) {
      expect(parseMarker(alias), alias).toBeNull();
    }
  });

  it('refuses an owner too long for IFALIAS, and drivers without an owner mark nothing', () => {
    expectTsnError(() => formatMarker({ owner: `/${'x'.repeat(300)}`, network: 'n', role: 'gateway' }), 'ERR_STATE_DIR', 'use a shorter --state-dir');
    expect(deviceAlias(undefined, 'n', 'gateway')).toBeUndefined();
  });
});
