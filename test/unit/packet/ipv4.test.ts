import { describe, expect, it } from 'vitest';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../../src/packet/constants.js';
import { IPV4_FLAG_DF, IPV4_FLAG_MF, Ipv4View, emitIpv4, formatIpv4, parseIpv4 } from '../../../src/packet/ipv4.js';
import { DNS_QUERY, ICMP_ECHO, IPV4_OPTIONS_UDP, TCP_SYN_V4, copy, hex, inPool, toHex } from './frames.js';

const IP = 14;

describe('Ipv4View: reading known headers', () => {
  it('reads every field of a captured TCP SYN', () => {
    const ip = new Ipv4View();
    expect(ip.bind(TCP_SYN_V4, IP, TCP_SYN_V4.length - IP)).toBe('ok');
    expect(ip.version).toBe(4);
    expect(ip.headerLength).toBe(20);
    expect(ip.tos).toBe(0);
    expect(ip.dscp).toBe(0);
    expect(ip.ecn).toBe(0);
    expect(ip.totalLength).toBe(60);
    expect(ip.identification).toBe(13025);
    expect(ip.flagsAndFragment).toBe(IPV4_FLAG_DF);
    expect(ip.dontFragment).toBe(true);
    expect(ip.moreFragments).toBe(false);
    expect(ip.fragmentOffset).toBe(0);
    expect(ip.isFragment).toBe(false);
    expect(ip.ttl).toBe(64);
    expect(ip.protocol).toBe(IPPROTO_TCP);
    expect(ip.checksum).toBe(0xafb5);
    expect(ip.src).toBe(0xac110002);
    expect(ip.dst).toBe(0xac110001);
    expect(formatIpv4(ip.src)).toBe('172.17.0.2');
    expect(ip.optionsOffset).toBe(IP + 20);
    expect(ip.optionsLength).toBe(0);
    expect(ip.payloadOffset).toBe(IP + 20);
    expect(ip.payloadLength).toBe(40);
    expect(ip.verifyChecksum()).toBe(true);
    expect(ip.computeChecksum()).toBe(0xafb5);
  });

  it('reads a header with options (IHL 6, router alert)', () => {
    const ip = new Ipv4View();
    expect(ip.bind(IPV4_OPTIONS_UDP, IP, IPV4_OPTIONS_UDP.length - IP)).toBe('ok');
    expect(ip.headerLength).toBe(24);
    expect(ip.optionsOffset).toBe(IP + 20);
    expect(ip.optionsLength).toBe(4);
    expect(toHex(IPV4_OPTIONS_UDP, ip.optionsOffset, ip.optionsLength)).toBe('94040000');
    expect(ip.payloadOffset).toBe(IP + 24);
    expect(ip.payloadLength).toBe(13);
    expect(ip.protocol).toBe(IPPROTO_UDP);
    expect(ip.checksum).toBe(0xd7f6);
    expect(ip.verifyChecksum()).toBe(true);
    expect(ip.computeChecksum()).toBe(0xd7f6);
  });

  it('excludes Ethernet padding from the payload', () => {
    // DNS_QUERY padded to 82 bytes with zeros; the datagram is still 57 bytes.
    const padded = new Uint8Array(DNS_QUERY.length + 11);
    padded.set(DNS_QUERY);
    const ip = new Ipv4View();
    expect(ip.bind(padded, IP, padded.length - IP)).toBe('ok');
    expect(ip.payloadLength).toBe(37);
  });

  it('detects a corrupted header through verifyChecksum', () => {
    const frame = copy(ICMP_ECHO);
    const ip = new Ipv4View();
    ip.bind(frame, IP, frame.length - IP);
    expect(ip.verifyChecksum()).toBe(true);
    frame[IP + 8] = 63; // ttl changed, checksum not
    expect(ip.verifyChecksum()).toBe(false);
    // A corrupted option is covered too.
    const opt = copy(IPV4_OPTIONS_UDP);
    ip.bind(opt, IP, opt.length - IP);
    opt[IP + 21] = 0x05;
    expect(ip.verifyChecksum()).toBe(false);
  });

  it('reads fragment fields', () => {
    // Second fragment of a datagram: MF set, offset 1480 bytes (185 units).
    const h = hex('4500 0020 abcd 20b9 40 11 0000 0a000001 0a000002 0000000000000000 00000000');
    const ip = new Ipv4View();
    expect(ip.bind(h, 0, h.length)).toBe('ok');
    expect(ip.moreFragments).toBe(true);
    expect(ip.dontFragment).toBe(false);
    expect(ip.fragmentOffset).toBe(1480);
    expect(ip.isFragment).toBe(true);
  });
});

