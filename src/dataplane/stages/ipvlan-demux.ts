/**
 * ipvlan: L2 mode of Docker's ipvlan driver, in user space. Every member (container TAP, host shim)
 * carries the parent's MAC, so the LAN sees one MAC for all of them, and frames are demultiplexed by
 * destination IPv4 address. It decides every frame of an ipvlan network (D_OUT); its class (graph.ts)
 * goes from here to egress, and frames of other networks never reach this stage.
 *
 * From the parent (the uplink port):
 *   ARP request for a child's address -> answered in place with the parent's MAC, back out the parent
 *                                        (gratuitous ARPs, sender = target, are not answered)
 *   other broadcast / multicast       -> every child (OUT_FLOOD; not the shim, when there is one: the
 *                                        host sees the parent's traffic itself, it would get it twice)
 *   unicast to the parent's MAC       -> the child whose address is the IPv4 destination (ARP: the
 *                                        target address) or, on a dual-stack network, the IPv6 one;
 *                                        anything else is the host's own traffic (`uplink-no-member`)
 *   unicast to another MAC            -> dropped (`uplink-no-member`)
 * From a member (child or shim), first the source MAC is made the parent's (Ethernet source and ARP
 * sender), in case a container changed its interface's address:
 *   ARP request for another member    -> answered in place with the parent's MAC, back to the sender
 *   other broadcast / multicast       -> the other members and the parent (OUT_FLOOD)
 *   unicast to the parent's MAC       -> the member with that IPv4 (or IPv6) destination; none: it was
 *                                        for the host itself, which only the shim reaches (`ipvlan-to-host`)
 *   unicast to another MAC            -> the parent (a host on the LAN)
 *
 * IPv6 Neighbor Discovery needs nothing of its own: solicitations are multicast (to every member, as
 * above) and the owner's kernel answers with its interface's MAC, which is the parent's. Children have
 * no link-local address (their TAPs are made with addr_gen_mode none: every child has the parent's
 * MAC, so EUI-64 would give them all the same one), so ND runs from their global addresses.
 *
 * Members cannot claim each other's addresses: their ports run with IP port security (ingress checks
 * the IPv4 and ARP source, and the IPv6 one), which is what makes demux by address safe. Performance: no allocation; one
 * array load per frame to find the network, one Map lookup by address per unicast frame.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason } from '../drop-reasons.js';
import { DESC_STRIDE, D_CSUM_OFF, D_CSUM_START, D_GSO_SIZE, D_GSO_TYPE, D_HDR_LEN, D_LEN, D_OFF, D_OUT, D_VFLAGS, OUT_FLOOD } from '../layout.js';
import type { ParentNetwork } from '../parent-networks.js';
import type { Port } from '../port.js';
import { replicateToPorts } from '../replicate.js';
import { KEEP, ParentDemuxStage } from './parent-demux.js';
import { read16, read32 } from '../../packet/bytes.js';
import { writeArpReply } from '../../packet/arp.js';
import { formatIpv4 } from '../../packet/ipv4.js';
import { formatIpv6 } from '../../packet/ipv6.js';
import { formatMac, readMac, writeMac } from '../../packet/mac.js';

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
/** An Ethernet/IPv4 ARP message: 28 bytes after the Ethernet header. */
const ARP_FRAME_LEN = ETH_HLEN + 28;

/** True if the frame at `off` is an Ethernet/IPv4 ARP message (htype 1, ptype IPv4, hlen 6, plen 4). */
function isArp(bytes: Uint8Array, off: number, len: number): boolean {
  if (len < ARP_FRAME_LEN || read16(bytes, off + 12) !== ETHERTYPE_ARP) return false;
  const a = off + ETH_HLEN;
  return read16(bytes, a) === 1 && read16(bytes, a + 2) === ETHERTYPE_IPV4 && bytes[a + 4] === 6 && bytes[a + 5] === 4;
}

const ETHERTYPE_IPV6 = 0x86dd;
/** Offset of the IPv6 destination address in an untagged frame. */
const IPV6_DST = ETH_HLEN + 24;

