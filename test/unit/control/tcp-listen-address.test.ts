/** `--metrics-listen HOST:PORT`: the forms accepted, and bad ones refused naming the value and the form. */
import { describe, expect, it } from 'vitest';
import { formatTcpListenAddress, parseTcpListenAddress } from '../../../src/control/tcp-listen-address.js';
import { expectTsnError } from '../../helpers/tsn-error.js';

describe('parseTcpListenAddress', () => {
  it('takes IPv4, [IPv6] and localhost with a port 0-65535', () => {
    expect(parseTcpListenAddress('127.0.0.1:9477', '--metrics-listen')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(parseTcpListenAddress('0.0.0.0:0', '--metrics-listen')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseTcpListenAddress('[::1]:65535', '--metrics-listen')).toEqual({ host: '::1', port: 65535 });
    expect(parseTcpListenAddress('localhost:9477', '--metrics-listen')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(formatTcpListenAddress({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatTcpListenAddress({ host: '10.0.0.1', port: 2 })).toBe('10.0.0.1:2');
  });

  it.each([
    ['9477', 'not HOST:PORT'],
    ['127.0.0.1', 'not HOST:PORT'],
    ['127.0.0.1:', 'not HOST:PORT'],
    [':9477', 'no host'],
    ['127.0.0.1:65536', 'port 65536 is over 65535'],
    ['127.0.0.1:-1', 'not HOST:PORT'],
    ['300.1.1.1:80', '"300.1.1.1" is not an IPv4 address'],
    ['example.org:80', '"example.org" is not an IPv4 address'],
    ['::1:80', 'not HOST:PORT'],
    ['[zz::1]:80', '"zz::1" is not an IPv6 address'],
  ])('refuses %s (%s)', (text, why) => {
    const e = expectTsnError(() => parseTcpListenAddress(text, '--metrics-listen'), 'ERR_BAD_OPTION');
    expect(e.message).toContain(`--metrics-listen ${JSON.stringify(text)}: ${why}`);
    expect(e.message).toContain('expected HOST:PORT');
  });
});
