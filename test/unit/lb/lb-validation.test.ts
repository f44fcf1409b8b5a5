/**
 * ADDRESS[:PORT] as the load balancer's control plane takes it, both families (ipvsadm's forms:
 * IPv6 in brackets when a port follows), and the refusals, each naming the value and the forms accepted.
 */
import { describe, expect, it } from 'vitest';
import { parseAddrPort, serviceName } from '../../../src/control/lb-validation.js';

describe('parseAddrPort', () => {
  it('takes [IPv6]:PORT for a service, canonicalizing the address', () => {
    const a = parseAddrPort('[FD00:1:0:0::0100]:80', 'service', true);
    expect(a.family).toBe(6);
    expect(a.text).toBe('fd00:1::100');
    expect(a.port).toBe(80);
    expect(Array.from(a.ip as Uint8Array).slice(0, 4)).toEqual([0xfd, 0, 0, 1]);
    expect(serviceName('tcp', a.text, 80)).toBe('TCP [fd00:1::100]:80');
  });

  it('takes a real server as [IPv6]:PORT, [IPv6] or bare IPv6 (no port then: fd00::1:80 is an address)', () => {
    expect(parseAddrPort('[fd00:1::10]:8080', 'real server', false)).toMatchObject({ text: 'fd00:1::10', port: 8080, family: 6 });
    expect(parseAddrPort('[fd00:1::10]', 'real server', false)).toMatchObject({ text: 'fd00:1::10', port: null });
    expect(parseAddrPort('fd00:1::10:80', 'real server', false)).toMatchObject({ text: 'fd00:1::10:80', port: null });
    expect(parseAddrPort('10.1.0.10', 'real server', false)).toMatchObject({ ip: 0x0a01000a, family: 4, port: null });
  });

  it('refuses bare IPv6 where a port is needed, bad IPv6, bad ports, with the accepted forms', () => {
    expect(() => parseAddrPort('fd00:1::100', 'service', true)).toThrow(/service "fd00:1::100": expected .*\[fd00:1::100\]:80 \(the address: an IPv6 address with a port goes in brackets\)/);
    expect(() => parseAddrPort('[fd00:1::g]:80', 'service', true)).toThrow(/service "\[fd00:1::g\]:80".*not an IPv6 address/);
    expect(() => parseAddrPort('[fd00:1::100]:0', 'service', true)).toThrow(/port 1-65535/);
    expect(() => parseAddrPort('[fd00:1::100]', 'service', true)).toThrow(/expected an address and a port/);
    expect(() => parseAddrPort('[fd00:1::100]:80x', 'service', true)).toThrow(/it is not \[IPv6\]:PORT/);
  });
});
