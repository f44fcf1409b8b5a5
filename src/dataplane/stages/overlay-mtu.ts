/**
 * overlay-mtu: frames about to be encapsulated that the underlay cannot carry are never lost silently.
 *
 * A frame bound for a VxlanPort (unicast to it, or a flood from a local port of an overlay network)
 * fits when it — for a GSO super-frame, one full segment of it — plus 36 bytes of outer IPv4, UDP and
 * VXLAN headers (56 over an IPv6 underlay) fits the underlay MTU (overlay/frame-fit.ts). One that does not:
 * - is counted (`overlay-mtu-exceeded`);
 * - if it is IPv4 with DF, gets an ICMP "fragmentation needed" back to its sender with the overlay MTU
 *   (underlay MTU - 50, - 70 over IPv6) as next-hop MTU, so the sender's path MTU discovery converges (TCP lowers its
 *   MSS) instead of black-holing: a unicast frame is turned into that ICMP in place and sent out of its
 *   ingress port; for a flood, the ICMP is built in a free slot and the flood goes on to the local ports
 *   (the VxlanPort drops and counts its copy);
 * - if it is IPv6, gets an ICMPv6 Packet Too Big back the same way (overlay/icmpv6-too-big.ts: IPv6
 *   is never fragmented on the way, so this is the only way its sender learns);
 * - otherwise (IPv4 without DF, anything else) a unicast one is dropped here.
 * Everything else passes at the cost of one comparison per frame (frame length against the limit).
 */
import { formatIpv4 } from '../../packet/ipv4.js';
import { readMac } from '../../packet/mac.js';
import type { Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_GSO_SIZE, D_GSO_TYPE, D_LEN, D_OFF, D_OUT, D_PORT, D_SLOT, OUT_FLOOD } from '../layout.js';
import { wireFrameLength } from '../overlay/frame-fit.js';
import { localVtepText, vtepTextOf } from '../overlay/underlay.js';
import { ipv4DfOffset, rewriteAsFragNeeded, writeFragNeeded } from '../overlay/icmp-frag-needed.js';
import { ipv6TooBigOffset, rewriteAsTooBig, writeTooBig } from '../overlay/icmpv6-too-big.js';
import { VxlanPort } from '../ports/vxlan-port.js';
import type { Stage, StageContext } from '../stage.js';

