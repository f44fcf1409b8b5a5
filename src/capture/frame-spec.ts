/**
 * Frame specs for `tsnet-switch trace`: a short line that says which frame to build, so nobody has to
 * write hex to ask "what would the switch do with this?":
 *
 *   icmp SRC > DST                          an echo request (ping's 56 bytes of payload)
 *   icmp6 SRC > DST                         an ICMPv6 echo request (IPv6 addresses)
 *   tcp SRC:PORT > DST:PORT [FLAG...]       FLAG: syn ack fin rst psh urg (default syn; `syn,ack` works)
 *   udp SRC:PORT > DST:PORT                 a short payload
 *                                           (IPv6: [SRC]:PORT > [DST]:PORT, as in URLs)
 *   arp who-has IP [tell IP]                a broadcast request (tell: the source endpoint's address)
 *   HEX                                     the whole Ethernet frame, e.g. ff:ff:ff:ff:ff:ff:02:42:...
 *
 * MACs come from the network: the source is the ingress endpoint's own MAC; the destination is the MAC
 * of whoever holds DST on the network (an endpoint, the gateway); for an address in the subnet that
 * nobody holds, the MAC it would get (02:42 + the address, Docker's rule), so a free address shows an
 * FDB miss; off the subnet, the gateway's MAC (the container would route through it); broadcast
 * addresses (255.255.255.255, the subnet's) get ff:ff:ff:ff:ff:ff, multicast 01:00:5e + 23 bits. For
 * IPv6 (a dual-stack network): the holder's MAC, multicast 33:33 + the last 32 bits, an address of the
 * IPv6 subnet nobody holds 02:42 + its last 32 bits (an FDB miss), off the subnet the gateway's.
 *
 * All checksums are correct. A spec that fits none of the forms is a TsnError ERR_BAD_FRAME_SPEC that
 * lists them.
 */
