/**
 * Zero-copy, bounds-checked packet views and the Internet checksum.
 *
 * Each view (`EthernetView`, `ArpView`, `Ipv4View`, `Ipv6View`, `IcmpView`, `UdpView`, `TcpView`,
 * `VxlanView`) is a reusable object: `bind(buf, off, len)` points it at bytes in the frame pool and
 * checks lengths and consistency once, returning `'ok'` or a named `ParseResult`; after 'ok' its
 * getters and setters read and write the bytes in place without further checks. Allocate one view
 * of each kind per stage, rebind it per frame. `emit*` functions write a fresh header from field
 * values. MACs are 48-bit numbers and IPv4 addresses uint32 numbers; text forms only at the edges.
 */
export * from './constants.js';
export * from './result.js';
export * from './bytes.js';
export * from './mac.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
export * from './vxlan.js';
