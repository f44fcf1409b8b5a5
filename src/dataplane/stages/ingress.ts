/**
 * ingress: the first check every frame meets.
 *
 * - runt: shorter than an Ethernet header (14 bytes).
 * - bad-vnet-hdr: the virtio-net header does not fit the frame: a GSO type we never offered (only
 *   TCPv4/TCPv6, optionally with ECN), GSO without a segment size, a checksum offset past the end, or a
 *   read shorter than the header itself (length -1 from the addon).
 * - bad-src-mac: multicast (I/G bit) or all-zero source MAC; no real NIC sends one.
 * - spoofed-src-mac: port security. A container port may only send with its own MAC as source.
 * - spoofed-src-ip: with IP port security (`-o port_security=ip`), an IPv4 packet or ARP message
 *   from a container port must carry the port's own address as source (0.0.0.0 is allowed: DHCP and
 *   ARP probes use it).
 * - spoofed-src-ipv6, spoofed-nd, ipv6-router-msg, bad-ipv6: the same for IPv6, whose rule (the
 *   port's own link-local address or ::, Neighbor Discovery for its own address only, no router
 *   messages) is ipv6-port-security.ts's.
 * - no-domain: the port is not in any L2 domain (mid-teardown).
 *
 * One pass, reading two or three bytes per frame; survivors are compacted in place.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import {
  DESC_STRIDE,
  D_CSUM_OFF,
  D_CSUM_START,
  D_GSO_SIZE,
  D_GSO_TYPE,
  D_LEN,
  D_OFF,
  D_PORT,
  D_VFLAGS,
  GSO_ECN,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  VNET_F_NEEDS_CSUM,
} from '../layout.js';
import { formatIpv4 } from '../../packet/ipv4.js';
import { readMac, formatMac } from '../../packet/mac.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';
import { ipv6PortSecurityProblem } from './ipv6-port-security.js';

const ETH_HLEN = 14;

/** Why a virtio-net header is inconsistent with its frame, or null if it is fine. */
function vnetProblem(desc: Int32Array, d: number, len: number): string | null {
  const gso = desc[d + D_GSO_TYPE] & ~GSO_ECN;
  if (gso !== GSO_NONE) {
    if (gso !== GSO_TCPV4 && gso !== GSO_TCPV6) return `gso type ${desc[d + D_GSO_TYPE]} not offered`;
    if (desc[d + D_GSO_SIZE] === 0) return 'gso without a segment size';
  }
  if (desc[d + D_VFLAGS] & VNET_F_NEEDS_CSUM) {
    if (desc[d + D_CSUM_START] + desc[d + D_CSUM_OFF] + 2 > len) return 'checksum offset past the end';
  }
  return null;
}

/** Why an IPv4/ARP frame's source address is not `ownIp` (0.0.0.0 allowed), or null. */
function sourceIpProblem(bytes: Uint8Array, off: number, len: number, ownIp: number, ownMac: number | null): { reason: 'runt' | 'spoofed-src-ip'; why: string } | null {
  const type = (bytes[off + 12] << 8) | bytes[off + 13];
  let at = -1;
  // Too short to check is refused, not passed: a NIC pads a short frame with zeros on the wire, and a
  // 41-byte ARP then reaches the LAN whole, with a sender address nobody checked.
  if (type === 0x0800) {
    if (len < 34) return { reason: 'runt', why: `IPv4 in ${len} bytes: shorter than its header (34), its source cannot be checked` };
    at = off + 26; // IPv4 source address
  } else if (type === 0x0806) {
    if (len < 42) return { reason: 'runt', why: `ARP in ${len} bytes: shorter than an Ethernet ARP (42), its sender cannot be checked` };
    at = off + 28; // ARP sender protocol address
    // The sender hardware address too: a port may announce only itself.
    if (ownMac !== null && readMac(bytes, off + 22) !== ownMac) return { reason: 'spoofed-src-ip', why: `ARP sender ${formatMac(readMac(bytes, off + 22))} is not the port's ${formatMac(ownMac)}` };
  } else if (type === 0x8100 || type === 0x88a8 || type === 0x9100) return { reason: 'spoofed-src-ip', why: 'a VLAN tag from a container port' };
  if (at < 0) return null;
  const src = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  if (src === ownIp || src === 0) return null;
  return { reason: 'spoofed-src-ip', why: `source ${formatIpv4(src)} is not the port's ${formatIpv4(ownIp)}` };
}

export class IngressStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'ingress';
  readonly next = ['arp-suppress', 'lb', 'macvlan', 'ipvlan'] as const;
  readonly dropReasons: readonly DropReason[] = ['runt', 'bad-vnet-hdr', 'bad-src-mac', 'spoofed-src-mac', 'spoofed-src-ip', 'spoofed-src-ipv6', 'spoofed-nd', 'ipv6-router-msg', 'bad-ipv6', 'no-domain'];

  process(batch: Batch, _ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const len = desc[d + D_LEN];
      const port = ports[desc[d + D_PORT]]!;
      let reason = -1;
      let why = '';
      let v6: ReturnType<typeof ipv6PortSecurityProblem> = null;
      let ipProblem: ReturnType<typeof sourceIpProblem> = null;
      if (len < 0) {
        reason = DROP['bad-vnet-hdr'];
        why = 'read shorter than the virtio-net header';
      } else if (len < ETH_HLEN) {
        reason = DROP.runt;
        why = `${len} bytes`;
      } else {
        const problem = vnetProblem(desc, d, len);
        const off = desc[d + D_OFF];
        if (problem !== null) {
          reason = DROP['bad-vnet-hdr'];
          why = problem;
        } else if (bytes[off + 6] & 1) {
          reason = DROP['bad-src-mac'];
          why = 'multicast source';
        } else {
          const src = readMac(bytes, off + 6);
          if (src === 0) {
            reason = DROP['bad-src-mac'];
            why = 'zero source';
          } else if (port.ownMac !== null && src !== port.ownMac) {
            reason = DROP['spoofed-src-mac'];
            why = `source ${formatMac(src)} is not the port's ${formatMac(port.ownMac)}`;
          } else if (port.ownIp !== null && (ipProblem = sourceIpProblem(bytes, off, len, port.ownIp, port.ownMac)) !== null) {
            reason = DROP[ipProblem.reason];
            why = ipProblem.why;
          } else if (port.ownIp !== null && bytes[off + 12] === 0x86 && bytes[off + 13] === 0xdd && (v6 = ipv6PortSecurityProblem(bytes, off + ETH_HLEN, off + len, src, port.ownIp6)) !== null) {
            reason = DROP[v6.reason];
            why = v6.why;
          } else if (port.domain === null) {
            reason = DROP['no-domain'];
          }
        }
      }
      if (reason >= 0) {
        countDrop(this, port, batch, row, reason);
        if (tracer) tracer.add(this.name, row, `drop ${this.dropReasonName(reason)}${why ? `: ${why}` : ''}`);
        continue;
      }
      if (tracer) tracer.add(this.name, row, `accept from ${port.label} (${len} bytes${desc[d + D_GSO_TYPE] ? `, gso mss ${desc[d + D_GSO_SIZE]}` : ''})`);
      rows[w++] = row;
    }
    batch.count = w;
  }

  private dropReasonName(reason: number): string {
    return this.dropReasons.find((r) => DROP[r] === reason) ?? String(reason);
  }
}