import { TsnError } from '../errors.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../packet/constants.js';
import { emitIpv6, formatIpv6, parseIpv6 } from '../packet/ipv6.js';
import { emitArp, ARP_REQUEST } from '../packet/arp.js';
import { foldChecksum, internetChecksum, onesSum, pseudoHeaderSumV4, pseudoHeaderSumV6 } from '../packet/checksum.js';
import { emitEthernet } from '../packet/ethernet.js';
import { emitIcmp, ICMP_ECHO_REQUEST } from '../packet/icmp.js';
import { emitIpv4, formatIpv4, parseIpv4 } from '../packet/ipv4.js';
import { formatMac } from '../packet/mac.js';
import { emitTcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../packet/tcp.js';
import { emitUdp } from '../packet/udp.js';
import { write16 } from '../packet/bytes.js';

export const FRAME_SPEC_FORMS = [
  'icmp SRC > DST',
  'tcp SRC:PORT > DST:PORT [syn|ack|fin|rst|psh|urg ...]',
  'udp SRC:PORT > DST:PORT',
  'icmp6 SRC6 > DST6',
  'tcp|udp [SRC6]:PORT > [DST6]:PORT',
  'arp who-has IP [tell IP]',
  'the frame in hex (ff:ff:ff:ff:ff:ff:02:42:..., at least 14 bytes)',
];

export interface FrameSpecNetwork {
  /** The ingress endpoint's MAC (48-bit number) and IPv4 address (uint32; null if it has none). */
  srcMac: number;
  srcIp: number | null;
  /** The subnet, for choosing between a neighbour's MAC and the gateway's. */
  subnet: { address: number; prefixLen: number } | null;
  gateway: { ip: number; mac: number } | null;
  /** MAC of whoever holds this address on the network (endpoints, gateway), if anyone. */
  macOf(ip: number): number | undefined;
  /** A dual-stack network's IPv6 side (absent: IPv4 only): holders by canonical address text, the subnet, the gateway. */
  ipv6?: {
    macOf(ip: string): number | undefined;
    inSubnet(ip: string): boolean;
    gateway: { ip: string; mac: number } | null;
  };
}

export interface BuiltFrame {
  frame: Uint8Array;
  /** One line: what was built, with the MACs chosen. */
  summary: string;
}

const TCP_FLAGS: Record<string, number> = { syn: TCP_SYN, ack: TCP_ACK, fin: TCP_FIN, rst: TCP_RST, psh: TCP_PSH, urg: TCP_URG };
const BROADCAST = 0xffffffffffff;

function bad(spec: string, why: string): never {
  throw new TsnError('ERR_BAD_FRAME_SPEC', `frame spec ${JSON.stringify(spec)}: ${why}; accepted forms: ${FRAME_SPEC_FORMS.join('; ')}`);
}

function ip(spec: string, text: string, what: string): number {
  try {
    return parseIpv4(text);
  } catch {
    bad(spec, `${what} ${JSON.stringify(text)} is not an IPv4 address (like 10.0.0.2)`);
  }
}

function ip6(spec: string, text: string, what: string): Uint8Array {
  const b = new Uint8Array(16);
  try {
    parseIpv6(text, b, 0);
  } catch {
    bad(spec, `${what} ${JSON.stringify(text)} is not an IPv6 address (like fd00:1::2)`);
  }
  return b;
}

/** [ADDR]:PORT -> the address and port, or null when `text` is not bracketed (an IPv4 endpoint). */
function endpoint6(spec: string, text: string, what: string): { ip: Uint8Array; port: number } | null {
  if (!text.startsWith('[')) return null;
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  if (!m) bad(spec, `${what} ${JSON.stringify(text)}: expected [IPV6]:PORT, like [fd00:1::2]:1234`);
  const port = Number(m[2]);
  if (port > 65535) bad(spec, `${what} port ${m[2]}: expected 0 to 65535`);
  return { ip: ip6(spec, m[1], what), port };
}

/** The destination MAC a host on a dual-stack network would use for IPv6 `dst`. */
function destinationMac6(net: FrameSpecNetwork, dst: Uint8Array, spec: string): number {
  const six = net.ipv6;
  if (!six) bad(spec, 'the network has no IPv6 subnet (it was made without --ipv6)');
  const low32 = ((dst[12] << 24) | (dst[13] << 16) | (dst[14] << 8) | dst[15]) >>> 0;
  if (dst[0] === 0xff) return 0x3333 * 2 ** 32 + low32;
  const text = formatIpv6(dst, 0);
  const known = six.macOf(text);
  if (known !== undefined) return known;
  if (six.inSubnet(text) || (dst[0] === 0xfe && (dst[1] & 0xc0) === 0x80)) return 0x0242 * 2 ** 32 + low32;
  if (six.gateway) return six.gateway.mac;
  bad(spec, `${text} is outside the network's IPv6 subnet and the network has no gateway to route through`);
}

function ipv6Frame(src: Uint8Array, dst: Uint8Array, net: FrameSpecNetwork, spec: string, proto: number, l4: Uint8Array, csumAt: number): { frame: Uint8Array; dstMac: number } {
  const dstMac = destinationMac6(net, dst, spec);
  const f = new Uint8Array(14 + 40 + l4.length);
  emitEthernet(f, 0, dstMac, net.srcMac, ETHERTYPE_IPV6);
  emitIpv6(f, 14, src, 0, dst, 0, proto, l4.length);
  f.set(l4, 54);
  write16(f, 54 + csumAt, 0);
  let c = foldChecksum(onesSum(f, 54, l4.length, pseudoHeaderSumV6(f, 22, 38, proto, l4.length)));
  if (proto === IPPROTO_UDP && c === 0) c = 0xffff;
  write16(f, 54 + csumAt, c);
  return { frame: f, dstMac };
}

function endpoint(spec: string, text: string, what: string): { ip: number; port: number } {
  const m = /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) bad(spec, `${what} ${JSON.stringify(text)}: expected IP:PORT, like 10.0.0.2:1234`);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) bad(spec, `${what} port ${m[2]}: expected 0 to 65535`);
  return { ip: ip(spec, m[1], what), port };
}

/** The destination MAC a host on this network would use for `dst`. */
export function destinationMac(net: FrameSpecNetwork, dst: number, spec = ''): number {
  if (dst === 0xffffffff) return BROADCAST;
  if (dst >>> 28 === 0xe) return 0x01005e000000 + (dst & 0x7fffff);
  const known = net.macOf(dst);
  if (known !== undefined) return known;
  if (net.subnet) {
    const mask = net.subnet.prefixLen === 0 ? 0 : (0xffffffff << (32 - net.subnet.prefixLen)) >>> 0;
    const inSubnet = ((dst & mask) >>> 0) === ((net.subnet.address & mask) >>> 0);
    if (inSubnet) {
      if (net.subnet.prefixLen < 31 && ((dst | ~mask) >>> 0) === dst) return BROADCAST;
      return 0x0242 * 2 ** 32 + dst;
    }
  }
  if (net.gateway) return net.gateway.mac;
  bad(spec, `${formatIpv4(dst)} is outside the network's subnet and the network has no gateway to route through`);
}

function ipv4Frame(src: number, dst: number, net: FrameSpecNetwork, spec: string, proto: number, l4: Uint8Array): { frame: Uint8Array; dstMac: number } {
  const dstMac = destinationMac(net, dst, spec);
  const f = new Uint8Array(14 + 20 + l4.length);
  emitEthernet(f, 0, dstMac, net.srcMac, ETHERTYPE_IPV4);
  emitIpv4(f, 14, src, dst, proto, l4.length, 64, 0x7473);
  f.set(l4, 34);
  return { frame: f, dstMac };
}

