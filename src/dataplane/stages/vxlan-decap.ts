/**
 * vxlan-decap: frames received on a VTEP socket become frames of an overlay network.
 *
 * The underlay put each datagram's VXLAN header in the 8 headroom bytes just before the inner frame,
 * and the sender's address before that (overlay/underlay.ts), so decapsulation is checks and a port
 * change, never a copy:
 * - vxlan-truncated: the datagram cannot hold a VXLAN header and an Ethernet header;
 * - vxlan-bad-flags: the I flag (VNI valid) is clear (RFC 7348 section 5; other reserved bits are
 *   ignored, as the RFC says, where Linux is stricter);
 * - vxlan-unknown-vni: no overlay network on this VTEP has the VNI;
 * - vxlan-not-a-peer: an encrypted network's frame from a WireGuard peer that is not one of that
 *   network's own peers (VxlanPort.authenticatedSenders);
 * these are counted on the socket port. A good frame's D_PORT becomes its network's VxlanPort (whose rx
 * counters count it), and, with learning on, its source MAC is learned behind that port and the
 * sender's VTEP (flood-and-learn; an IPv6 underlay's number for it, overlay/underlay.ts). Frames from other ports pass untouched: the cost for them
 * is one property read per frame. In a trace dry run nothing is learned.
 */
import { read32 } from '../../packet/bytes.js';
import { formatMac, readMac } from '../../packet/mac.js';
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_LEN, D_OFF, D_PORT } from '../layout.js';
import { META_SRC_IP_BACK, VXLAN_HDR_BACK, vtepTextOf } from '../overlay/underlay.js';
import type { VtepSocketPort } from '../ports/vtep-socket-port.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';

const VXLAN_FLAG_I = 0x08;
const ETH_HLEN = 14;

export class VxlanDecapStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'vxlan-decap';
  readonly next = ['ingress'] as const;
  readonly dropReasons: readonly DropReason[] = ['vxlan-truncated', 'vxlan-bad-flags', 'vxlan-unknown-vni', 'vxlan-not-a-peer'];

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const now = ctx.now;
    const learn = !ctx.dryRun;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const port = ports[desc[d + D_PORT]]!;
      if (port.kind !== 'vtep') {
        rows[w++] = row;
        continue;
      }
      const sock = port as VtepSocketPort;
      const len = desc[d + D_LEN];
      const off = desc[d + D_OFF];
      if (len < ETH_HLEN) {
        countDrop(this, sock, batch, row, DROP['vxlan-truncated']);
        if (tracer) tracer.add(this.name, row, `drop vxlan-truncated: ${len + VXLAN_HDR_BACK} bytes of UDP payload`);
        continue;
      }
      const h = off - VXLAN_HDR_BACK;
      if ((bytes[h] & VXLAN_FLAG_I) === 0) {
        countDrop(this, sock, batch, row, DROP['vxlan-bad-flags']);
        if (tracer) tracer.add(this.name, row, `drop vxlan-bad-flags: flags 0x${bytes[h].toString(16).padStart(2, '0')} without I (0x08)`);
        continue;
      }
      const vni = (bytes[h + 4] << 16) | (bytes[h + 5] << 8) | bytes[h + 6];
      const vx = sock.networks.get(vni);
      if (vx === undefined) {
        countDrop(this, sock, batch, row, DROP['vxlan-unknown-vni']);
        if (tracer) tracer.add(this.name, row, `drop vxlan-unknown-vni: VNI ${vni} is not an overlay network on ${sock.name}`);
        continue;
      }
      const srcVtep = read32(bytes, off - META_SRC_IP_BACK);
      if (vx.authenticatedSenders !== null && !vx.authenticatedSenders.has(srcVtep)) {
        countDrop(this, sock, batch, row, DROP['vxlan-not-a-peer']);
        if (tracer) tracer.add(this.name, row, `drop vxlan-not-a-peer: VNI ${vni} (${vx.name}) from WireGuard peer ${vtepTextOf(sock.underlay, srcVtep)}, which is not one of that network's peers`);
        continue;
      }
      desc[d + D_PORT] = vx.id;
      const c = vx.counters;
      c.rxPackets++;
      c.rxBytes += len;
      if (batch.notes !== null) batch.notes[row] = `vxlan vni ${vni} from ${vtepTextOf(sock.underlay, srcVtep)}`;
      if (vx.learning && (bytes[off + 6] & 1) === 0) {
        const mac = readMac(bytes, off + 6);
        if (mac !== 0 && learn) vx.domain?.fdb.learnRemote(mac, vx, srcVtep, now);
        if (tracer) tracer.add(this.name, row, `VNI ${vni} from VTEP ${vtepTextOf(sock.underlay, srcVtep)} -> ${vx.name}; ${learn ? 'learn' : 'would learn'} ${formatMac(mac)} behind ${vtepTextOf(sock.underlay, srcVtep)}`);
      } else if (tracer) {
        tracer.add(this.name, row, `VNI ${vni} from VTEP ${vtepTextOf(sock.underlay, srcVtep)} -> ${vx.name}`);
      }
      rows[w++] = row;
    }
    batch.count = w;
  }
}
