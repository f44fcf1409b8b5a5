/**
 * Known frames for the packet view tests, written out byte by byte with the layout in comments.
 *
 * Where they come from: the Linux kernel (6.x) built them. A throwaway network namespace held a TAP
 * device without offloads (so every checksum is computed in software, as on a wire), with
 * 172.17.0.2/16 and fd00:ac11::2/64 on it; the frames are what the kernel wrote to the TAP for an
 * ARP lookup, a DNS query, TCP connects over IPv4 and IPv6, pings over IPv4 and IPv6 (ping sockets),
 * a UDP send with the IP router-alert option, an IPv6 UDP datagram too large for the MTU (the last
 * fragment is kept), and the MLDv2 report sent on link up. tcpdump 4.99 -vvv decoded each one and
 * called every checksum correct.
 *
 * The tagged and encapsulated frames are those kernel frames with headers added by hand (no VLAN or
 * VXLAN driver was available): VLAN_DNS inserts an 802.1Q tag (PCP 3, VID 100) into DNS_QUERY,
 * QINQ_ICMP an 802.1ad S-tag (VID 200) and 802.1Q C-tag (VID 300) into ICMP_ECHO, and VXLAN_ICMP
 * carries ICMP_ECHO in VXLAN VNI 4242 over IPv4/UDP with the outer IPv4 checksum computed by an
 * independent script; tcpdump decoded them as well.
 */

/** Bytes from hex text; whitespace and `#` comments to the end of a line are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) throw new Error(`bad hex fixture: ${digits}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Lowercase hex of bytes, for readable `toBe` diffs. */
export function toHex(buf: Uint8Array, off = 0, len = buf.length - off): string {
  let s = '';
  for (let i = off; i < off + len; i++) s += buf[i].toString(16).padStart(2, '0');
  return s;
}

/** ARP request: who has 172.17.0.1? tell 172.17.0.2. 42 bytes (no padding on a TAP). */
export const ARP_REQUEST = hex(`
  ffffffffffff 0242ac110002 0806   # Ethernet: dst broadcast, src 02:42:ac:11:00:02, ARP
  0001 0800 06 04 0001             # ARP: hw Ethernet, proto IPv4, hlen 6, plen 4, op request
  0242ac110002 ac110002            # sender 02:42:ac:11:00:02 172.17.0.2
  000000000000 ac110001            # target 00:00:00:00:00:00 172.17.0.1
`);

/** UDP DNS query: 172.17.0.2:41923 > 172.17.0.1:53, id 0x3c5d, A? example.com. 71 bytes. */
export const DNS_QUERY = hex(`
  02427a3c519e 0242ac110002 0800               # Ethernet: IPv4
  45 00 0039 7b4c 4000 40 11 6742              # IPv4: IHL 5, total 57, id 31564, DF, ttl 64, UDP, csum
  ac110002 ac110001                            #   172.17.0.2 > 172.17.0.1
  a3c3 0035 0025 f7ba                          # UDP: 41923 > 53, length 37, csum 0xf7ba
  3c5d 0100 0001 0000 0000 0000                # DNS: id, RD, 1 question
  07 6578616d706c65 03 636f6d 00 0001 0001     #   example.com A IN
`);

/** TCP SYN with options: 172.17.0.2:45206 > 172.17.0.1:80. 74 bytes. */
export const TCP_SYN_V4 = hex(`
  02427a3c519e 0242ac110002 0800               # Ethernet: IPv4
  45 00 003c 32e1 4000 40 06 afb5              # IPv4: total 60, id 13025, DF, ttl 64, TCP, csum
  ac110002 ac110001                            #   172.17.0.2 > 172.17.0.1
  b096 0050 7027237a 00000000                  # TCP: 45206 > 80, seq 1881613178, ack 0
  a0 02 faf0 6bc7 0000                         #   data offset 10, SYN, win 64240, csum 0x6bc7, urg 0
  020405b4 0402 080a38b20be500000000 01 03030a # options: MSS 1460, SACK ok, TS 951192549/0, NOP, WS 10
`);

/** TCP SYN over IPv6 with options: [fd00:ac11::2]:34480 > [fd00:ac11::1]:443. 94 bytes. */
export const TCP_SYN_V6 = hex(`
  02427a3c519e 0242ac110002 86dd               # Ethernet: IPv6
  600d58e0 0028 06 40                          # IPv6: tc 0, flow 0xd58e0, payload 40, next TCP, hlim 64
  fd00ac11000000000000000000000002             #   src fd00:ac11::2
  fd00ac11000000000000000000000001             #   dst fd00:ac11::1
  86b0 01bb 86c488ea 00000000                  # TCP: 34480 > 443, seq 2261027050, ack 0
  a0 02 fd20 2f3e 0000                         #   data offset 10, SYN, win 64800, csum 0x2f3e
  020405a0 0402 080aef47422800000000 01 03030a # options: MSS 1440, SACK ok, TS 4014424616/0, NOP, WS 10
`);

/** ICMP echo request 172.17.0.2 > 172.17.0.1, id 57592, seq 1, 40 data bytes 0x10..0x37. 82 bytes. */
export const ICMP_ECHO = hex(`
  02427a3c519e 0242ac110002 0800               # Ethernet: IPv4
  45 00 0044 2733 4000 40 01 bb60              # IPv4: total 68, id 10035, DF, ttl 64, ICMP, csum
  ac110002 ac110001                            #   172.17.0.2 > 172.17.0.1
  08 00 5833 e0f8 0001                         # ICMP: echo request, csum 0x5833, id 57592, seq 1
  101112131415161718191a1b1c1d1e1f             #   data
  202122232425262728292a2b2c2d2e2f
  3031323334353637
`);