function transportChecksum(l4: Uint8Array, src: number, dst: number, proto: number, at: number): void {
  write16(l4, at, 0);
  let c = foldChecksum(onesSum(l4, 0, l4.length, pseudoHeaderSumV4(src, dst, proto, l4.length)));
  if (proto === IPPROTO_UDP && c === 0) c = 0xffff;
  write16(l4, at, c);
}

/** TCP flags from the words after the destination (default SYN). */
function tcpFlags(spec: string, words: string[]): { flags: number; names: string[] } {
  let flags = 0;
  const names: string[] = [];
  for (const w of words.flatMap((x) => x.toLowerCase().split(/[,+|]/)).filter(Boolean)) {
    const f = TCP_FLAGS[w];
    if (f === undefined) bad(spec, `TCP flag ${JSON.stringify(w)}: expected ${Object.keys(TCP_FLAGS).join(', ')}`);
    flags |= f;
    names.push(w.toUpperCase());
  }
  if (flags === 0) {
    flags = TCP_SYN;
    names.push('SYN');
  }
  return { flags, names };
}

function fromHex(spec: string): Uint8Array | null {
  const digits = spec.replace(/^0x/i, '').replace(/[\s:.-]/g, '');
  if (!/^[0-9a-fA-F]+$/.test(digits)) return null;
  if (digits.length % 2 !== 0) bad(spec, `odd number of hex digits (${digits.length})`);
  if (digits.length < 28) bad(spec, `${digits.length / 2} bytes of hex: an Ethernet frame needs at least 14`);
  if (digits.length > 2 * 65549) bad(spec, 'longer than the largest frame the switch takes');
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

/** Build the frame a spec describes, as the ingress endpoint would send it on `net`. */
export function buildFrame(spec: string, net: FrameSpecNetwork): BuiltFrame {
  const text = spec.trim();
  const words = text.split(/\s+/);
  const kind = words[0]?.toLowerCase();
  const srcMacText = formatMac(net.srcMac);
  if (kind === 'icmp6') {
    if (words.length !== 4 || words[2] !== '>') bad(spec, 'expected "icmp6 SRC6 > DST6"');
    const src = ip6(spec, words[1], 'source');
    const dst = ip6(spec, words[3], 'destination');
    const l4 = new Uint8Array(8 + 56);
    l4[0] = 128; // echo request
    write16(l4, 4, 0x7473);
    write16(l4, 6, 1);
    for (let i = 0; i < 56; i++) l4[8 + i] = (0x10 + i) & 0xff;
    const { frame, dstMac } = ipv6Frame(src, dst, net, spec, IPPROTO_ICMPV6, l4, 2);
    return { frame, summary: `${srcMacText} > ${formatMac(dstMac)}, IPv6 ${formatIpv6(src, 0)} > ${formatIpv6(dst, 0)}, ICMPv6 echo request, ${frame.length} bytes` };
  }
  if ((kind === 'tcp' || kind === 'udp') && words[1]?.startsWith('[')) {
    if (words.length < 4 || words[2] !== '>') bad(spec, `expected "${kind} [SRC6]:PORT > [DST6]:PORT"`);
    const s = endpoint6(spec, words[1], 'source')!;
    const d = endpoint6(spec, words[3], 'destination');
    if (!d) bad(spec, `destination ${JSON.stringify(words[3])}: an IPv6 source needs an IPv6 destination, [DST6]:PORT`);
    let l4: Uint8Array;
    let detail: string;
    if (kind === 'udp') {
      if (words.length > 4) bad(spec, `unexpected ${JSON.stringify(words.slice(4).join(' '))} after the destination`);
      const payload = Buffer.from('tsnet-switch trace');
      l4 = new Uint8Array(8 + payload.length);
      emitUdp(l4, 0, s.port, d.port, payload.length);
      l4.set(payload, 8);
      detail = `UDP ${s.port} > ${d.port}`;
    } else {
      const { flags, names } = tcpFlags(spec, words.slice(4));
      l4 = new Uint8Array(20);
      emitTcp(l4, 0, s.port, d.port, 0x74736e00, flags & TCP_ACK ? 1 : 0, flags, 64240);
      detail = `TCP ${s.port} > ${d.port} [${names.join(', ')}]`;
    }
    const { frame, dstMac } = ipv6Frame(s.ip, d.ip, net, spec, kind === 'udp' ? IPPROTO_UDP : IPPROTO_TCP, l4, kind === 'udp' ? 6 : 16);
    return { frame, summary: `${srcMacText} > ${formatMac(dstMac)}, IPv6 ${formatIpv6(s.ip, 0)} > ${formatIpv6(d.ip, 0)}, ${detail}, ${frame.length} bytes` };
  }
  if (kind === 'icmp' || kind === 'tcp' || kind === 'udp') {
    if (words.length < 4 || words[2] !== '>') bad(spec, `expected "${kind} SRC${kind === 'icmp' ? '' : ':PORT'} > DST${kind === 'icmp' ? '' : ':PORT'}"`);
    if (kind === 'icmp') {
      if (words.length > 4) bad(spec, `unexpected ${JSON.stringify(words.slice(4).join(' '))} after the destination`);
      const src = ip(spec, words[1], 'source');
      const dst = ip(spec, words[3], 'destination');
      const l4 = new Uint8Array(8 + 56);
      emitIcmp(l4, 0, ICMP_ECHO_REQUEST, 0, (0x7473 << 16) | 1);
      for (let i = 0; i < 56; i++) l4[8 + i] = (0x10 + i) & 0xff;
      write16(l4, 2, internetChecksum(l4, 0, l4.length));
      const { frame, dstMac } = ipv4Frame(src, dst, net, spec, IPPROTO_ICMP, l4);
      return { frame, summary: `${srcMacText} > ${formatMac(dstMac)}, IPv4 ${formatIpv4(src)} > ${formatIpv4(dst)}, ICMP echo request, ${frame.length} bytes` };
    }
    const s = endpoint(spec, words[1], 'source');
    const d = endpoint(spec, words[3], 'destination');
    if (kind === 'udp') {
      if (words.length > 4) bad(spec, `unexpected ${JSON.stringify(words.slice(4).join(' '))} after the destination`);
      const payload = Buffer.from('tsnet-switch trace');
      const l4 = new Uint8Array(8 + payload.length);
      emitUdp(l4, 0, s.port, d.port, payload.length);
      l4.set(payload, 8);
      transportChecksum(l4, s.ip, d.ip, IPPROTO_UDP, 6);
      const { frame, dstMac } = ipv4Frame(s.ip, d.ip, net, spec, IPPROTO_UDP, l4);
      return { frame, summary: `${srcMacText} > ${formatMac(dstMac)}, IPv4 ${formatIpv4(s.ip)} > ${formatIpv4(d.ip)}, UDP ${s.port} > ${d.port}, ${frame.length} bytes` };
    }
    const { flags, names } = tcpFlags(spec, words.slice(4));
    const l4 = new Uint8Array(20);
    emitTcp(l4, 0, s.port, d.port, 0x74736e00, flags & TCP_ACK ? 1 : 0, flags, 64240);
    transportChecksum(l4, s.ip, d.ip, IPPROTO_TCP, 16);
    const { frame, dstMac } = ipv4Frame(s.ip, d.ip, net, spec, IPPROTO_TCP, l4);
    return { frame, summary: `${srcMacText} > ${formatMac(dstMac)}, IPv4 ${formatIpv4(s.ip)} > ${formatIpv4(d.ip)}, TCP ${s.port} > ${d.port} [${names.join(', ')}], ${frame.length} bytes` };
  }
  if (kind === 'arp') {
    if (words[1]?.toLowerCase() !== 'who-has' || words.length < 3) bad(spec, 'expected "arp who-has IP [tell IP]"');
    const target = ip(spec, words[2], 'who-has address');
    let sender: number | null = net.srcIp;
    if (words.length > 3) {
      if (words[3].toLowerCase() !== 'tell' || words.length !== 5) bad(spec, 'expected "arp who-has IP [tell IP]"');
      sender = ip(spec, words[4], 'tell address');
    }
    if (sender === null) bad(spec, 'the ingress endpoint has no IPv4 address: say whose it is with "tell IP"');
    const f = new Uint8Array(14 + 28);
    emitEthernet(f, 0, BROADCAST, net.srcMac, ETHERTYPE_ARP);
    emitArp(f, 14, ARP_REQUEST, net.srcMac, sender, 0, target);
    return { frame: f, summary: `${srcMacText} > ff:ff:ff:ff:ff:ff, ARP who-has ${formatIpv4(target)} tell ${formatIpv4(sender)}, ${f.length} bytes` };
  }
  const hex = text === '' ? null : fromHex(text);
  if (hex) return { frame: hex, summary: `${hex.length} bytes from hex` };
  bad(spec, text === '' ? 'empty' : `${JSON.stringify(words[0])} is not one of icmp, icmp6, tcp, udp, arp, nor hex`);
}
