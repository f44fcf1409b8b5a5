import { describe, expect, it } from 'vitest';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN } from '../../../src/packet/constants.js';
import { EthernetView, emitEthernet, emitEthernetTagged } from '../../../src/packet/ethernet.js';
import { parseMac } from '../../../src/packet/mac.js';
import { ARP_REQUEST, DNS_QUERY, ICMP_ECHO, QINQ_ICMP, TCP_SYN_V6, VLAN_DNS, copy, hex, inPool, toHex } from './frames.js';

describe('EthernetView: reading known frames', () => {
  it('reads every field of an untagged frame', () => {
    const eth = new EthernetView();
    expect(eth.bind(TCP_SYN_V6, 0, TCP_SYN_V6.length)).toBe('ok');
    expect(eth.dst).toBe(parseMac('02:42:7a:3c:51:9e'));
    expect(eth.src).toBe(parseMac('02:42:ac:11:00:02'));
    expect(eth.ethertype).toBe(ETHERTYPE_IPV6);
    expect(eth.tagCount).toBe(0);
    expect(eth.headerLength).toBe(14);
    expect(eth.payloadOffset).toBe(14);
    expect(eth.payloadLength).toBe(80);
    expect(eth.outerTpid).toBe(0);
    expect(eth.outerTci).toBe(0);
    expect(eth.vlanId).toBe(0);
    expect(eth.pcp).toBe(0);
    expect(eth.dei).toBe(false);
    expect(eth.innerTpid).toBe(0);
    expect(eth.innerTci).toBe(0);
    expect(eth.innerVlanId).toBe(0);
  });

  it('reads every field of an 802.1Q-tagged frame', () => {
    const eth = new EthernetView();
    expect(eth.bind(VLAN_DNS, 0, VLAN_DNS.length)).toBe('ok');
    expect(eth.dst).toBe(parseMac('02:42:7a:3c:51:9e'));
    expect(eth.src).toBe(parseMac('02:42:ac:11:00:02'));
    expect(eth.tagCount).toBe(1);
    expect(eth.outerTpid).toBe(ETHERTYPE_VLAN);
    expect(eth.outerTci).toBe(0x6064);
    expect(eth.vlanId).toBe(100);
    expect(eth.pcp).toBe(3);
    expect(eth.dei).toBe(false);
    expect(eth.innerTpid).toBe(0);
    expect(eth.innerVlanId).toBe(0);
    expect(eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(eth.headerLength).toBe(18);
    expect(eth.payloadOffset).toBe(18);
    expect(eth.payloadLength).toBe(57);
    expect(VLAN_DNS[eth.payloadOffset]).toBe(0x45);
  });

  it('reads every field of an 802.1ad + 802.1Q (QinQ) frame', () => {
    const eth = new EthernetView();
    expect(eth.bind(QINQ_ICMP, 0, QINQ_ICMP.length)).toBe('ok');
    expect(eth.tagCount).toBe(2);
    expect(eth.outerTpid).toBe(ETHERTYPE_QINQ);
    expect(eth.outerTci).toBe(200);
    expect(eth.vlanId).toBe(200);
    expect(eth.innerTpid).toBe(ETHERTYPE_VLAN);
    expect(eth.innerTci).toBe(300);
    expect(eth.innerVlanId).toBe(300);
    expect(eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(eth.headerLength).toBe(22);
    expect(eth.payloadLength).toBe(68);
    expect(QINQ_ICMP[eth.payloadOffset]).toBe(0x45);
  });

  it('reads a frame bound at an offset inside a pool, and rebinds one view to many frames', () => {
    const eth = new EthernetView();
    const pool = inPool(ARP_REQUEST, 256);
    expect(eth.bind(pool, 256, ARP_REQUEST.length)).toBe('ok');
    expect(eth.ethertype).toBe(ETHERTYPE_ARP);
    expect(eth.payloadOffset).toBe(270);
    expect(eth.bind(VLAN_DNS, 0, VLAN_DNS.length)).toBe('ok');
    expect(eth.vlanId).toBe(100);
    expect(eth.bind(DNS_QUERY, 0, DNS_QUERY.length)).toBe('ok');
    expect(eth.tagCount).toBe(0);
    expect(eth.vlanId).toBe(0);
  });
});

describe('EthernetView: writing', () => {
  it('emitEthernet writes the header of a known frame byte for byte', () => {
    const buf = new Uint8Array(16).fill(0xee);
    expect(emitEthernet(buf, 1, parseMac('02:42:7a:3c:51:9e'), parseMac('02:42:ac:11:00:02'), ETHERTYPE_IPV4)).toBe(14);
    expect(toHex(buf, 1, 14)).toBe(toHex(DNS_QUERY, 0, 14));
    expect(buf[0]).toBe(0xee);
    expect(buf[15]).toBe(0xee);
  });

  it('emitEthernetTagged writes the header of a known tagged frame byte for byte', () => {
    const buf = new Uint8Array(18);
    const n = emitEthernetTagged(buf, 0, parseMac('02:42:7a:3c:51:9e'), parseMac('02:42:ac:11:00:02'), ETHERTYPE_VLAN, (3 << 13) | 100, ETHERTYPE_IPV4);
    expect(n).toBe(18);
    expect(toHex(buf)).toBe(toHex(VLAN_DNS, 0, 18));
  });

  it('setters write every field of an untagged frame', () => {
    const frame = copy(DNS_QUERY);
    const eth = new EthernetView();
    expect(eth.bind(frame, 0, frame.length)).toBe('ok');
    eth.dst = parseMac('ff:ff:ff:ff:ff:ff');
    eth.src = parseMac('0a:0b:0c:0d:0e:0f');
    eth.ethertype = ETHERTYPE_IPV6;
    expect(toHex(frame, 0, 14)).toBe('ffffffffffff0a0b0c0d0e0f86dd');
    expect(toHex(frame, 14)).toBe(toHex(DNS_QUERY, 14));
  });

  it('setters write every field of a QinQ frame', () => {
    const frame = copy(QINQ_ICMP);
    const eth = new EthernetView();
    expect(eth.bind(frame, 0, frame.length)).toBe('ok');
    eth.outerTpid = ETHERTYPE_VLAN;
    eth.outerTci = 0;
    eth.vlanId = 0xabc;
    eth.pcp = 5;
    eth.dei = true;
    eth.innerTpid = ETHERTYPE_QINQ;
    eth.innerTci = 0xffff;
    eth.innerVlanId = 0x123;
    eth.ethertype = ETHERTYPE_ARP;
    expect(toHex(frame, 12, 10)).toBe('8100' + 'babc' + '88a8' + 'f123' + '0806');
    expect(eth.pcp).toBe(5);
    expect(eth.dei).toBe(true);
    expect(eth.vlanId).toBe(0xabc);
    eth.dei = false;
    eth.pcp = 0;
    expect(eth.outerTci).toBe(0x0abc);
    expect(toHex(frame, 22)).toBe(toHex(QINQ_ICMP, 22));
  });

  it('pushTag moves the addresses into headroom and popTag undoes it', () => {
    const pool = inPool(DNS_QUERY, 8);
    const eth = new EthernetView();
    expect(eth.bind(pool, 8, DNS_QUERY.length)).toBe('ok');
    expect(eth.pushTag(ETHERTYPE_VLAN, (3 << 13) | 100)).toBe(4);
    expect(eth.off).toBe(4);
    expect(eth.len).toBe(75);
    expect(eth.tagCount).toBe(1);
    expect(toHex(pool, 4, 75)).toBe(toHex(VLAN_DNS));
    // A fresh bind agrees with the view's state.
    const again = new EthernetView();
    expect(again.bind(pool, 4, 75)).toBe('ok');
    expect(again.vlanId).toBe(100);
    expect(eth.popTag()).toBe(8);
    expect(eth.tagCount).toBe(0);
    expect(toHex(pool, 8, 71)).toBe(toHex(DNS_QUERY));
    expect(eth.popTag()).toBe(-1);
  });

  it('pushTag refuses without headroom or over two tags, changing nothing', () => {
    const frame = copy(DNS_QUERY);
    const eth = new EthernetView();
    eth.bind(frame, 0, frame.length);
    expect(eth.pushTag(ETHERTYPE_VLAN, 1)).toBe(-1);
    expect(toHex(frame)).toBe(toHex(DNS_QUERY));
    const pool = inPool(QINQ_ICMP, 16);
    eth.bind(pool, 16, QINQ_ICMP.length);
    expect(eth.pushTag(ETHERTYPE_VLAN, 1)).toBe(-1);
    expect(toHex(pool, 16, QINQ_ICMP.length)).toBe(toHex(QINQ_ICMP));
  });
});

describe('EthernetView: malformed frames are reported', () => {
  const eth = new EthernetView();

  it.each([0, 1, 13])('truncated: %i bytes is shorter than the 14-byte header', (len) => {
    expect(eth.bind(DNS_QUERY, 0, len)).toBe('truncated');
  });

  it('exactly 14 bytes is a header with an empty payload', () => {
    expect(eth.bind(DNS_QUERY, 0, 14)).toBe('ok');
    expect(eth.payloadLength).toBe(0);
  });

  it.each([14, 15, 17])('truncated: one VLAN tag announced but only %i bytes', (len) => {
    expect(eth.bind(VLAN_DNS, 0, len)).toBe('truncated');
  });

  it('a tagged frame of exactly 18 bytes is ok and reads its tag', () => {
    expect(eth.bind(VLAN_DNS, 0, 18)).toBe('ok');
    expect(eth.vlanId).toBe(100);
  });

  it.each([18, 21])('truncated: two tags announced but only %i bytes', (len) => {
    expect(eth.bind(QINQ_ICMP, 0, len)).toBe('truncated');
  });

  it('too-many-tags: a third TPID after two tags', () => {
    const frame = hex(`
      02427a3c519e 0242ac110002
      88a8 00c8  8100 012c  8100 0005  0800
      45000014000000004000000000000000000000000000
    `);
    expect(eth.bind(frame, 0, frame.length)).toBe('too-many-tags');
  });

  it('judges by the bound length, not by the bytes the pool has after it', () => {
    const pool = inPool(QINQ_ICMP, 100);
    expect(eth.bind(pool, 100, 21)).toBe('truncated');
    expect(eth.bind(pool, 100, 17)).toBe('truncated');
    expect(eth.bind(pool, 100, 22)).toBe('ok');
  });
});