/** ICMPv6 echo request fd00:ac11::2 > fd00:ac11::1, id 57593, seq 1, same 40 data bytes. 102 bytes. */
export const ICMPV6_ECHO = hex(`
  02427a3c519e 0242ac110002 86dd               # Ethernet: IPv6
  600f8e9e 0030 3a 40                          # IPv6: flow 0xf8e9e, payload 48, next ICMPv6, hlim 64
  fd00ac11000000000000000000000002             #   src fd00:ac11::2
  fd00ac11000000000000000000000001             #   dst fd00:ac11::1
  80 00 8d9f e0f9 0001                         # ICMPv6: echo request, csum 0x8d9f, id 57593, seq 1
  101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f
  3031323334353637
`);

/** MLDv2 report sent on link up: IPv6 hop-by-hop (router alert) then ICMPv6 type 143. 90 bytes. */
export const MLDV2_REPORT = hex(`
  333300000016 0242ac110002 86dd               # Ethernet: dst 33:33:00:00:00:16 (IPv6 multicast)
  60000000 0024 00 01                          # IPv6: payload 36, next hop-by-hop, hlim 1
  00000000000000000000000000000000             #   src ::
  ff020000000000000000000000000016             #   dst ff02::16
  3a 00 05020000 0100                          # hop-by-hop: next ICMPv6, 8 bytes, router alert, PadN
  8f 00 6f77 0000 0001                         # ICMPv6: MLDv2 report, csum 0x6f77, 1 record
  04 00 0000 ff0200000000000000000001ff110002  #   change to exclude ff02::1:ff11:2
`);

/** UDP "hello" to port 7 with the IPv4 router-alert option (IHL 6). 51 bytes. */
export const IPV4_OPTIONS_UDP = hex(`
  02427a3c519e 0242ac110002 0800               # Ethernet: IPv4
  46 00 0025 75a7 4000 40 11 d7f6              # IPv4: IHL 6, total 37, id 30119, DF, ttl 64, UDP, csum
  ac110002 ac110001                            #   172.17.0.2 > 172.17.0.1
  94040000                                     #   option: router alert
  c175 0007 000d a25f                          # UDP: 49525 > 7, length 13, csum 0xa25f
  68656c6c6f                                   #   "hello"
`);

/** The last fragment of a 1608-byte IPv6 UDP datagram: offset 1448, 160 bytes of zeros. 222 bytes. */
export const IPV6_LAST_FRAGMENT = hex(`
  02427a3c519e 0242ac110002 86dd               # Ethernet: IPv6
  60032174 00a8 2c 40                          # IPv6: flow 0x32174, payload 168, next fragment, hlim 64
  fd00ac11000000000000000000000002             #   src fd00:ac11::2
  fd00ac11000000000000000000000001             #   dst fd00:ac11::1
  11 00 05a8 c728a9e5                          # fragment: next UDP, offset 1448, M=0, id 0xc728a9e5
  ${'00'.repeat(160)}
`);

/** DNS_QUERY with an 802.1Q tag: PCP 3, DEI 0, VID 100. 75 bytes. */
export const VLAN_DNS = hex(`
  02427a3c519e 0242ac110002                    # Ethernet addresses
  8100 6064                                    # 802.1Q tag: PCP 3, VID 100
  0800                                         # IPv4
  45 00 0039 7b4c 4000 40 11 6742 ac110002 ac110001
  a3c3 0035 0025 f7ba
  3c5d 0100 0001 0000 0000 0000 07 6578616d706c65 03 636f6d 00 0001 0001
`);

/** ICMP_ECHO with an 802.1ad S-tag (VID 200) and an 802.1Q C-tag (VID 300). 90 bytes. */
export const QINQ_ICMP = hex(`
  02427a3c519e 0242ac110002                    # Ethernet addresses
  88a8 00c8                                    # 802.1ad S-tag: VID 200
  8100 012c                                    # 802.1Q C-tag: VID 300
  0800                                         # IPv4
  45 00 0044 2733 4000 40 01 bb60 ac110002 ac110001
  08 00 5833 e0f8 0001
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637
`);

/** ICMP_ECHO carried in VXLAN VNI 4242 from 172.17.0.2:51234 to 172.17.0.1:4789. 132 bytes. */
export const VXLAN_ICMP = hex(`
  02427a3c519e 0242ac110002 0800               # outer Ethernet: IPv4
  45 00 0076 1d2e 4000 40 11 c523              # outer IPv4: total 118, id 7470, DF, ttl 64, UDP, csum
  ac110002 ac110001                            #   172.17.0.2 > 172.17.0.1
  c822 12b5 0062 0000                          # UDP: 51234 > 4789, length 98, no checksum
  08 000000 001092 00                          # VXLAN: I flag, VNI 4242
  02427a3c519e 0242ac110002 0800               # inner Ethernet (ICMP_ECHO from here on)
  45 00 0044 2733 4000 40 01 bb60 ac110002 ac110001
  08 00 5833 e0f8 0001
  101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637
`);

/** A copy of a fixture, to mutate in a test. */
export function copy(frame: Uint8Array): Uint8Array {
  return Uint8Array.from(frame);
}

/** The fixture placed `at` bytes into a larger zeroed buffer, as frames sit in the pool after headroom. */
export function inPool(frame: Uint8Array, at: number, size = at + frame.length + 64): Uint8Array {
  const pool = new Uint8Array(size);
  pool.set(frame, at);
  return pool;
}