/** An untagged IPv6 frame long enough for its header. */
function isIpv6(bytes: Uint8Array, off: number, len: number): boolean {
  return len >= ETH_HLEN + 40 && read16(bytes, off + 12) === ETHERTYPE_IPV6;
}

/** The IPv4 address a unicast frame is for: the IPv4 destination, or an ARP message's target; -1 if neither. */
function destinationIp(bytes: Uint8Array, off: number, len: number): number {
  const et = read16(bytes, off + 12);
  if (et === ETHERTYPE_IPV4 && len >= ETH_HLEN + 20) return read32(bytes, off + ETH_HLEN + 16);
  if (et === ETHERTYPE_ARP && isArp(bytes, off, len)) return read32(bytes, off + ETH_HLEN + 24);
  return -1;
}

export class IpvlanDemuxStage extends ParentDemuxStage {
  protected readonly kind = 'ipvlan' as const;
  readonly name = 'ipvlan';
  readonly next = ['egress'] as const;
  readonly dropReasons: readonly DropReason[] = ['uplink-no-member', 'uplink-down', 'ipvlan-to-host', 'same-port'];



  protected fromParent(batch: Batch, row: number, net: ParentNetwork, uplink: Port): number {
    const bytes = batch.pool.bytes;
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    const tracer = batch.tracer;
    if (bytes[off] & 1) {
      if (isArp(bytes, off, len) && read16(bytes, off + ETH_HLEN + 6) === 1) {
        const target = read32(bytes, off + ETH_HLEN + 24);
        const member = net.byIp.get(target);
        if (member !== undefined && member !== net.shim && read32(bytes, off + ETH_HLEN + 14) !== target) {
          this.answerArp(batch, row, net, uplink, target);
          if (tracer) tracer.add(this.name, row, `arp reply: ${formatIpv4(target)} (${member.label}) is-at ${formatMac(net.parentMac)}, back out the parent`);
          return KEEP;
        }
      }
      if (net.shim === null) {
        desc[d + D_OUT] = OUT_FLOOD;
        if (tracer) tracer.add(this.name, row, `group ${formatMac(readMac(bytes, off))} from the LAN -> every member`);
        return KEEP;
      }
      const n = replicateToPorts(this.egress, batch, row, net.children, null);
      if (n === 0) {
        this.why = 'a group frame from the LAN and no container to take it';
        return DROP['uplink-no-member'];
      }
      if (batch.notes !== null) batch.notes[row] = `ipvlan: group frame from the LAN -> ${n} children`;
      if (tracer) tracer.add(this.name, row, `group ${formatMac(readMac(bytes, off))} from the LAN -> ${n} children (not the host shim)`);
      return KEEP;
    }
    const dst = readMac(bytes, off);
    if (dst !== net.parentMac) {
      if (tracer) this.why = `${formatMac(dst)} is not the parent's MAC ${formatMac(net.parentMac)}`;
      return DROP['uplink-no-member'];
    }
    if (isIpv6(bytes, off, len)) {
      const m6 = net.memberByIpv6(bytes, off + IPV6_DST);
      if (m6 === undefined || m6 === net.shim) {
        if (tracer) this.why = `${formatIpv6(bytes, off + IPV6_DST)} is no container of this network (the host's own traffic)`;
        return DROP['uplink-no-member'];
      }
      desc[d + D_OUT] = m6.id;
      if (tracer) tracer.add(this.name, row, `parent -> ${m6.label} (${formatIpv6(bytes, off + IPV6_DST)})`);
      return KEEP;
    }
    const ip = destinationIp(bytes, off, len);
    const member = ip >= 0 ? net.byIp.get(ip) : undefined;
    if (member === undefined || member === net.shim) {
      if (tracer) this.why = ip >= 0 ? `${formatIpv4(ip)} is no container of this network (the host's own traffic)` : `ethertype 0x${read16(bytes, off + 12).toString(16)} carries no IPv4 destination`;
      return DROP['uplink-no-member'];
    }
    desc[d + D_OUT] = member.id;
    if (tracer) tracer.add(this.name, row, `parent -> ${member.label} (${formatIpv4(ip)})`);
    return KEEP;
  }

