/**
 * arp-suppress: on overlay networks, answer ARP requests from local ports in place when the switch
 * knows the answer, so that broadcasts for known pairs never cross the underlay (head-end replication
 * would copy every one of them to every peer). What the kernel's vxlan does with `proxy` and Docker
 * overlay with its static neighbour entries.
 *
 * Per frame, reading two bytes unless it is ARP, or IPv4 from a remote VTEP:
 * - ARP request from a local port, not a probe (sender 0.0.0.0) nor gratuitous (sender == target):
 *   if the overlay's neighbor table knows the target IP (static: local endpoints, `fdb add --ip`;
 *   learned: not aged) and the FDB knows where that MAC lives (not behind the asking port; with
 *   icc=false not another container), the request is rewritten into the reply (ARP op 2, sender and
 *   target swapped, Ethernet addresses too) and sent back out of the ingress port (D_OUT = ingress):
 *   l2-learn and l2-fwd leave decided frames alone. Otherwise it goes on and floods as usual.
 * - Learning (with the network's learning on, never in a dry run), from frames decapsulated from
 *   remote VTEPs only: the sender fields of ARP requests and replies, and the source of IPv4 packets
 *   inside the network's subnet (refreshing entries while traffic flows).
 * - IPv6: the same for Neighbor Discovery (overlay/nd-suppress.ts): a local Neighbor Solicitation for
 *   an address the IPv6 neighbor table knows (static: local endpoints' IPv6 addresses; learned: remote
 *   NS/NA inside the IPv6 subnet or link-local) is answered in place with the Neighbor Advertisement,
 *   under the same FDB rule; DAD probes never.
 * Frames of networks without an overlay port pass untouched. Nothing is dropped here.
 */
import { ArpView, ARP_REPLY, ARP_REQUEST, writeArpReply } from '../../packet/arp.js';
import { read32 } from '../../packet/bytes.js';
import { formatIpv4 } from '../../packet/ipv4.js';
import { formatMac, readMac } from '../../packet/mac.js';
import type { Batch } from '../batch.js';
import type { DropReason } from '../drop-reasons.js';
import { DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_CSUM_OFF, D_CSUM_START, D_GSO_SIZE, D_GSO_TYPE, D_HDR_LEN, D_LEN, D_OFF, D_OUT, D_PORT, D_VFLAGS, OUT_NONE } from '../layout.js';
import { VxlanPort } from '../ports/vxlan-port.js';
import { ndLearnable, ndType, solicitedTarget, writeNeighborAdvert } from '../overlay/nd-suppress.js';
import type { Stage, StageContext } from '../stage.js';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;

