/**
 * ingress: the first check every frame meets.
 *
 * - runt: shorter than an Ethernet header (14 bytes).
 * - bad-vnet-hdr: the virtio-net header does not fit the frame: a GSO type we never offered (only
 *   TCPv4/TCPv6, optionally with ECN), GSO without a segment size, a checksum offset past the end, or a
 *   read shorter than the header itself (length -1 from the addon).
 * - bad-src-mac: multicast (I/G bit) or all-zero source MAC; no real NIC sends one.
 * - spoofed-src-mac: port security. A container port may only send with its own MAC as source.
 * - no-domain: the port is not in any L2 domain (mid-teardown).
 *
 * One pass, reading two or three bytes per frame; survivors are compacted in place.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason } from '../drop-reasons.js';
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
import { readMac, formatMac } from '../../packet/mac.js';
import type { Stage, StageContext } from '../stage.js';

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

export class IngressStage implements Stage {
  readonly name = 'ingress';
  readonly next = ['l2-learn'] as const;
  readonly dropReasons: readonly DropReason[] = ['runt', 'bad-vnet-hdr', 'bad-src-mac', 'spoofed-src-mac', 'no-domain'];

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
          } else if (port.domain === null) {
            reason = DROP['no-domain'];
          }
        }
      }
      if (reason >= 0) {
        port.counters.drops[reason]++;
        if (tracer) tracer.add(this.name, row, `drop ${this.dropReasonName(reason)}${why ? `: ${why}` : ''}`);
        continue;
      }
      if (tracer) tracer.add(this.name, row, `accept from ${port.name} (${len} bytes${desc[d + D_GSO_TYPE] ? `, gso mss ${desc[d + D_GSO_SIZE]}` : ''})`);
      rows[w++] = row;
    }
    batch.count = w;
  }

  private dropReasonName(reason: number): string {
    return this.dropReasons.find((r) => DROP[r] === reason) ?? String(reason);
  }
}