  protected fromMember(batch: Batch, row: number, net: ParentNetwork, port: Port): number {
    const bytes = batch.pool.bytes;
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    const tracer = batch.tracer;
    const parentMac = net.parentMac;
    if (readMac(bytes, off + 6) !== parentMac) writeMac(bytes, off + 6, parentMac);
    const arp = isArp(bytes, off, len);
    if (arp && readMac(bytes, off + ETH_HLEN + 8) !== parentMac) writeMac(bytes, off + ETH_HLEN + 8, parentMac);
    if (bytes[off] & 1) {
      if (arp && read16(bytes, off + ETH_HLEN + 6) === 1) {
        const target = read32(bytes, off + ETH_HLEN + 24);
        const member = net.byIp.get(target);
        if (member !== undefined && member !== port && read32(bytes, off + ETH_HLEN + 14) !== target) {
          this.answerArp(batch, row, net, port, target);
          if (tracer) tracer.add(this.name, row, `arp reply: ${formatIpv4(target)} (${member.label}) is-at ${formatMac(parentMac)}, back to ${port.label}`);
          return KEEP;
        }
      }
      desc[d + D_OUT] = OUT_FLOOD;
      if (tracer) tracer.add(this.name, row, `group ${formatMac(readMac(bytes, off))}: other members and the parent`);
      return KEEP;
    }
    const dst = readMac(bytes, off);
    if (dst === parentMac && isIpv6(bytes, off, len)) {
      const m6 = net.memberByIpv6(bytes, off + IPV6_DST);
      if (m6 === undefined) {
        if (tracer) this.why = `${formatIpv6(bytes, off + IPV6_DST)} is the host's (only the host shim reaches the host)`;
        return DROP['ipvlan-to-host'];
      }
      if (m6 === port) {
        if (tracer) this.why = `${formatIpv6(bytes, off + IPV6_DST)} is the sender's own address`;
        return DROP['same-port'];
      }
      desc[d + D_OUT] = m6.id;
      if (tracer) tracer.add(this.name, row, `${port.label} -> ${m6.label} (${formatIpv6(bytes, off + IPV6_DST)})`);
      return KEEP;
    }
    if (dst === parentMac) {
      const ip = destinationIp(bytes, off, len);
      const member = ip >= 0 ? net.byIp.get(ip) : undefined;
      if (member === undefined) {
        if (tracer) this.why = ip >= 0 ? `${formatIpv4(ip)} is the host's (only the host shim reaches the host)` : `ethertype 0x${read16(bytes, off + 12).toString(16)} to the parent's MAC`;
        return DROP['ipvlan-to-host'];
      }
      if (member === port) {
        if (tracer) this.why = `${formatIpv4(ip)} is the sender's own address`;
        return DROP['same-port'];
      }
      desc[d + D_OUT] = member.id;
      if (tracer) tracer.add(this.name, row, `${port.label} -> ${member.label} (${formatIpv4(ip)})`);
      return KEEP;
    }
    const uplink = net.uplink;
    if (uplink === null) {
      this.why = 'the network has no parent';
      return DROP['uplink-down'];
    }
    desc[d + D_OUT] = uplink.id;
    if (tracer) tracer.add(this.name, row, `${formatMac(dst)} is on the LAN -> parent ${uplink.name} (source MAC ${formatMac(parentMac)})`);
    return KEEP;
  }

  /** Turn the ARP request in `row` into the reply "target is-at the parent's MAC", sent back out `to`. */
  private answerArp(batch: Batch, row: number, net: ParentNetwork, to: Port, target: number): void {
    const bytes = batch.pool.bytes;
    const desc = batch.pool.desc;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    writeArpReply(bytes, off, net.parentMac, target);
    desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
    desc[d + D_OUT] = to.id;
    if (batch.notes !== null) batch.notes[row] = `ipvlan arp reply for ${formatIpv4(target)}`;
  }
}
