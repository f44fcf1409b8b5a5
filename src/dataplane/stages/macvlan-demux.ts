/**
 * macvlan: MAC demux on a parent interface, with the kernel macvlan driver's sibling rules. It decides
 * every frame of a macvlan network (D_OUT); its class (graph.ts) goes from here to egress, and frames
 * of other networks never reach this stage.
 *
 * From the parent (the uplink port):
 *   unicast to a member's MAC      -> that member; any other unicast is dropped (`uplink-no-member`:
 *                                     the LAN's traffic for other hosts, or for the host itself)
 *   broadcast / multicast          -> every member (OUT_FLOOD from the uplink)
 *   passthru                       -> everything to the one child
 * From a child (a container's TAP):
 *   unicast to the host shim       -> the shim, in every mode
 *   unicast to a sibling           bridge: the sibling; private: dropped (`macvlan-private`);
 *                                  vepa: out by the parent (the adjacent switch hairpins it back)
 *   unicast to anything else       -> the parent
 *   broadcast / multicast          bridge: siblings, shim and parent (OUT_FLOOD);
 *                                  private / vepa: parent and shim only
 *   passthru                       -> everything to the parent
 * From the host shim: like a bridge-mode child in every mode (the host must reach all its containers).
 *
 * What the LAN sends back (a hairpinning switch, or a spoofer) carries one of our members' MACs as its
 * source:
 *   unicast, private mode          dropped (`macvlan-private`): private holds also through the parent
 *   broadcast from a vepa child    every child but its sender (the VEPA case: siblings meet outside)
 *   any other broadcast of ours    dropped (`macvlan-reflected`): it was delivered locally already
 *                                  (the kernel macvlan does the same, except that it hands a private
 *                                  child its own broadcast back; we do not)
 *
 * Multi-port sets that are neither one port nor "all but the ingress port" are queued here directly
 * (replicate.ts, D_OUT = OUT_QUEUED). Performance: no allocation; one array load per frame to find the
 * network, one Map lookup for a unicast destination, one for a group frame's source.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason } from '../drop-reasons.js';
import { DESC_STRIDE, D_OFF, D_OUT, OUT_FLOOD } from '../layout.js';
import type { ParentNetwork } from '../parent-networks.js';
import type { Port } from '../port.js';
import { replicateToPorts } from '../replicate.js';
import { KEEP, ParentDemuxStage } from './parent-demux.js';
import { formatMac, readMac } from '../../packet/mac.js';


export class MacvlanDemuxStage extends ParentDemuxStage {
  protected readonly kind = 'macvlan' as const;
  readonly name = 'macvlan';
  readonly next = ['egress'] as const;
  readonly dropReasons: readonly DropReason[] = ['uplink-no-member', 'uplink-down', 'macvlan-private', 'macvlan-reflected', 'same-port'];
  /** Scratch list for the private/vepa child broadcast target set (parent + shim). */
  private readonly pair: Port[] = [];




  protected fromParent(batch: Batch, row: number, net: ParentNetwork, uplink: Port): number {
    const bytes = batch.pool.bytes;
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const tracer = batch.tracer;
    if (net.mode === 'passthru') {
      const child = net.passthruChild;
      if (child === undefined) {
        this.why = 'passthru network without its child';
        return DROP['uplink-no-member'];
      }
      desc[d + D_OUT] = child.id;
      if (tracer) tracer.add(this.name, row, `passthru: parent -> ${child.label}`);
      return KEEP;
    }
    if (bytes[off] & 1) {
      const src = readMac(bytes, off + 6);
      const sender = net.byMac.get(src);
      if (sender === undefined) {
        desc[d + D_OUT] = OUT_FLOOD;
        if (tracer) tracer.add(this.name, row, `group ${formatMac(readMac(bytes, off))} from the LAN -> every member`);
        return KEEP;
      }
      if (sender !== net.shim && net.mode === 'vepa') {
        const n = replicateToPorts(this.egress, batch, row, net.children, sender);
        if (n > 0) {
          if (batch.notes !== null) batch.notes[row] = `macvlan vepa: reflected broadcast of ${sender.label} -> ${n} children`;
          if (tracer) tracer.add(this.name, row, `vepa: ${sender.label}'s group frame came back from the LAN -> ${n} other children`);
          return KEEP;
        }
        if (tracer) this.why = `${sender.label}'s group frame came back and it has no siblings`;
        return DROP['macvlan-reflected'];
      }
      if (sender !== net.shim && net.mode === 'private') {
        if (tracer) this.why = `${sender.label}'s group frame came back through the parent (mode private)`;
        return DROP['macvlan-private'];
      }
      if (tracer) this.why = `${sender.label}'s group frame came back from the LAN; it was delivered locally already`;
      return DROP['macvlan-reflected'];
    }
    const dst = readMac(bytes, off);
    const target = net.byMac.get(dst);
    if (target === undefined) {
      if (tracer) this.why = `${formatMac(dst)} is no member of this network`;
      return DROP['uplink-no-member'];
    }
    if (net.mode === 'private' && target !== net.shim) {
      const sender = net.byMac.get(readMac(bytes, off + 6));
      if (sender !== undefined && sender !== net.shim) {
        if (tracer) this.why = `${sender.label} -> ${target.label} hairpinned back through the parent (mode private)`;
        return DROP['macvlan-private'];
      }
    }
    desc[d + D_OUT] = target.id;
    if (tracer) tracer.add(this.name, row, `parent -> ${target.label} (${formatMac(dst)})`);
    return KEEP;
  }

  protected fromMember(batch: Batch, row: number, net: ParentNetwork, port: Port): number {
    const bytes = batch.pool.bytes;
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const tracer = batch.tracer;
    const uplink = net.uplink;
    if (uplink === null) {
      this.why = 'the network has no parent';
      return DROP['uplink-down'];
    }
    const isShim = port === net.shim;
    if (net.mode === 'passthru' && !isShim) {
      desc[d + D_OUT] = uplink.id;
      if (tracer) tracer.add(this.name, row, `passthru: ${port.label} -> parent ${uplink.name}`);
      return KEEP;
    }
    if (bytes[off] & 1) {
      if (isShim || net.mode === 'bridge') {
        desc[d + D_OUT] = OUT_FLOOD;
        if (tracer) tracer.add(this.name, row, `group frame, ${isShim ? 'host shim' : 'mode bridge'}: siblings, shim and parent`);
        return KEEP;
      }
      if (net.shim === null) {
        desc[d + D_OUT] = uplink.id;
        if (tracer) tracer.add(this.name, row, `group frame, mode ${net.mode}: parent only`);
        return KEEP;
      }
      const pair = this.pair;
      pair.length = 0;
      pair.push(uplink, net.shim);
      replicateToPorts(this.egress, batch, row, pair, null);
      if (batch.notes !== null) batch.notes[row] = `macvlan ${net.mode}: group frame -> parent and host shim`;
      if (tracer) tracer.add(this.name, row, `group frame, mode ${net.mode}: parent and host shim only`);
      return KEEP;
    }
    const dst = readMac(bytes, off);
    const target = net.byMac.get(dst);
    if (target === undefined) {
      desc[d + D_OUT] = uplink.id;
      if (tracer) tracer.add(this.name, row, `${formatMac(dst)} is not ours -> parent ${uplink.name}`);
      return KEEP;
    }
    if (target === port) {
      if (tracer) this.why = `${formatMac(dst)} is the sender's own MAC`;
      return DROP['same-port'];
    }
    if (isShim || target === net.shim || net.mode === 'bridge') {
      desc[d + D_OUT] = target.id;
      if (tracer) tracer.add(this.name, row, `${isShim || target === net.shim ? 'host shim' : 'mode bridge'}: ${port.label} -> ${target.label}`);
      return KEEP;
    }
    if (net.mode === 'private') {
      if (tracer) this.why = `${port.label} -> ${target.label} is container to container (mode private)`;
      return DROP['macvlan-private'];
    }
    desc[d + D_OUT] = uplink.id; // vepa: siblings meet at the adjacent switch
    if (tracer) tracer.add(this.name, row, `mode vepa: ${port.label} -> ${target.label} leaves by the parent`);
    return KEEP;
  }
}