export class OverlayMtuStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'overlay-mtu';
  readonly next = ['egress'] as const;
  readonly dropReasons: readonly DropReason[] = ['overlay-mtu-exceeded'];
  private usedSlots = new Uint8Array(0);
  private usedRows = new Uint8Array(0);
  /** (row, slot) pairs of ICMP messages built in this burst, to append to the batch. */
  private readonly pendingIcmp: number[] = [];

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const pool = batch.pool;
    const desc = pool.desc;
    const bytes = pool.bytes;
    let w = 0;
    const count = batch.count;
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const out = desc[d + D_OUT];
      let vx: VxlanPort | null = null;
      if (out >= 0) {
        const p = ports[out];
        if (p !== undefined && p.kind === 'vxlan') vx = p as VxlanPort;
      } else if (out === OUT_FLOOD) {
        const inPort = ports[desc[d + D_PORT]]!;
        if (inPort.kind !== 'vxlan' && inPort.domain !== null) vx = VxlanPort.of(inPort.domain);
      }
      const len = desc[d + D_LEN];
      if (vx === null || len <= vx.maxInnerFrame) {
        if (tracer && vx !== null) tracer.add(this.name, row, this.encapDecision(vx, bytes, desc[d + D_OFF]));
        rows[w++] = row;
        continue;
      }
      const off = desc[d + D_OFF];
      const wire = wireFrameLength(bytes, off, len, desc[d + D_GSO_TYPE], desc[d + D_GSO_SIZE]);
      if (wire <= vx.maxInnerFrame) {
        if (tracer) tracer.add(this.name, row, `${this.encapDecision(vx, bytes, off)} (GSO: segments of ${wire} bytes fit)`);
        rows[w++] = row;
        continue;
      }
      const inPort = ports[desc[d + D_PORT]]!;
      const l3 = ipv4DfOffset(bytes, off, len);
      const l3v6 = l3 < 0 ? ipv6TooBigOffset(bytes, off, len) : -1;
      const mtu = vx.overlayMtu - (l3 === 18 || l3v6 === 18 ? 4 : 0);
      // Explanations are formatted only while a trace runs: this is the path of every oversized frame.
      const what = tracer ? `${wire}-byte frame does not fit ${vx.name} (underlay MTU ${vx.underlayMtu}: at most ${vx.maxInnerFrame})` : '';
      if (out >= 0) {
        inPort.counters.drops[DROP['overlay-mtu-exceeded']]++;
        this.drops[DROP['overlay-mtu-exceeded']]++;
        if (l3 >= 0) {
          const src = tracer ? formatIpv4(((bytes[off + l3 + 12] << 24) | (bytes[off + l3 + 13] << 16) | (bytes[off + l3 + 14] << 8) | bytes[off + l3 + 15]) >>> 0) : '';
          if (rewriteAsFragNeeded(pool, row, l3, mtu)) {
            if (batch.notes !== null) batch.notes[row] = `overlay-mtu ${wire} > ${vx.maxInnerFrame}: icmp frag-needed mtu ${mtu}`;
            if (tracer) tracer.add(this.name, row, `drop overlay-mtu-exceeded: ${what}; ICMP frag-needed (mtu ${mtu}) back to ${src} via ${inPort.name}`);
            rows[w++] = row;
            continue;
          }
        }
        if (l3v6 >= 0 && rewriteAsTooBig(pool, row, l3v6, mtu)) {
          if (batch.notes !== null) batch.notes[row] = `overlay-mtu ${wire} > ${vx.maxInnerFrame}: icmp6 packet-too-big mtu ${mtu}`;
          if (tracer) tracer.add(this.name, row, `drop overlay-mtu-exceeded: ${what}; ICMPv6 packet too big (mtu ${mtu}) back via ${inPort.name}`);
          rows[w++] = row;
          continue;
        }
        batch.dropReason[row] = DROP['overlay-mtu-exceeded'];
        if (tracer) tracer.add(this.name, row, `drop overlay-mtu-exceeded: ${what}${l3 < 0 && l3v6 < 0 ? ' (neither IPv4 with DF nor IPv6: no ICMP)' : ' (no headroom for the ICMP)'}`);
        continue;
      }
      // A flood: local ports still get the frame; the VxlanPort drops and counts its copy.
      rows[w++] = row;
      if (l3 < 0 && l3v6 < 0) {
        if (tracer) tracer.add(this.name, row, `${what}: the overlay copy will be dropped`);
        continue;
      }
      const icmp = l3 >= 0 ? `ICMP frag-needed (mtu ${mtu})` : `ICMPv6 packet too big (mtu ${mtu})`;
      if (ctx.dryRun) {
        if (tracer) tracer.add(this.name, row, `${what}: the overlay copy will be dropped; would send an ${icmp} back`);
        continue;
      }
      const spare = this.freeSlotAndRow(batch, count);
      if (spare !== null) {
        if (l3 >= 0) writeFragNeeded(pool, row, l3, mtu, spare.slot, spare.row);
        else writeTooBig(pool, row, l3v6, mtu, spare.slot, spare.row);
        this.pendingIcmp.push(spare.row, spare.slot); // the row is appended to the batch after the loop: egress sends it back
      }
      const slot = spare === null ? -1 : spare.slot;
      if (tracer) tracer.add(this.name, row, `${what}: the overlay copy will be dropped; ${icmp} ${slot >= 0 ? 'sent back' : 'not sent (no free slot)'}`);
    }
    batch.count = w;
    for (let k = 0; k < this.pendingIcmp.length; k += 2) rows[batch.count++] = this.pendingIcmp[k];
    this.pendingIcmp.length = 0;
  }

  /** For trace: where the overlay copy of a frame will go. */
  private encapDecision(vx: VxlanPort, bytes: Uint8Array, off: number): string {
    const underlay = vx.vtep.underlay;
    let remote = 0; // the VTEP the FDB knows the unicast destination behind, if any
    const fdb = vx.domain?.fdb;
    if (fdb !== undefined && (bytes[off] & 1) === 0) {
      const s = fdb.find(readMac(bytes, off));
      if (s >= 0 && fdb.portAt(s) === vx) remote = fdb.remoteAt(s);
    }
    const to =
      remote !== 0
        ? `VTEP ${vtepTextOf(underlay, remote)}`
        : vx.peers.length
          ? `head-end to ${vx.peers.length} peer${vx.peers.length === 1 ? '' : 's'} (${vx.peers.map((p) => vtepTextOf(underlay, p)).join(', ')})`
          : 'nowhere (no peer, VTEP unknown: vxlan-no-remote)';
    return `fits; encapsulate VNI ${vx.vni} from ${localVtepText(underlay)} -> ${to}`;
  }

  /**
   * A pool slot and a descriptor row no live frame of this burst uses (searched from the top), or null.
   * Rows and slots are tracked apart: a VTEP's coalesced bursts describe frames in rows other than
   * their slots.
   */
  private freeSlotAndRow(batch: Batch, count: number): { slot: number; row: number } | null {
    const slots = batch.pool.slots;
    if (this.usedSlots.length < slots) {
      this.usedSlots = new Uint8Array(slots);
      this.usedRows = new Uint8Array(slots);
    }
    const usedSlots = this.usedSlots;
    const usedRows = this.usedRows;
    usedSlots.fill(0);
    usedRows.fill(0);
    const desc = batch.pool.desc;
    // Every row of the burst, not only this list's: the other classes' lists and rows made earlier
    // (another list's ICMP) hold frames too. `arrival` has every row that passed ingress.
    const mark = (list: Int32Array, n: number) => {
      for (let i = 0; i < n; i++) {
        usedRows[list[i]] = 1;
        usedSlots[desc[list[i] * DESC_STRIDE + D_SLOT]] = 1;
      }
    };
    mark(batch.rows, count);
    if (batch.rows !== batch.arrival) mark(batch.arrival, batch.arrivalCount);
    for (let c = 0; c < batch.classRows.length; c++) mark(batch.classRows[c], batch.classCount[c]);
    for (let k = 0; k < this.pendingIcmp.length; k += 2) {
      usedRows[this.pendingIcmp[k]] = 1;
      usedSlots[this.pendingIcmp[k + 1]] = 1;
    }
    let slot = slots - 1;
    while (slot >= 0 && usedSlots[slot]) slot--;
    let row = slots - 1;
    while (row >= 0 && usedRows[row]) row--;
    return slot >= 0 && row >= 0 ? { slot, row } : null;
  }
}