export class ArpSuppressStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'arp-suppress';
  readonly next = ['lb'] as const;
  readonly dropReasons: readonly DropReason[] = [];
  private readonly arp = new ArpView();

  process(batch: Batch, ctx: StageContext): void {
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const learn = !ctx.dryRun;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      if (desc[d + D_OUT] !== OUT_NONE) continue;
      const off = desc[d + D_OFF];
      const et = (bytes[off + 12] << 8) | bytes[off + 13];
      if (et === ETHERTYPE_IPV4) {
        const port = ports[desc[d + D_PORT]]!;
        if (port.kind !== 'vxlan' || !learn) continue;
        const vx = port as VxlanPort;
        if (!vx.learning || desc[d + D_LEN] < 34) continue;
        const src = read32(bytes, off + 26);
        if (vx.inSubnet(src)) vx.neighbors.learn(src, readMac(bytes, off + 6), ctx.now);
        continue;
      }
      if (et === ETHERTYPE_IPV6) {
        this.neighborDiscovery(batch, row, ctx);
        continue;
      }
      if (et !== ETHERTYPE_ARP) continue;
      const port = ports[desc[d + D_PORT]]!;
      const domain = port.domain;
      if (domain === null) continue;
      const vx = port.kind === 'vxlan' ? (port as VxlanPort) : VxlanPort.of(domain);
      if (vx === null) continue;
      const arp = this.arp;
      if (arp.bind(bytes, off + 14, desc[d + D_LEN] - 14) !== 'ok') continue;
      const senderIp = arp.senderIp;
      if (port === vx) {
        const op = arp.operation;
        // Only addresses of the network's subnet, as the IPv4 path learns: a remote sender must not fill
        // the table (and push out what suppression answers from) with addresses that are not there.
        if ((op === ARP_REQUEST || op === ARP_REPLY) && senderIp !== 0 && vx.learning && (bytes[off + 14 + 8] & 1) === 0 && (vx.subnetMask === 0 || vx.inSubnet(senderIp))) {
          if (learn) vx.neighbors.learn(senderIp, arp.senderMac, ctx.now);
          if (tracer) tracer.add(this.name, row, `${learn ? 'learn' : 'would learn'} ${formatIpv4(senderIp)} is-at ${formatMac(arp.senderMac)} (from a remote VTEP)`);
        }
        continue;
      }
      if (arp.operation !== ARP_REQUEST) continue;
      const targetIp = arp.targetIp;
      if (senderIp === 0 || senderIp === targetIp) continue;
      const mac = vx.neighbors.lookup(targetIp, ctx.now);
      if (mac === undefined) {
        if (tracer) tracer.add(this.name, row, `who-has ${formatIpv4(targetIp)}: not known, goes on`);
        continue;
      }
      const fdb = domain.fdb;
      const s = fdb.find(mac); // a slot, not an entry object: nothing allocated per request
      const owner = s < 0 ? undefined : fdb.portAt(s);
      if (owner === undefined || owner === port || (!domain.icc && port.ownMac !== null && owner.ownMac !== null)) {
        if (tracer) tracer.add(this.name, row, `who-has ${formatIpv4(targetIp)}: ${formatMac(mac)} ${owner === undefined ? 'not in the FDB' : 'not answerable from here'}, goes on`);
        continue;
      }
      writeArpReply(bytes, off, mac, targetIp);
      // The reply is ours, not the request's: no checksum to complete, no segmentation.
      desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
      desc[d + D_OUT] = port.id;
      if (learn) vx.neighbors.suppressed++;
      if (batch.notes !== null) batch.notes[row] = `arp-suppress ${formatIpv4(targetIp)} is-at ${formatMac(mac)}`;
      if (tracer) tracer.add(this.name, row, `answer ${formatIpv4(targetIp)} is-at ${formatMac(mac)} back to ${port.name} (suppressed)`);
    }
  }

  /** IPv6 Neighbor Discovery of an overlay network: learn from remote NS/NA, answer local NS (see the header). */
  private neighborDiscovery(batch: Batch, row: number, ctx: StageContext): void {
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    const type = ndType(bytes, off, len);
    if (type === 0) return;
    const port = batch.ports[desc[d + D_PORT]]!;
    const domain = port.domain;
    if (domain === null) return;
    const vx = port.kind === 'vxlan' ? (port as VxlanPort) : VxlanPort.of(domain);
    if (vx === null) return;
    const tracer = batch.tracer;
    const learn = !ctx.dryRun;
    if (port === vx) {
      if (!vx.learning) return;
      // The sender must live behind the overlay (vxlan-decap has learned it there): a remote frame
      // carrying a local port's MAC as its source teaches nothing.
      const fs = domain.fdb.find(readMac(bytes, off + 6));
      if (fs < 0 || domain.fdb.portAt(fs) !== vx) return;
      for (const [ip, mac] of ndLearnable(bytes, off, len, type, (b, at) => vx.inSubnet6(b, at))) {
        if (learn) vx.neighbors6.learn(ip, mac, ctx.now);
        if (tracer) tracer.add(this.name, row, `${learn ? 'learn' : 'would learn'} ${ip} is-at ${formatMac(mac)} (from a remote VTEP)`);
      }
      return;
    }
    if (type !== 135) return;
    const target = solicitedTarget(bytes, off);
    if (target === null) return;
    const mac = vx.neighbors6.lookup(target, ctx.now);
    if (mac === undefined) {
      if (tracer) tracer.add(this.name, row, `neighbor solicitation for ${target}: not known, goes on`);
      return;
    }
    const fdb = domain.fdb;
    const s = fdb.find(mac);
    const owner = s < 0 ? undefined : fdb.portAt(s);
    if (owner === undefined || owner === port || (!domain.icc && port.ownMac !== null && owner.ownMac !== null)) {
      if (tracer) tracer.add(this.name, row, `neighbor solicitation for ${target}: ${formatMac(mac)} ${owner === undefined ? 'not in the FDB' : 'not answerable from here'}, goes on`);
      return;
    }
    desc[d + D_LEN] = writeNeighborAdvert(bytes, off, mac);
    desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
    desc[d + D_OUT] = port.id;
    if (learn) vx.neighbors6.suppressed++;
    if (batch.notes !== null) batch.notes[row] = `nd-suppress ${target} is-at ${formatMac(mac)}`;
    if (tracer) tracer.add(this.name, row, `answer ${target} is-at ${formatMac(mac)} back to ${port.name} (neighbor solicitation suppressed)`);
  }
}
