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
 * Performance: no allocation per frame; one Map lookup per frame for the domain, one for the VIP, one
 * open-addressing probe in typed arrays for the connection. Explanations (drop reasons, decisions) are
 * formatted only while a trace is running. A trace dry run changes no state: it says what would be
 * scheduled without making the connection, and its lookups leave expired entries for the periodic sweep
 * (or the next real frame) to remove.
 */
import type { Batch } from '../batch.js';
import { DROP, type DropReason } from '../drop-reasons.js';
import { DESC_STRIDE, D_CSUM_OFF, D_CSUM_START, D_GSO_SIZE, D_GSO_TYPE, D_HDR_LEN, D_LEN, D_OFF, D_OUT, D_PORT, D_SLOT, D_VFLAGS, HEADROOM, OUT_FLOOD, OUT_NONE, SLOT_SIZE, VNET_F_NEEDS_CSUM } from '../layout.js';
import type { Stage, StageContext } from '../stage.js';
import { read16, read32 } from '../../packet/bytes.js';
import { writeArpReply } from '../../packet/arp.js';
import { formatIpv4 } from '../../packet/ipv4.js';
import { formatMac, readMac, writeMac } from '../../packet/mac.js';
import { IPPROTO_TCP, IPPROTO_UDP, STATE_CLOSE, STATE_FIN_WAIT, STATE_NAMES, STATE_TIME_WAIT } from '../../lb/conn-table.js';
import { LoadBalancer, vipMac } from '../../lb/load-balancer.js';
import { encapsulateIpip, IPIP_MAX_INNER, IPIP_OVERHEAD, rewriteDestination, rewriteSource } from '../../lb/nat-rewrite.js';
import { answerVipEcho } from '../../lb/vip-echo.js';

const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const IPPROTO_ICMP = 1;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;
/** A trace dry run stops a new connection's frame here (nothing scheduled, nothing counted). */
const DRY_RUN_STOP = -2;

function tcpFlagNames(f: number): string {
  const names: string[] = [];
  if (f & TCP_SYN) names.push('SYN');
  if (f & TCP_ACK) names.push('ACK');
  if (f & TCP_FIN) names.push('FIN');
  if (f & TCP_RST) names.push('RST');
  return names.join('|') || 'none';
}

export class LbStage implements Stage {
  readonly name = 'lb';
  readonly next = ['uplink-loop'] as const;
  readonly dropReasons: readonly DropReason[] = ['lb-no-service', 'lb-no-conn', 'lb-no-server', 'lb-table-full', 'lb-malformed', 'lb-fragment', 'lb-no-headroom', 'same-port', 'icc-disabled'];

  constructor(readonly lb: LoadBalancer = new LoadBalancer()) {}

