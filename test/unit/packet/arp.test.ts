import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST as OP_REQUEST, ArpView, emitArp, writeArpReply } from '../../../src/packet/arp.js';
import { ETHERTYPE_IPV4 } from '../../../src/packet/constants.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { parseMac } from '../../../src/packet/mac.js';
import { ARP_REQUEST, copy, hex, toHex } from './frames.js';

const ARP_OFF = 14;
const ARP_LEN = ARP_REQUEST.length - ARP_OFF;

describe('ArpView', () => {
  it('reads every field of a captured ARP request', () => {
    const arp = new ArpView();
    expect(arp.bind(ARP_REQUEST, ARP_OFF, ARP_LEN)).toBe('ok');
    expect(arp.hardwareType).toBe(1);
    expect(arp.protocolType).toBe(ETHERTYPE_IPV4);
    expect(arp.hardwareLength).toBe(6);
    expect(arp.protocolLength).toBe(4);
    expect(arp.operation).toBe(OP_REQUEST);
    expect(arp.senderMac).toBe(parseMac('02:42:ac:11:00:02'));
    expect(arp.senderIp).toBe(parseIpv4('172.17.0.2'));
    expect(arp.targetMac).toBe(0);
    expect(arp.targetIp).toBe(parseIpv4('172.17.0.1'));
  });

  it('emitArp writes the captured request byte for byte', () => {
    const buf = new Uint8Array(30).fill(0xee);
    const n = emitArp(buf, 1, OP_REQUEST, parseMac('02:42:ac:11:00:02'), parseIpv4('172.17.0.2'), 0, parseIpv4('172.17.0.1'));
    expect(n).toBe(28);
    expect(toHex(buf, 1, 28)).toBe(toHex(ARP_REQUEST, ARP_OFF, 28));
    expect(buf[0]).toBe(0xee);
    expect(buf[29]).toBe(0xee);
  });

  it('setters turn the request into the reply, in place', () => {
    const frame = copy(ARP_REQUEST);
    const arp = new ArpView();
    expect(arp.bind(frame, ARP_OFF, ARP_LEN)).toBe('ok');
    const asker = arp.senderMac;
    const askerIp = arp.senderIp;
    arp.operation = ARP_REPLY;
    arp.targetMac = asker;
    arp.targetIp = askerIp;
    arp.senderMac = parseMac('02:42:7a:3c:51:9e');
    arp.senderIp = parseIpv4('172.17.0.1');
    expect(toHex(frame, ARP_OFF)).toBe(
      '0001' + '0800' + '06' + '04' + '0002' + '02427a3c519e' + 'ac110001' + '0242ac110002' + 'ac110002',
    );
    expect(toHex(frame, 0, ARP_OFF)).toBe(toHex(ARP_REQUEST, 0, ARP_OFF));
  });

  it('accepts Ethernet padding after the 28 bytes', () => {
    const padded = new Uint8Array(46);
    padded.set(ARP_REQUEST.subarray(ARP_OFF));
    expect(new ArpView().bind(padded, 0, 46)).toBe('ok');
  });

  describe('malformed', () => {
    const arp = new ArpView();
    it.each([0, 7])('truncated: %i bytes, shorter than the fixed part', (len) => {
      expect(arp.bind(ARP_REQUEST, ARP_OFF, len)).toBe('truncated');
    });
    it.each([8, 27])('truncated: %i bytes, shorter than the 28-byte Ethernet/IPv4 message', (len) => {
      expect(arp.bind(ARP_REQUEST, ARP_OFF, len)).toBe('truncated');
    });
    it('unsupported-type: hardware type 6 (IEEE 802)', () => {
      const m = hex('0006 0800 06 04 0001');
      expect(arp.bind(m, 0, m.length)).toBe('unsupported-type');
    });
    it('unsupported-type: protocol type IPv6', () => {
      const m = copy(ARP_REQUEST.subarray(ARP_OFF));
      m[2] = 0x86;
      m[3] = 0xdd;
      expect(arp.bind(m, 0, m.length)).toBe('unsupported-type');
    });
    it('bad-address-length: hardware length 8', () => {
      const m = copy(ARP_REQUEST.subarray(ARP_OFF));
      m[4] = 8;
      expect(arp.bind(m, 0, m.length)).toBe('bad-address-length');
    });
    it('bad-address-length: protocol length 16', () => {
      const m = copy(ARP_REQUEST.subarray(ARP_OFF));
      m[5] = 16;
      expect(arp.bind(m, 0, m.length)).toBe('bad-address-length');
    });
  });
});

describe('writeArpReply (the one ARP-reply writer of the lb, ipvlan and arp-suppress stages)', () => {
  const req = (ethSrc: number, sha: number) => {
    const f = new Uint8Array(60); // padded to the minimum frame, as on the wire
    f.fill(0xff, 0, 6);
    f.set([(ethSrc / 2 ** 40) & 255, (ethSrc / 2 ** 32) & 255, (ethSrc >>> 24) & 255, (ethSrc >>> 16) & 255, (ethSrc >>> 8) & 255, ethSrc & 255], 6);
    f.set([0x08, 0x06], 12);
    emitArp(f, 14, OP_REQUEST, sha, parseIpv4('10.1.0.5'), 0, parseIpv4('10.1.0.100'));
    f.fill(0xee, 42); // padding is left alone
    return f;
  };

  it('writes every field of the reply, byte for byte', () => {
    const client = parseMac('02:42:0a:01:00:05');
    const answer = parseMac('0e:4c:0a:01:00:64');
    const f = req(client, client);
    writeArpReply(f, 0, answer, parseIpv4('10.1.0.100'));
    const want = new Uint8Array(60);
    want.set([0x02, 0x42, 0x0a, 0x01, 0x00, 0x05, 0x0e, 0x4c, 0x0a, 0x01, 0x00, 0x64, 0x08, 0x06], 0);
    emitArp(want, 14, ARP_REPLY, answer, parseIpv4('10.1.0.100'), client, parseIpv4('10.1.0.5'));
    want.fill(0xee, 42);
    expect(toHex(f)).toBe(toHex(want));
  });

  it('answers the frame\'s Ethernet source, and names the ARP sender as the target', () => {
    const f = req(parseMac('02:00:00:00:00:01'), parseMac('02:00:00:00:00:02'));
    writeArpReply(f, 0, parseMac('0e:00:00:00:00:09'), parseIpv4('10.1.0.100'));
    const v = new ArpView();
    expect(v.bind(f, 14, 46)).toBe('ok');
    expect(toHex(f.subarray(0, 6))).toBe('020000000001');
    expect(v.targetMac).toBe(parseMac('02:00:00:00:00:02'));
    expect(v.operation).toBe(ARP_REPLY);
  });
});
