/**
 * lb: the L4 load balancer stage (IPVS in the switch), between ingress and l2-learn.
 *
 * Per frame of a domain that has virtual services (others pass untouched after one Map lookup):
 * - ARP request for a VIP: answered in place with the VIP's switch-owned MAC and sent back out of the
 *   ingress port (D_OUT set; the L2 stages leave it alone).
 * - IPv4 TCP/UDP to VIP:port of a service: the connection table gives the real server, or a new
 *   connection is scheduled (TCP only on a SYN: a mid-stream segment with no entry is dropped,
 *   `lb-no-conn`). Then, by the server's forwarding method:
 *     NAT: destination MAC, address and port become the real server's (checksums updated
 *          incrementally, partial NEEDS_CSUM checksums included; see lb/nat-rewrite.ts);
 *     DR:  only the destination MAC (the real server holds the VIP on lo and answers the client itself);
 *     TUN: destination MAC, then the packet is wrapped in an outer IPv4 header VIP -> real server
 *          (IP-in-IP, 20 bytes of headroom; the virtio-net checksum start moves with it).
 *   The L2 stages then forward the rewritten frame to the real server's port as any other.
 * - IPv4 TCP/UDP that is a NAT real server's reply (found in the reply index): source address and port
 *   become VIP:port, source MAC the VIP's; this stage decides the output port itself (FDB lookup), so
 *   the switch-written source MAC is never learned.
 * TCP flags advance the connection's state (lb/conn-table.ts); per-service and per-server counters are
 * bumped. An ICMP echo request to a VIP is answered in place, as IPVS's director answers a ping to its
 * VIP (lb/vip-echo.ts). Frames to a VIP that no service takes (another port, other ICMP, fragments,
 * truncated headers) are dropped with a named reason.
 *
 * IPv6 the same, with a Neighbor Solicitation for a VIP answered in place as the ARP request is, and
 * TCP/UDP only right after the fixed header (a packet to a VIP with extension headers is dropped,
 * `lb-no-service`; a fragment, `lb-fragment`). NAT and DR; the control plane refuses TUN for IPv6
 * (this kernel has no ip6tnl to terminate it, and IPVS's IPv6 tunnel is IPv6-in-IPv6).
 *
 * Performance: no allocation per frame; one Map lookup per frame for the domain, one for the VIP, one
 * open-addressing probe in typed arrays for the connection. Explanations (drop reasons, decisions) are
 * formatted only while a trace is running. A trace dry run changes no state: it says what would be
 * scheduled without making the connection, and its lookups leave expired entries for the periodic sweep
 * (or the next real frame) to remove.
 */
import { CLASS_VIP, type Batch } from '../batch.js';
import { DROP, type DropReason, DROP_REASON_COUNT } from '../drop-reasons.js';
import { DESC_STRIDE, D_CSUM_OFF, D_CSUM_START, D_GSO_SIZE, D_GSO_TYPE, D_HDR_LEN, D_LEN, D_OFF, D_OUT, D_PORT, D_SLOT, D_VFLAGS, HEADROOM, OUT_FLOOD, OUT_NONE, SLOT_SIZE, VNET_F_NEEDS_CSUM } from '../layout.js';
import { countDrop, type Stage, type StageContext } from '../stage.js';
import { read16, read32 } from '../../packet/bytes.js';
import { writeArpReply } from '../../packet/arp.js';
import { formatIpv4 } from '../../packet/ipv4.js';
import { formatIpv6 } from '../../packet/ipv6.js';
import { formatMac, readMac, writeMac } from '../../packet/mac.js';
import { IPPROTO_TCP, IPPROTO_UDP, PROTO_V6, STATE_CLOSE, STATE_FIN_WAIT, STATE_NAMES, STATE_TIME_WAIT } from '../../lb/conn-table.js';
import { foldIpv6At, formatHostPort } from '../../lb/lb-address.js';
import { LoadBalancer, vipMac, vipMac6, type LbDomain } from '../../lb/load-balancer.js';
import type { RealServer } from '../../lb/real-server.js';
import type { VirtualService } from '../../lb/virtual-service.js';
import { encapsulateIpip, IPIP_MAX_INNER, IPIP_OVERHEAD, rewriteDestination, rewriteDestination6, rewriteSource, rewriteSource6 } from '../../lb/nat-rewrite.js';
import { answerVipEcho, answerVipEcho6 } from '../../lb/vip-echo.js';
import { ndType, writeNeighborAdvert } from '../overlay/nd-suppress.js';
import type { Port } from '../port.js';

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
const IPPROTO_ICMP = 1;
const IPPROTO_FRAGMENT = 44;
const IPPROTO_ICMPV6 = 58;
const ND_NS = 135;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;
/** A trace dry run stops a new connection's frame here (nothing scheduled, nothing counted). */
const DRY_RUN_STOP = -2;
/** The frame goes on (no drop). */
const PASS = -1;

