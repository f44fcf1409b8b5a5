import { describe, expect, it } from 'vitest';
import {
  broadcast,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  cidrSize,
  firstHost,
  formatIpv4,
  isIpv4,
  lastHost,
  makeCidr,
  parseCidr,
  parseIpv4,
  prefixMask,
} from '../../../src/control/cidr.js';
import { TsnError } from '../../../src/errors.js';
import { expectTsnError } from '../../helpers/tsn-error.js';


const ip = (s: string) => parseIpv4(s);

describe('parseIpv4 / formatIpv4', () => {
  it('parses dotted quads into uint32 and formats them back', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('192.168.1.200')).toBe(0xc0a801c8);
    for (const s of ['0.0.0.0', '1.2.3.4', '172.17.0.1', '255.255.255.255', '128.0.0.0']) expect(formatIpv4(parseIpv4(s))).toBe(s);
    expect(isIpv4('10.0.0.1')).toBe(true);
    expect(isIpv4('10.0.0')).toBe(false);
  });

  it.each([
    ['300.1.1.1', 'part 300 is above 255'],
    ['10.0.0', 'it has 3 parts, expected 4'],
    ['1.2.3.4.5', 'it has 5 parts, expected 4'],
    ['', 'it is empty'],
    [' 10.0.0.1', 'whitespace'],
    ['10.0.0.1\n', 'whitespace'],
    ['010.0.0.1', "part '010' has a leading zero"],
    ['1.2.3.a', "part 'a' is not a decimal number"],
    ['1..2.3', 'empty part'],
    ['0x0a.0.0.1', "part '0x0a' is not a decimal number"],
    ['10.0.0.1/24', "part '1/24' is not a decimal number"],
  ])('refuses %j with ERR_BAD_IP (%s)', (text, why) => {
    const e = expectTsnError(() => parseIpv4(text), 'ERR_BAD_IP', JSON.stringify(text), why, 'expected a dotted quad');
    expect(e.status).toBe(400);
    expect(e.details).toEqual({ value: text });
  });

  it('names the value it was asked about', () => {
    expectTsnError(() => parseIpv4('10.0.0.256', 'gateway'), 'ERR_BAD_IP', 'gateway "10.0.0.256"', 'part 256 is above 255');
  });

  it('refuses non-strings coming from JSON', () => {
    expectTsnError(() => parseIpv4(42 as unknown as string), 'ERR_BAD_IP', 'not a string');
  });

  it('formatIpv4 refuses numbers that are not uint32', () => {
    expect(() => formatIpv4(-1)).toThrow(RangeError);
    expect(() => formatIpv4(2 ** 32)).toThrow(RangeError);
    expect(() => formatIpv4(1.5)).toThrow(RangeError);
  });
});

describe('parseCidr', () => {
  it('parses canonical blocks', () => {
    expect(parseCidr('10.0.0.0/24')).toEqual({ network: 0x0a000000, prefixLen: 24, text: '10.0.0.0/24' });
    expect(parseCidr('0.0.0.0/0')).toEqual({ network: 0, prefixLen: 0, text: '0.0.0.0/0' });
    expect(parseCidr('10.0.0.1/32')).toEqual({ network: 0x0a000001, prefixLen: 32, text: '10.0.0.1/32' });
    expect(parseCidr('172.16.0.0/12').network).toBe(ip('172.16.0.0'));
  });

  it.each([
    ['10.0.0.0/33', 'prefix length "33" is not a number 0..32'],
    ['10.0.0.0/-1', 'prefix length "-1"'],
    ['10.0.0.0/024', 'prefix length "024"'],
    ['10.0.0.0/', 'prefix length ""'],
    ['10.0.0.0/24/1', 'prefix length "24/1"'],
    ['10.0.0/24', 'address "10.0.0": it has 3 parts, expected 4'],
    ['300.1.1.1/8', 'address "300.1.1.1": part 300 is above 255'],
    ['10.0.0.0', 'the /PREFIX is missing'],
    ['', 'the /PREFIX is missing'],
  ])('refuses %j with ERR_BAD_CIDR (%s)', (text, why) => {
    const e = expectTsnError(() => parseCidr(text, { what: 'subnet' }), 'ERR_BAD_CIDR', `subnet ${JSON.stringify(text)}`, why, 'expected');
    expect(e.status).toBe(400);
  });

  it('refuses host bits and suggests the network', () => {
    const e = expectTsnError(() => parseCidr('10.0.0.1/24'), 'ERR_BAD_CIDR', '"10.0.0.1/24"', 'host bits are set', 'did you mean 10.0.0.0/24?');
    expect(e.details).toMatchObject({ value: '10.0.0.1/24', suggestion: '10.0.0.0/24' });
    expectTsnError(() => parseCidr('192.168.1.17/20'), 'ERR_BAD_CIDR', 'did you mean 192.168.0.0/20?');
  });

  it('accepts interface-style addresses when asked, clearing the host bits', () => {
    expect(parseCidr('192.168.1.17/24', { allowHostBits: true }).text).toBe('192.168.1.0/24');
    expect(parseCidr('10.1.2.3', { allowHostBits: true }).text).toBe('10.1.2.3/32');
    expectTsnError(() => parseCidr('10.1.2', { allowHostBits: true }), 'ERR_BAD_CIDR', 'the /PREFIX is missing');
  });
});