  process(batch: Batch, ctx: StageContext): void {
    const lb = this.lb;
    if (lb.domains.size === 0) return;
    const { rows, ports, tracer } = batch;
    const desc = batch.pool.desc;
    const bytes = batch.pool.bytes;
    const now = ctx.now;
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
      const off = desc[d + D_OFF];
      const len = desc[d + D_LEN];
      const ethertype = read16(bytes, off + 12);
      let drop = -1;
      let why = '';
      if (ethertype === ETHERTYPE_ARP) {
        // An ARP request (Ethernet/IPv4) for a VIP: turn it into the reply in place.
        const a = off + ETH_HLEN;
        if (len >= ETH_HLEN + 28 && read16(bytes, a) === 1 && read16(bytes, a + 2) === ETHERTYPE_IPV4 && bytes[a + 4] === 6 && bytes[a + 5] === 4 && read16(bytes, a + 6) === 1) {
          const target = read32(bytes, a + 24);
          const vip = lbd.vips.get(target);
          if (vip !== undefined) {
            writeArpReply(bytes, off, vip.mac, target);
            desc[d + D_OUT] = port.id;
            if (batch.notes !== null) batch.notes[row] = `lb arp reply for VIP ${formatIpv4(target)}`;
            if (tracer) tracer.add(this.name, row, `arp reply: ${formatIpv4(target)} is-at ${formatMac(vip.mac)} (VIP), back out ${port.name}`);
          }
        }
        rows[w++] = row;
        continue;
      }
      if (ethertype !== ETHERTYPE_IPV4 || len < ETH_HLEN + 20) {
        rows[w++] = row;
        continue;
      }
      const ip = off + ETH_HLEN;
      const vihl = bytes[ip];
      const ihl = (vihl & 0x0f) << 2;
      const total = read16(bytes, ip + 2);
      const proto = bytes[ip + 9];
      const dst = read32(bytes, ip + 16);
      const vip = lbd.vips.get(dst);
      const l4 = ip + ihl;
      const l4ok = vihl >>> 4 === 4 && ihl >= 20 && total >= ihl && total <= len - ETH_HLEN && total - ihl >= (proto === IPPROTO_TCP ? 20 : 8);
      const partial = (desc[d + D_VFLAGS] & VNET_F_NEEDS_CSUM) !== 0;
      if (vip !== undefined) {
        // ---- towards a VIP ----
        if (proto === IPPROTO_ICMP && answerVipEcho(bytes, off, len, ip, vip.mac)) {
          // Ping to the VIP, answered as IPVS's director does; the reply is ours: no offload fields.
          desc[d + D_VFLAGS] = desc[d + D_GSO_TYPE] = desc[d + D_HDR_LEN] = desc[d + D_GSO_SIZE] = desc[d + D_CSUM_START] = desc[d + D_CSUM_OFF] = 0;
          desc[d + D_OUT] = port.id;
          if (batch.notes !== null) batch.notes[row] = `lb echo reply from VIP ${formatIpv4(dst)}`;
          if (tracer) tracer.add(this.name, row, `echo reply from VIP ${formatIpv4(dst)}, back out ${port.name}`);
          rows[w++] = row;
          continue;
        } else if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) {
          drop = DROP['lb-no-service'];
          if (tracer) why = `protocol ${proto} to VIP ${formatIpv4(dst)}`;
        } else if ((read16(bytes, ip + 6) & 0x3fff) !== 0) {
          drop = DROP['lb-fragment'];
          if (tracer) why = `fragment to VIP ${formatIpv4(dst)}`;
        } else if (!l4ok) {
          drop = DROP['lb-malformed'];
          if (tracer) why = `bad IPv4/${proto === IPPROTO_TCP ? 'TCP' : 'UDP'} header to VIP ${formatIpv4(dst)}`;
        } else {
          const dport = read16(bytes, l4 + 2);
          const svc = vip.services.get((proto << 16) | dport);
          if (svc === undefined) {
            drop = DROP['lb-no-service'];
            if (tracer) why = `no ${proto === IPPROTO_TCP ? 'TCP' : 'UDP'} service on ${formatIpv4(dst)}:${dport}`;
          } else {
            const cip = read32(bytes, ip + 12);
            const sport = read16(bytes, l4);
            const flags = proto === IPPROTO_TCP ? bytes[l4 + 13] : 0;
            const isSyn = proto === IPPROTO_TCP && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
            const conns = lb.conns;
            let e = conns.lookup(proto, cip, sport, dst, dport, now, !ctx.dryRun);
            let rs = e >= 0 ? lb.servers[conns.rs[e]] : undefined;
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
                drop = DROP['lb-no-conn'];
                if (tracer) why = `${tcpFlagNames(flags)} from ${formatIpv4(cip)}:${sport} to ${formatIpv4(dst)}:${dport} matches no connection`;
              } else if (ctx.dryRun) {
                drop = DRY_RUN_STOP;
                const t = tracer && svc.scheduler.isHash ? svc.scheduler.target(cip, sport) : null;
                if (tracer) why = `new connection: scheduler ${svc.schedulerName} would pick ${t ? t.key : 'a server'} (dry run: no connection made)`;
              } else {
                const refused = conns.refusedFull;
                e = lb.connect(svc, cip, sport, now);
                if (e < 0) {
                  drop = conns.refusedFull !== refused ? DROP['lb-table-full'] : DROP['lb-no-server'];
                  if (tracer) why = drop === DROP['lb-table-full'] ? `connection table full (${conns.capacity})` : `no available real server for ${svc.protocol} ${formatIpv4(dst)}:${dport}`;
                } else {
                  rs = lb.servers[conns.rs[e]];
                  fresh = true;
                }
              }
            }
            if (drop < 0 && e >= 0 && rs !== undefined) {
              if (ctx.dryRun) {
                if (tracer) tracer.add(this.name, row, `connection ${formatIpv4(cip)}:${sport} -> ${formatIpv4(dst)}:${dport} is ${STATE_NAMES[conns.state[e]]} on ${rs.key} (${rs.method})`);
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
              if (rs.method === 'nat') {
                rewriteDestination(bytes, ip, l4, proto, rs.ip, rs.port, partial);
                writeMac(bytes, off, rs.mac);
              } else if (rs.method === 'dr') {
                writeMac(bytes, off, rs.mac);
              } else {
                const slotStart = desc[d + D_SLOT] * SLOT_SIZE;
                if (off - IPIP_OVERHEAD < slotStart || HEADROOM < IPIP_OVERHEAD) {
                  drop = DROP['lb-no-headroom'];
                  why = 'no headroom for the IP-in-IP header';
                } else if (total > IPIP_MAX_INNER) {
                  // A 64 KB GSO packet: the outer total length (inner + 20) would not fit 16 bits.
                  drop = DROP['lb-malformed'];
                  if (tracer) why = `${total}-byte IPv4 packet is too long for IP-in-IP (at most ${IPIP_MAX_INNER} inside a 16-bit total length)`;
                } else {
                  writeMac(bytes, off, rs.mac);
                  desc[d + D_OFF] = encapsulateIpip(bytes, off, dst, rs.ip);
                  desc[d + D_LEN] = len + IPIP_OVERHEAD;
                  if (partial) desc[d + D_CSUM_START] += IPIP_OVERHEAD;
                  if (desc[d + D_HDR_LEN] > 0) desc[d + D_HDR_LEN] += IPIP_OVERHEAD;
                }
              }
              if (drop < 0 && batch.notes !== null) batch.notes[row] = `lb ${fresh ? `${svc.schedulerName} ` : ''}-> ${rs.key} (${rs.method})`;
              if (drop < 0 && tracer) {
                tracer.add(this.name, row, `${fresh ? 'new connection' : 'connection'} ${formatIpv4(cip)}:${sport} -> ${formatIpv4(dst)}:${dport} => ${rs.key} via ${rs.method} (${STATE_NAMES[conns.state[e]]}, scheduler ${svc.schedulerName})`);
              }
            }
          }
        }
      } else if (lbd.natServers > 0 && (proto === IPPROTO_TCP || proto === IPPROTO_UDP) && l4ok && (read16(bytes, ip + 6) & 0x3fff) === 0) {
        // ---- maybe a NAT real server's reply ----
        const conns = lb.conns;
        const sip = read32(bytes, ip + 12);
        const sport = read16(bytes, l4);
        const dport = read16(bytes, l4 + 2);
        const e = conns.lookupReply(proto, sip, sport, dst, dport, now, !ctx.dryRun);
        if (e >= 0) {
          const rs = lb.servers[conns.rs[e]];
          const svc = lb.services[conns.svc[e]];
          if (rs !== undefined && svc !== undefined) {
            if (!ctx.dryRun) {
              if (proto === IPPROTO_TCP) {
                const from = conns.state[e];
                const to = conns.tcpTransition(e, bytes[l4 + 13], false, false, now);
                if (from !== to) lb.stateChanged(e, from, to);
              } else {
                conns.touch(e, now);
              }
            }
            if (!ctx.dryRun) {
              const ipBytes = len - ETH_HLEN;
              svc.stats.outPkts++;
              svc.stats.outBytes += ipBytes;
              rs.stats.outPkts++;
              rs.stats.outBytes += ipBytes;
            }
            const vipAddr = conns.vip[e];
            const vport = conns.ports[e] & 0xffff;
            const rsMac = readMac(bytes, off + 6);
            rewriteSource(bytes, ip, l4, proto, vipAddr, vport, partial);
            writeMac(bytes, off + 6, vipMac(vipAddr));
            // The L2 decision, here: the source MAC is now the switch's, not one to learn.
            const fdb = port.domain!.fdb;
            if (!ctx.dryRun) fdb.learn(rsMac, port, now);
            const dmac = readMac(bytes, off);
            const out = bytes[off] & 1 ? undefined : fdb.lookup(dmac);
            if (out === undefined) desc[d + D_OUT] = OUT_FLOOD;
            else if (out === port) {
              drop = DROP['same-port'];
              if (tracer) why = `${formatMac(dmac)} is behind the ingress port`;
            } else if (!port.domain!.icc && port.ownMac !== null && out.ownMac !== null) {
              drop = DROP['icc-disabled'];
              if (tracer) why = `${port.name} -> ${out.name} is container to container`;
            } else desc[d + D_OUT] = out.id;
            if (drop < 0 && batch.notes !== null) batch.notes[row] = `lb reply ${rs.key} -> VIP ${formatIpv4(vipAddr)}:${vport}`;
            if (drop < 0 && tracer) {
              tracer.add(this.name, row, `reply ${rs.key} -> ${formatIpv4(dst)}:${dport} rewritten to come from ${formatIpv4(vipAddr)}:${vport} (${STATE_NAMES[conns.state[e]]}), ${out ? `output ${out.name}` : 'flood'}`);
            }
          }
        }
      }
      if (drop >= 0 || drop === DRY_RUN_STOP) {
        if (drop >= 0) {
          port.counters.drops[drop]++;
          batch.dropReason[row] = drop;
        }
        if (tracer) tracer.add(this.name, row, drop >= 0 ? `drop ${this.reasonName(drop)}: ${why}` : why);
        continue;
      }
      rows[w++] = row;
    }
    batch.count = w;
  }

  /** Periodic work: connection expiry and the rest (see LoadBalancer.periodic). */
  periodic(now: number): void {
    this.lb.periodic(now);
  }

  private reasonName(reason: number): string {
    return this.dropReasons.find((r) => DROP[r] === reason) ?? String(reason);
  }
}