function tcpFlagNames(f: number): string {
  const names: string[] = [];
  if (f & TCP_SYN) names.push('SYN');
  if (f & TCP_ACK) names.push('ACK');
  if (f & TCP_FIN) names.push('FIN');
  if (f & TCP_RST) names.push('RST');
  return names.join('|') || 'none';
}

export class LbStage implements Stage {
  /** What this stage dropped, by DROP index (stats: engine.stageDrops). */
  readonly drops = new Float64Array(DROP_REASON_COUNT);
  readonly name = 'lb';
  readonly next = ['uplink-loop', 'l2-learn', 'overlay-mtu'] as const;
  readonly dropReasons: readonly DropReason[] = ['lb-no-service', 'lb-no-conn', 'lb-no-server', 'lb-table-full', 'lb-malformed', 'lb-fragment', 'lb-no-headroom', 'same-port', 'icc-disabled'];
  /** Why the last frame was dropped (set only while a trace runs). */
  private why = '';

  constructor(readonly lb: LoadBalancer = new LoadBalancer()) {}

  process(batch: Batch, ctx: StageContext): void {
    const lb = this.lb;
    if (lb.domains.size === 0) return;
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    let w = 0;
    for (let i = 0; i < batch.count; i++) {
      const row = rows[i];
      const d = row * DESC_STRIDE;
      const port = ports[desc[d + D_PORT]]!;
      const lbd = desc[d + D_OUT] === OUT_NONE && port.domain !== null ? lb.domainOf(port.domain) : undefined;
      if (lbd === undefined) {
        rows[w++] = row;
        continue;
      }
      const ethertype = read16(bytes, desc[d + D_OFF] + 12);
      let drop = PASS;
      if (ethertype === ETHERTYPE_IPV4) drop = this.ipv4(batch, ctx, row, port, lbd);
      else if (ethertype === ETHERTYPE_IPV6) drop = lbd.vips6.size > 0 || lbd.natServers6 > 0 ? this.ipv6(batch, ctx, row, port, lbd) : PASS;
      else if (ethertype === ETHERTYPE_ARP) this.arp(batch, row, port, lbd);
      if (drop !== PASS) {
        if (drop >= 0) {
          countDrop(this, port, batch, row, drop);
        }
        if (tracer) tracer.add(this.name, row, drop >= 0 ? `drop ${this.reasonName(drop)}: ${this.why}` : this.why);
        continue;
      }
      // Answered here (ARP, ND, echo) or a NAT reply whose output is decided: the vip class's stages.
      if (desc[d + D_OUT] !== OUT_NONE) batch.moveTo(row, CLASS_VIP);
      else rows[w++] = row;
    }
    batch.count = w;
  }

