/**
 * RealServer: one backend of a virtual service (IPVS's ip_vs_dest): where it is (IP, port, and the MAC
 * the switch sends to), how it is reached (NAT, DR or TUN), its weight, its health and its counters.
 * The data plane reads these fields per packet through the connection table's server id; the control
 * plane changes them between bursts.
 *
 * A server takes new connections only while `available`: weight > 0 (weight 0 drains: existing
 * connections continue), healthy (its TCP check passes, or it has none), its MAC is known, and it is
 * not being removed.
 */
import { formatHostPort, formatLbIp, type LbFamily } from './lb-address.js';

export type ForwardMethod = 'nat' | 'dr' | 'tun';

export class TrafficStats {
  conns = 0;
  inPkts = 0;
  outPkts = 0;
  inBytes = 0;
  outBytes = 0;
  /** Per-second rates over the last estimator interval (`lb ls --rate`). */
  cps = 0;
  inPps = 0;
  outPps = 0;
  inBps = 0;
  outBps = 0;
  private last = { t: -1, conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };

  zero(): void {
    this.conns = this.inPkts = this.outPkts = this.inBytes = this.outBytes = 0;
    this.cps = this.inPps = this.outPps = this.inBps = this.outBps = 0;
    this.last = { t: -1, conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };
  }

  /** Update the rates from the counters' change since the previous call (at least 1 s apart). */
  estimate(now: number): void {
    const l = this.last;
    if (l.t >= 0) {
      const dt = now - l.t;
      if (dt < 1) return;
      this.cps = (this.conns - l.conns) / dt;
      this.inPps = (this.inPkts - l.inPkts) / dt;
      this.outPps = (this.outPkts - l.outPkts) / dt;
      this.inBps = (this.inBytes - l.inBytes) / dt;
      this.outBps = (this.outBytes - l.outBytes) / dt;
    }
    this.last = { t: now, conns: this.conns, inPkts: this.inPkts, outPkts: this.outPkts, inBytes: this.inBytes, outBytes: this.outBytes };
  }

  toJSON() {
    return {
      conns: this.conns,
      inPkts: this.inPkts,
      outPkts: this.outPkts,
      inBytes: this.inBytes,
      outBytes: this.outBytes,
      cps: Math.round(this.cps),
      inPps: Math.round(this.inPps),
      outPps: Math.round(this.outPps),
      inBps: Math.round(this.inBps),
      outBps: Math.round(this.outBps),
    };
  }
}

export class RealServer {
  /** Active (ESTABLISHED) and inactive (every other state) connections, as `ipvsadm -Ln` shows them. */
  activeConns = 0;
  inactConns = 0;
  /** Of those, connections in TIME_WAIT or CLOSE: a draining server does not wait for them. */
  closingConns = 0;
  /** Persistence templates pointing at this server. */
  persistConns = 0;
  healthy = true;
  /** Being removed with --graceful: no new connections; it goes when its last connection does. */
  draining = false;
  /** Removed from its service; entries that still name it are dropped or rescheduled. */
  removed = false;
  readonly stats = new TrafficStats();

  constructor(
    /** Index in the load balancer's server table (what connection entries store). */
    readonly id: number,
    readonly serviceId: number,
    /** The IPv4 address, or for IPv6 the address's handle (lb-address.ts). */
    readonly ip: number,
    readonly port: number,
    public weight: number,
    public method: ForwardMethod,
    /** The MAC frames to this server are sent to (its own, or the next hop's); 0 while unknown. */
    public mac: number,
    readonly family: LbFamily = 4,
    /** IPv6: the server's 16 bytes. */
    readonly ip6: Uint8Array | null = null,
  ) {}

  get available(): boolean {
    return this.weight > 0 && this.healthy && this.mac !== 0 && !this.draining && !this.removed;
  }

  get connections(): number {
    return this.activeConns + this.inactConns;
  }

  /** Connections still carrying traffic (not TIME_WAIT/CLOSE): what a graceful removal waits for. */
  get liveConnections(): number {
    return this.activeConns + this.inactConns - this.closingConns;
  }

  /** The address as text (dotted quad or canonical IPv6). */
  get ipText(): string {
    return formatLbIp(this.ip6 ?? this.ip);
  }

  /** A stable name for hashing (Maglev's backend name): `ip:port`, `[ip6]:port`. */
  get key(): string {
    return formatHostPort(this.ipText, this.port);
  }
}