describe('Ipv4View: writing', () => {
  it('emitIpv4 writes a captured header byte for byte, checksum included', () => {
    const buf = new Uint8Array(22).fill(0xee);
    const n = emitIpv4(buf, 1, parseIpv4('172.17.0.2'), parseIpv4('172.17.0.1'), IPPROTO_UDP, 37, 64, 0x7b4c);
    expect(n).toBe(20);
    expect(toHex(buf, 1, 20)).toBe(toHex(DNS_QUERY, IP, 20));
    expect(buf[0]).toBe(0xee);
    expect(buf[21]).toBe(0xee);
    const buf2 = new Uint8Array(20);
    emitIpv4(buf2, 0, 0xac110002, 0xac110001, IPPROTO_ICMP, 48, 64, 10035, IPV4_FLAG_DF, 0);
    expect(toHex(buf2)).toBe(toHex(ICMP_ECHO, IP, 20));
  });

  it('setters write every field; fillChecksum makes it verify', () => {
    const frame = copy(TCP_SYN_V4);
    const ip = new Ipv4View();
    expect(ip.bind(frame, IP, frame.length - IP)).toBe('ok');
    ip.dscp = 46; // EF
    ip.ecn = 1;
    ip.totalLength = 0x0102;
    ip.identification = 0xbeef;
    ip.dontFragment = false;
    ip.moreFragments = true;
    ip.fragmentOffset = 0x1fff * 8;
    ip.ttl = 1;
    ip.protocol = IPPROTO_UDP;
    ip.src = parseIpv4('10.1.2.3');
    ip.dst = parseIpv4('255.254.253.252');
    ip.fillChecksum();
    const expected = hex('45 b9 0102 beef 3fff 01 11 0000 0a010203 fffefdfc');
    const csum = ip.checksum;
    expected[10] = csum >>> 8;
    expected[11] = csum & 0xff;
    expect(toHex(frame, IP, 20)).toBe(toHex(expected));
    expect(ip.verifyChecksum()).toBe(true);
    expect(csum).not.toBe(0xafb5);
    expect(toHex(frame, IP + 20)).toBe(toHex(TCP_SYN_V4, IP + 20)); // nothing after the header touched
  });

  it('tos, flagsAndFragment, headerLength and checksum setters write whole fields', () => {
    const h = new Uint8Array(24);
    emitIpv4(h, 0, 1, 2, 6, 4);
    const ip = new Ipv4View();
    expect(ip.bind(h, 0, 24)).toBe('ok');
    ip.tos = 0xff;
    expect(ip.dscp).toBe(63);
    expect(ip.ecn).toBe(3);
    ip.flagsAndFragment = IPV4_FLAG_MF | 3;
    expect(toHex(h, 6, 2)).toBe('2003');
    expect(ip.fragmentOffset).toBe(24);
    ip.headerLength = 24;
    expect(h[0]).toBe(0x46);
    expect(ip.version).toBe(4);
    ip.checksum = 0x1234;
    expect(toHex(h, 10, 2)).toBe('1234');
  });

  it('rewriteSrc / rewriteDst / decrementTtl keep the checksum valid incrementally', () => {
    const frame = copy(ICMP_ECHO);
    const ip = new Ipv4View();
    ip.bind(frame, IP, frame.length - IP);
    ip.rewriteDst(parseIpv4('10.0.0.5'));
    expect(ip.dst).toBe(0x0a000005);
    expect(ip.verifyChecksum()).toBe(true);
    ip.rewriteSrc(parseIpv4('192.168.255.254'));
    expect(ip.verifyChecksum()).toBe(true);
    expect(ip.checksum).toBe(ip.computeChecksum());
    expect(ip.decrementTtl()).toBe(63);
    expect(ip.ttl).toBe(63);
    expect(ip.verifyChecksum()).toBe(true);
    ip.ttl = 0;
    ip.fillChecksum();
    expect(ip.decrementTtl()).toBe(0);
    expect(ip.ttl).toBe(0);
    expect(ip.verifyChecksum()).toBe(true);
  });

  it('works at an offset inside a pool', () => {
    const pool = inPool(TCP_SYN_V4, 333);
    const ip = new Ipv4View();
    expect(ip.bind(pool, 333 + IP, TCP_SYN_V4.length - IP)).toBe('ok');
    expect(ip.verifyChecksum()).toBe(true);
    expect(ip.payloadOffset).toBe(333 + 34);
  });
});

