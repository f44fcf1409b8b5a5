import { describe, expect, it } from 'vitest';
import { BROADCAST_MAC, formatMac, isMulticastMac, parseMac, readMac, writeMac } from '../../../src/packet/mac.js';
import { ARP_REQUEST, MLDV2_REPORT, hex, toHex } from './frames.js';

describe('MAC addresses as 48-bit numbers', () => {
  it('reads the addresses of a captured frame in wire order', () => {
    expect(readMac(ARP_REQUEST, 0)).toBe(0xffffffffffff);
    expect(readMac(ARP_REQUEST, 6)).toBe(0x0242ac110002);
    expect(readMac(MLDV2_REPORT, 0)).toBe(0x333300000016);
    // Odd offsets inside a larger buffer.
    expect(readMac(hex('00 0242ac110002 00'), 1)).toBe(0x0242ac110002);
  });

  it('is exact for addresses with the top bits set', () => {
    expect(readMac(hex('fffffffffffe'), 0)).toBe(0xfffffffffffe);
    expect(readMac(hex('800000000001'), 0)).toBe(0x800000000001);
    expect(readMac(hex('0000ffffffff'), 0)).toBe(0xffffffff);
    expect(readMac(hex('000100000000'), 0)).toBe(0x100000000);
  });

  it('writes the same bytes it reads, touching only its 6 bytes', () => {
    for (const text of ['02:42:ac:11:00:02', 'ff:ff:ff:ff:ff:fe', '80:00:00:00:00:01', '00:00:ff:ff:ff:ff', '00:01:00:00:00:00']) {
      const buf = new Uint8Array(8).fill(0xaa);
      writeMac(buf, 1, parseMac(text));
      expect(toHex(buf)).toBe(`aa${text.replace(/:/g, '')}aa`);
      expect(readMac(buf, 1)).toBe(parseMac(text));
    }
  });

  it('formats lowercase with zero padding', () => {
    expect(formatMac(0x0242ac110002)).toBe('02:42:ac:11:00:02');
    expect(formatMac(BROADCAST_MAC)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMac(0)).toBe('00:00:00:00:00:00');
    expect(formatMac(0xabcdef012345)).toBe('ab:cd:ef:01:23:45');
  });

  it('parses either case and round-trips through formatMac', () => {
    expect(parseMac('02:42:AC:11:00:02')).toBe(0x0242ac110002);
    expect(parseMac('ff:ff:ff:ff:ff:ff')).toBe(BROADCAST_MAC);
    expect(formatMac(parseMac('Ab:Cd:eF:01:23:45'))).toBe('ab:cd:ef:01:23:45');
  });

  it.each([
    ['', 'empty'],
    ['02:42:ac:11:00', 'five bytes'],
    ['02:42:ac:11:00:02:03', 'seven bytes'],
    ['02-42-ac-11-00-02', 'dashes'],
    ['0242.ac11.0002', 'Cisco dots'],
    ['2:42:ac:11:0:2', 'single digits'],
    ['02:42:ac:11:00:0g', 'not hex'],
    [' 02:42:ac:11:00:02', 'leading space'],
  ])('rejects %j (%s) with an error naming the value and the form', (text) => {
    expect(() => parseMac(text)).toThrow(`invalid MAC address ${JSON.stringify(text)}`);
    expect(() => parseMac(text)).toThrow('six two-digit hex bytes separated by colons, like 02:42:ac:11:00:02');
  });

  it('tells group addresses by the I/G bit', () => {
    expect(BROADCAST_MAC).toBe(0xffffffffffff);
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(parseMac('01:00:5e:00:00:fb'))).toBe(true); // IPv4 multicast
    expect(isMulticastMac(parseMac('33:33:00:00:00:16'))).toBe(true); // IPv6 multicast
    expect(isMulticastMac(parseMac('01:80:c2:00:00:00'))).toBe(true); // STP
    expect(isMulticastMac(parseMac('02:42:ac:11:00:02'))).toBe(false); // locally administered unicast
    expect(isMulticastMac(parseMac('00:00:00:00:00:00'))).toBe(false);
    expect(isMulticastMac(parseMac('fe:ff:ff:ff:ff:ff'))).toBe(false); // every bit but I/G
  });
});