describe('block arithmetic', () => {
  it('masks, sizes, first/last host and broadcast', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    const c24 = parseCidr('10.0.0.0/24');
    expect(cidrSize(c24)).toBe(256);
    expect(formatIpv4(firstHost(c24))).toBe('10.0.0.1');
    expect(formatIpv4(lastHost(c24))).toBe('10.0.0.254');
    expect(formatIpv4(broadcast(c24))).toBe('10.0.0.255');
    const c30 = parseCidr('10.0.0.4/30');
    expect([cidrSize(c30), firstHost(c30), lastHost(c30), broadcast(c30)].map((n, i) => (i ? formatIpv4(n) : n))).toEqual([4, '10.0.0.5', '10.0.0.6', '10.0.0.7']);
    const c31 = parseCidr('10.0.0.0/31'); // RFC 3021: both addresses are hosts
    expect([formatIpv4(firstHost(c31)), formatIpv4(lastHost(c31))]).toEqual(['10.0.0.0', '10.0.0.1']);
    const c32 = parseCidr('10.0.0.9/32');
    expect([formatIpv4(firstHost(c32)), formatIpv4(lastHost(c32)), formatIpv4(broadcast(c32))]).toEqual(['10.0.0.9', '10.0.0.9', '10.0.0.9']);
    const all = parseCidr('0.0.0.0/0');
    expect(cidrSize(all)).toBe(2 ** 32);
    expect(broadcast(all)).toBe(0xffffffff);
    expect(makeCidr(ip('10.1.2.3'), 16).text).toBe('10.1.0.0/16');
  });

  it('contains', () => {
    const c = parseCidr('172.17.0.0/16');
    expect(cidrContains(c, ip('172.17.0.0'))).toBe(true);
    expect(cidrContains(c, ip('172.17.255.255'))).toBe(true);
    expect(cidrContains(c, ip('172.18.0.0'))).toBe(false);
    expect(cidrContains(c, ip('172.16.255.255'))).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), ip('255.255.255.255'))).toBe(true);
    expect(cidrContains(parseCidr('128.0.0.0/1'), ip('255.0.0.1'))).toBe(true);
    expect(cidrContainsCidr(c, parseCidr('172.17.3.0/24'))).toBe(true);
    expect(cidrContainsCidr(parseCidr('172.17.3.0/24'), c)).toBe(false);
  });

  it('overlaps in both directions, and not for disjoint or adjacent blocks', () => {
    const big = parseCidr('10.0.0.0/16');
    const small = parseCidr('10.0.5.0/24');
    expect(cidrOverlaps(big, small)).toBe(true);
    expect(cidrOverlaps(small, big)).toBe(true);
    expect(cidrOverlaps(big, big)).toBe(true);
    expect(cidrOverlaps(parseCidr('10.0.0.0/24'), parseCidr('10.0.1.0/24'))).toBe(false);
    expect(cidrOverlaps(parseCidr('10.0.0.0/25'), parseCidr('10.0.0.128/25'))).toBe(false);
    expect(cidrOverlaps(parseCidr('0.0.0.0/0'), small)).toBe(true);
  });
});