describe('Ipv4View: malformed headers are reported', () => {
  const ip = new Ipv4View();
  const header = (text: string): Uint8Array => hex(text);

  it.each([0, 1, 19])('truncated: %i bytes, shorter than 20', (len) => {
    expect(ip.bind(TCP_SYN_V4, IP, len)).toBe('truncated');
  });

  it('bad-version: version 6 in an IPv4 frame', () => {
    const h = copy(TCP_SYN_V4.subarray(IP));
    h[0] = 0x65;
    expect(ip.bind(h, 0, h.length)).toBe('bad-version');
  });

  it('bad-version: version 0', () => {
    expect(ip.bind(new Uint8Array(40), 0, 40)).toBe('bad-version');
  });

  it.each([0, 4])('bad-header-length: IHL %i', (ihl) => {
    const h = copy(TCP_SYN_V4.subarray(IP));
    h[0] = 0x40 | ihl;
    expect(ip.bind(h, 0, h.length)).toBe('bad-header-length');
  });

  it('truncated: IHL 15 (60 bytes) but only 40 bytes bound', () => {
    const h = copy(TCP_SYN_V4.subarray(IP, IP + 40));
    h[0] = 0x4f;
    expect(ip.bind(h, 0, 40)).toBe('truncated');
  });

  it('truncated: options announced past the bytes, header cut at 23 of 24', () => {
    expect(ip.bind(IPV4_OPTIONS_UDP, IP, 23)).toBe('truncated');
  });

  it('bad-total-length: total length 19, below the 20-byte header', () => {
    const h = header('4500 0013 0000 4000 40 06 0000 0a000001 0a000002');
    expect(ip.bind(h, 0, h.length)).toBe('bad-total-length');
  });

  it('bad-total-length: total length 20 with IHL 6', () => {
    const h = header('4600 0014 0000 4000 40 06 0000 0a000001 0a000002 94040000');
    expect(ip.bind(h, 0, h.length)).toBe('bad-total-length');
  });

  it('truncated: total length 60 but the frame was cut at 59', () => {
    expect(ip.bind(TCP_SYN_V4, IP, 59)).toBe('truncated');
    expect(ip.bind(TCP_SYN_V4, IP, 60)).toBe('ok');
  });

  it('truncated: total length 0xffff on a 60-byte header+payload', () => {
    const h = copy(TCP_SYN_V4.subarray(IP));
    h[2] = 0xff;
    h[3] = 0xff;
    expect(ip.bind(h, 0, h.length)).toBe('truncated');
  });
});

describe('formatIpv4 / parseIpv4', () => {
  it('round-trips', () => {
    for (const text of ['0.0.0.0', '10.0.0.1', '172.17.0.2', '192.168.255.254', '255.255.255.255', '1.22.133.244']) {
      expect(formatIpv4(parseIpv4(text))).toBe(text);
    }
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    expect(formatIpv4(0x80000001)).toBe('128.0.0.1');
    expect(formatIpv4(0x80000001 | 0)).toBe('128.0.0.1'); // a signed int32 formats the same
  });

  it.each(['', '10.0.0', '10.0.0.1.2', '256.0.0.1', '10.0.0.01', '10.0.0.-1', '10.0.0.1 ', ' 10.0.0.1', '10..0.1', '0x0a.0.0.1', '10.0.0.1/24', '１.2.3.4'])(
    'rejects %j with an error naming the value and the form',
    (text) => {
      expect(() => parseIpv4(text)).toThrow(`invalid IPv4 address ${JSON.stringify(text)}`);
      expect(() => parseIpv4(text)).toThrow('four decimal numbers 0-255 separated by dots, like 10.0.0.1');
    },
  );
});

describe('one IPv4 text reading for the project', () => {
  it('says why text is not a dotted quad, and every parser uses it', async () => {
    const { ipv4OrProblem } = await import('../../../src/packet/ipv4.js');
    const { parseIpv4: controlParse } = await import('../../../src/control/cidr.js');
    const { parseAddrPort } = await import('../../../src/control/lb-validation.js');
    expect(ipv4OrProblem('10.0.0.1')).toBe(0x0a000001);
    expect(ipv4OrProblem('010.0.0.1')).toMatch(/leading zero/);
    expect(ipv4OrProblem('1.2.3')).toBe('it has 3 parts, expected 4');
    expect(() => parseIpv4('10.0.0.256')).toThrow(/10\.0\.0\.256.*part 256 is above 255/);
    expect(() => controlParse('10.0.0.256', '--ip')).toThrow(/--ip "10\.0\.0\.256" is not a valid IPv4 address: part 256 is above 255/);
    expect(parseAddrPort('10.0.0.100:80', 'VIP', true)).toEqual({ ip: 0x0a000064, family: 4, text: '10.0.0.100', port: 80 });
    expect(() => parseAddrPort('10.0.0.01:80', 'VIP', true)).toThrow(/\(the address: part '01' has a leading zero/);
    expect(() => parseAddrPort('10.0.0.1', 'VIP', true)).toThrow(/expected an address and a port 1-65535: 10\.0\.0\.100:80/);
  });
});