  /** An ARP request (Ethernet/IPv4) for a VIP: turned into the reply in place, back out of its port. */
  private arp(batch: Batch, row: number, port: Port, lbd: LbDomain): void {
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const a = off + ETH_HLEN;
    if (!(desc[d + D_LEN] >= ETH_HLEN + 28 && read16(bytes, a) === 1 && read16(bytes, a + 2) === ETHERTYPE_IPV4 && bytes[a + 4] === 6 && bytes[a + 5] === 4 && read16(bytes, a + 6) === 1)) return;
    const target = read32(bytes, a + 24);
    const vip = lbd.vips.get(target);
    if (vip === undefined) return;
    writeArpReply(bytes, off, vip.mac, target);
    desc[d + D_OUT] = port.id;
    if (batch.notes !== null) batch.notes[row] = `lb arp reply for VIP ${formatIpv4(target)}`;
    if (batch.tracer) batch.tracer.add(this.name, row, `arp reply: ${formatIpv4(target)} is-at ${formatMac(vip.mac)} (VIP), back out ${port.name}`);
  }

  /** The reply is the switch's own frame: no offload fields. */
  private static clearOffloads(desc: Int32Array, d: number): void {
    desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
  }

  private ipv4(batch: Batch, ctx: StageContext, row: number, port: Port, lbd: LbDomain): number {
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const tracer = batch.tracer;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    if (len < ETH_HLEN + 20) return PASS;
    const ip = off + ETH_HLEN;
    const vihl = bytes[ip];
    const ihl = (vihl & 0x0f) << 2;
    const total = read16(bytes, ip + 2);
    const proto = bytes[ip + 9];
    const dst = read32(bytes, ip + 16);
    const vip = lbd.vips.get(dst);
    const l4 = ip + ihl;
    const l4ok = vihl >>> 4 === 4 && ihl >= 20 && total >= ihl && total <= len - ETH_HLEN && total - ihl >= (proto === IPPROTO_TCP ? 20 : 8);
    if (vip !== undefined) {
      // ---- towards a VIP ----
      if (proto === IPPROTO_ICMP && answerVipEcho(bytes, off, len, ip, vip.mac)) {
        // Ping to the VIP, answered as IPVS's director does.
        LbStage.clearOffloads(desc, d);
        desc[d + D_OUT] = port.id;
        if (batch.notes !== null) batch.notes[row] = `lb echo reply from VIP ${formatIpv4(dst)}`;
        if (tracer) tracer.add(this.name, row, `echo reply from VIP ${formatIpv4(dst)}, back out ${port.name}`);
        return PASS;
      }
      if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) {
        if (tracer) this.why = `protocol ${proto} to VIP ${formatIpv4(dst)}`;
        return DROP['lb-no-service'];
      }
      if ((read16(bytes, ip + 6) & 0x3fff) !== 0) {
        if (tracer) this.why = `fragment to VIP ${formatIpv4(dst)}`;
        return DROP['lb-fragment'];
      }
      if (!l4ok) {
        if (tracer) this.why = `bad IPv4/${proto === IPPROTO_TCP ? 'TCP' : 'UDP'} header to VIP ${formatIpv4(dst)}`;
        return DROP['lb-malformed'];
      }
      const dport = read16(bytes, l4 + 2);
      const svc = vip.services.get((proto << 16) | dport);
      if (svc === undefined) {
        if (tracer) this.why = `no ${proto === IPPROTO_TCP ? 'TCP' : 'UDP'} service on ${formatIpv4(dst)}:${dport}`;
        return DROP['lb-no-service'];
      }
      return this.toService(batch, ctx, row, svc, read32(bytes, ip + 12), ip, l4, proto, total);
    }
    if (lbd.natServers > 0 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && l4ok && (read16(bytes, ip + 6) & 0x3fff) === 0) {
      // ---- maybe a NAT real server's reply ----
      return this.fromServer(batch, ctx, row, port, proto, read32(bytes, ip + 12), dst, ip, l4);
    }
    return PASS;
  }

  private ipv6(batch: Batch, ctx: StageContext, row: number, port: Port, lbd: LbDomain): number {
    const lb = this.lb;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const tracer = batch.tracer;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    if (len < ETH_HLEN + 40) return PASS;
    const ip = off + ETH_HLEN;
    const next = bytes[ip + 6];
    const l4 = ip + 40;
    if (next === IPPROTO_ICMPV6 && bytes[l4] === ND_NS && lbd.vips6.size > 0 && ndType(bytes, off, len) === ND_NS) {
      // A Neighbor Solicitation for a VIP (not a DAD probe: its owner is us): answered as ARP is.
      const h = lb.addrs6.find(bytes, ip + 48);
      const vip = h >= 0 ? lbd.vips6.get(h) : undefined;
      if (vip !== undefined && !isUnspecified(bytes, ip + 8)) {
        desc[d + D_LEN] = writeNeighborAdvert(bytes, off, vip.mac);
        LbStage.clearOffloads(desc, d);
        desc[d + D_OUT] = port.id;
        if (batch.notes !== null) batch.notes[row] = `lb neighbor advertisement for VIP ${formatIpv6(bytes, ip + 8)}`;
        if (tracer) tracer.add(this.name, row, `neighbor advertisement: ${formatIpv6(bytes, ip + 8)} is-at ${formatMac(vip.mac)} (VIP), back out ${port.name}`);
      }
      return PASS;
    }
    const payload = read16(bytes, ip + 4);
    const h = lbd.vips6.size > 0 ? lb.addrs6.find(bytes, ip + 24) : -1;
    const vip = h >= 0 ? lbd.vips6.get(h) : undefined;
    const l4ok = bytes[ip] >> 4 === 6 && 40 + payload <= len - ETH_HLEN && payload >= (next === IPPROTO_TCP ? 20 : 8);
    if (vip !== undefined) {
      // ---- towards a VIP ----
      if (next === IPPROTO_ICMPV6 && answerVipEcho6(bytes, off, len, ip, vip.mac)) {
        LbStage.clearOffloads(desc, d);
        desc[d + D_OUT] = port.id;
        if (batch.notes !== null) batch.notes[row] = `lb echo reply from VIP ${formatIpv6(bytes, ip + 8)}`;
        if (tracer) tracer.add(this.name, row, `echo reply from VIP ${formatIpv6(bytes, ip + 8)}, back out ${port.name}`);
        return PASS;
      }
      if (next === IPPROTO_FRAGMENT) {
        if (tracer) this.why = `fragment to VIP ${formatIpv6(bytes, ip + 24)}`;
        return DROP['lb-fragment'];
      }
      if (next !== IPPROTO_TCP && next !== IPPROTO_UDP) {
        if (tracer) this.why = `next header ${next} to VIP ${formatIpv6(bytes, ip + 24)} (TCP or UDP right after the IPv6 header is served)`;
        return DROP['lb-no-service'];
      }
      if (!l4ok) {
        if (tracer) this.why = `bad IPv6/${next === IPPROTO_TCP ? 'TCP' : 'UDP'} header to VIP ${formatIpv6(bytes, ip + 24)}`;
        return DROP['lb-malformed'];
      }
      const dport = read16(bytes, l4 + 2);
      const svc = vip.services.get((next << 16) | dport);
      if (svc === undefined) {
        if (tracer) this.why = `no ${next === IPPROTO_TCP ? 'TCP' : 'UDP'} service on [${formatIpv6(bytes, ip + 24)}]:${dport}`;
        return DROP['lb-no-service'];
      }
      setKey6(lb.conns.key6, bytes, ip + 8);
      return this.toService(batch, ctx, row, svc, foldIpv6At(bytes, ip + 8), ip, l4, next, 40 + payload);
    }
    if (lbd.natServers6 > 0 && (next === IPPROTO_TCP || next === IPPROTO_UDP) && l4ok) {
      // ---- maybe a NAT real server's reply: its source is a server's address ----
      const rip = lb.addrs6.find(bytes, ip + 8);
      if (rip < 0) return PASS;
      setKey6(lb.conns.key6, bytes, ip + 24);
      return this.fromServer(batch, ctx, row, port, next + PROTO_V6, rip, foldIpv6At(bytes, ip + 24), ip, l4);
    }
    return PASS;
  }

  /** Text of the address at `at`, either family. */
  private static addr(bytes: Uint8Array, at: number, v6: boolean): string {
    return v6 ? formatIpv6(bytes, at) : formatIpv4(read32(bytes, at));
  }

  /** `client:port -> vip:port` for traces. */
  private static flow(bytes: Uint8Array, srcAt: number, sport: number, dstAt: number, dport: number, v6: boolean): string {
    return `${formatHostPort(LbStage.addr(bytes, srcAt, v6), sport)} -> ${formatHostPort(LbStage.addr(bytes, dstAt, v6), dport)}`;
  }

  /**
   * A TCP/UDP packet to service `svc` (header checked): its connection, found or made, and the
   * rewrite for its real server. `cip` is the client's IPv4 address or IPv6 fold (its 16 bytes are in
   * the table's key6); `total` the IP packet's length.
   */
  private toService(batch: Batch, ctx: StageContext, row: number, svc: VirtualService, cip: number, ip: number, l4: number, proto: number, total: number): number {
    const lb = this.lb;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const tracer = batch.tracer;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    const now = ctx.now;
    const v6 = svc.family === 6;
    const key = v6 ? proto + PROTO_V6 : proto;
    const srcAt = v6 ? ip + 8 : ip + 12;
    const dstAt = v6 ? ip + 24 : ip + 16;
    const partial = (desc[d + D_VFLAGS] & VNET_F_NEEDS_CSUM) !== 0;
    const sport = read16(bytes, l4);
    const dport = svc.port;
    const flags = proto === IPPROTO_TCP ? bytes[l4 + 13] : 0;
    const isSyn = proto === IPPROTO_TCP && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
    const conns = lb.conns;
    let e = conns.lookup(key, cip, sport, svc.vip, dport, now, !ctx.dryRun);
    let rs: RealServer | undefined = e >= 0 ? lb.servers[conns.rs[e]] : undefined;
    let fresh = false;
    if (e >= 0 && (rs === undefined || rs.removed)) {
      if (!ctx.dryRun) conns.remove(e);
      e = -1;
    } else if (e >= 0 && isSyn && rs !== undefined) {
      const st = conns.state[e];
      // Port reuse after a close, or a server that takes no new connections: a new connection.
      if (st === STATE_TIME_WAIT || st === STATE_CLOSE || st === STATE_FIN_WAIT || !rs.available) {
        if (tracer) tracer.add(this.name, row, `SYN on a ${STATE_NAMES[st]} entry to ${rs.key}${rs.available ? '' : ' (not available)'}: scheduled afresh`);
        if (!ctx.dryRun) conns.remove(e);
        e = -1;
      }
    }
    if (e < 0) {
      if (proto === IPPROTO_TCP && !isSyn) {
        if (tracer) this.why = `${tcpFlagNames(flags)} from ${formatHostPort(LbStage.addr(bytes, srcAt, v6), sport)} to ${formatHostPort(LbStage.addr(bytes, dstAt, v6), dport)} matches no connection`;
        return DROP['lb-no-conn'];
      }
      if (ctx.dryRun) {
        const t = tracer && svc.scheduler.isHash ? svc.scheduler.target(cip, sport) : null;
        if (tracer) this.why = `new connection: scheduler ${svc.schedulerName} would pick ${t ? t.key : 'a server'} (dry run: no connection made)`;
        return DRY_RUN_STOP;
      }
      const refused = conns.refusedFull;
      e = lb.connect(svc, cip, sport, now);
      if (e < 0) {
        const full = conns.refusedFull !== refused;
        if (tracer) this.why = full ? `connection table full (${conns.capacity})` : `no available real server for ${svc.protocol} ${formatHostPort(LbStage.addr(bytes, dstAt, v6), dport)}`;
        return full ? DROP['lb-table-full'] : DROP['lb-no-server'];
      }
      rs = lb.servers[conns.rs[e]];
      fresh = true;
    }
    if (rs === undefined) return PASS;
    if (ctx.dryRun) {
      if (tracer) tracer.add(this.name, row, `connection ${LbStage.flow(bytes, srcAt, sport, dstAt, dport, v6)} is ${STATE_NAMES[conns.state[e]]} on ${rs.key} (${rs.method})`);
    } else if (proto === IPPROTO_TCP) {
      const from = conns.state[e];
      const to = conns.tcpTransition(e, flags, true, rs.method !== 'nat', now);
      if (from !== to) lb.stateChanged(e, from, to);
    } else {
      conns.touch(e, now);
    }
    if (!ctx.dryRun) {
      const ipBytes = len - ETH_HLEN;
      svc.stats.inPkts++;
      svc.stats.inBytes += ipBytes;
      rs.stats.inPkts++;
      rs.stats.inBytes += ipBytes;
    }
    const before = tracer ? LbStage.flow(bytes, srcAt, sport, dstAt, dport, v6) : '';
    if (rs.method === 'nat') {
      if (v6) rewriteDestination6(bytes, ip, l4, proto, rs.ip6!, rs.port, partial);
      else rewriteDestination(bytes, ip, l4, proto, rs.ip, rs.port, partial);
      writeMac(bytes, off, rs.mac);
    } else if (rs.method === 'dr') {
      writeMac(bytes, off, rs.mac);
    } else {
      const slotStart = desc[d + D_SLOT] * SLOT_SIZE;
      if (v6) {
        // The control plane never makes one; a stale record must not send IPv6 into an IPv4 tunnel.
        if (tracer) this.why = 'IP-in-IP carries IPv4 only';
        return DROP['lb-no-server'];
      }
      if (off - IPIP_OVERHEAD < slotStart || HEADROOM < IPIP_OVERHEAD) {
        this.why = 'no headroom for the IP-in-IP header';
        return DROP['lb-no-headroom'];
      }
      if (total > IPIP_MAX_INNER) {
        // A 64 KB GSO packet: the outer total length (inner + 20) would not fit 16 bits.
        if (tracer) this.why = `${total}-byte IPv4 packet is too long for IP-in-IP (at most ${IPIP_MAX_INNER} inside a 16-bit total length)`;
        return DROP['lb-malformed'];
      }
      writeMac(bytes, off, rs.mac);
      desc[d + D_OFF] = encapsulateIpip(bytes, off, svc.vip, rs.ip);
      desc[d + D_LEN] = len + IPIP_OVERHEAD;
      if (partial) desc[d + D_CSUM_START] += IPIP_OVERHEAD;
      if (desc[d + D_HDR_LEN] > 0) desc[d + D_HDR_LEN] += IPIP_OVERHEAD;
    }
    if (batch.notes !== null) batch.notes[row] = `lb ${fresh ? `${svc.schedulerName} ` : ''}-> ${rs.key} (${rs.method})`;
    if (tracer) tracer.add(this.name, row, `${fresh ? 'new connection' : 'connection'} ${before} => ${rs.key} via ${rs.method} (${STATE_NAMES[conns.state[e]]}, scheduler ${svc.schedulerName})`);
    return PASS;
  }

  /**
   * Maybe a NAT real server's reply (`key`: protocol key; `rip`: the source's IPv4 address or IPv6
   * handle; `cip`: the destination's IPv4 address or IPv6 fold, its 16 bytes in key6): source address
   * and port become the VIP's, and this stage decides the output port itself (FDB lookup), so the
   * switch-written source MAC is never learned.
   */
  private fromServer(batch: Batch, ctx: StageContext, row: number, port: Port, key: number, rip: number, cip: number, ip: number, l4: number): number {
    const lb = this.lb;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const tracer = batch.tracer;
    const d = row * DESC_STRIDE;
    const off = desc[d + D_OFF];
    const len = desc[d + D_LEN];
    const now = ctx.now;
    const conns = lb.conns;
    const v6 = key >= PROTO_V6;
    const proto = key & 0xff;
    const sport = read16(bytes, l4);
    const dport = read16(bytes, l4 + 2);
    const e = conns.lookupReply(key, rip, sport, cip, dport, now, !ctx.dryRun);
    if (e < 0) return PASS;
    const rs = lb.servers[conns.rs[e]];
    const svc = lb.services[conns.svc[e]];
    if (rs === undefined || svc === undefined) return PASS;
    if (!ctx.dryRun) {
      if (proto === IPPROTO_TCP) {
        const from = conns.state[e];
        const to = conns.tcpTransition(e, bytes[l4 + 13], false, false, now);
        if (from !== to) lb.stateChanged(e, from, to);
      } else {
        conns.touch(e, now);
      }
      const ipBytes = len - ETH_HLEN;
      svc.stats.outPkts++;
      svc.stats.outBytes += ipBytes;
      rs.stats.outPkts++;
      rs.stats.outBytes += ipBytes;
    }
    const vport = conns.ports[e] & 0xffff;
    const rsMac = readMac(bytes, off + 6);
    const partial = (desc[d + D_VFLAGS] & VNET_F_NEEDS_CSUM) !== 0;
    if (v6) {
      rewriteSource6(bytes, ip, l4, proto, svc.vip6!, vport, partial);
      writeMac(bytes, off + 6, vipMac6(svc.vip6!, 0));
    } else {
      rewriteSource(bytes, ip, l4, proto, conns.vip[e], vport, partial);
      writeMac(bytes, off + 6, vipMac(conns.vip[e]));
    }
    // The L2 decision, here: the source MAC is now the switch's, not one to learn.
    const fdb = port.domain!.fdb;
    if (!ctx.dryRun) fdb.learn(rsMac, port, now);
    const dmac = readMac(bytes, off);
    const out = bytes[off] & 1 ? undefined : fdb.lookup(dmac);
    let drop = PASS;
    if (out === undefined) desc[d + D_OUT] = OUT_FLOOD;
    else if (out === port) {
      drop = DROP['same-port'];
      if (tracer) this.why = `${formatMac(dmac)} is behind the ingress port`;
    } else if (!port.domain!.icc && port.ownMac !== null && out.ownMac !== null) {
      drop = DROP['icc-disabled'];
      if (tracer) this.why = `${port.name} -> ${out.name} is container to container`;
    } else desc[d + D_OUT] = out.id;
    if (drop !== PASS) return drop;
    const vipText = formatHostPort(v6 ? formatIpv6(svc.vip6!, 0) : formatIpv4(svc.vip), vport);
    if (batch.notes !== null) batch.notes[row] = `lb reply ${rs.key} -> VIP ${vipText}`;
    if (tracer) {
      const dstAt = v6 ? ip + 24 : ip + 16;
      tracer.add(this.name, row, `reply ${rs.key} -> ${formatHostPort(LbStage.addr(bytes, dstAt, v6), dport)} rewritten to come from ${vipText} (${STATE_NAMES[conns.state[e]]}), ${out ? `output ${out.name}` : 'flood'}`);
    }
    return PASS;
  }

  /** Periodic work: connection expiry and the rest (see LoadBalancer.periodic). */
  periodic(now: number): void {
    this.lb.periodic(now);
  }

  private reasonName(reason: number): string {
    return this.dropReasons.find((r) => DROP[r] === reason) ?? String(reason);
  }
}

function isUnspecified(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (bytes[at + i] !== 0) return false;
  return true;
}

/** The IPv6 address at `at` as the connection table's key6 words. */
function setKey6(key6: Uint32Array, bytes: Uint8Array, at: number): void {
  key6[0] = read32(bytes, at);
  key6[1] = read32(bytes, at + 4);
  key6[2] = read32(bytes, at + 8);
  key6[3] = read32(bytes, at + 12);
}
