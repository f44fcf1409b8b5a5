/**
 * VirtualService: one VIP:port/protocol on a network (IPVS's ip_vs_service): its scheduler, its real
 * servers (in the order they were added), optional persistence by client address, and its counters.
 *
 * Persistence (`-p TIMEOUT`, IPVS's persistence templates): the first connection of a client picks a
 * server with the scheduler and leaves a template client -> server; later connections of that client
 * within TIMEOUT seconds (counted from its last new connection, and held while its connections live) go
 * to the same server. A template whose server is no longer available (weight 0, unhealthy, removed) is
 * not followed: the client is scheduled afresh, so persistence never pins a client to a dead backend.
 */
import { formatLbIp, type LbFamily } from './lb-address.js';
import type { RealServer } from './real-server.js';
import { TrafficStats } from './real-server.js';
import type { Scheduler, SchedulerName } from './schedulers/index.js';

export type LbProtocol = 'tcp' | 'udp';

export interface PersistTemplate {
  rs: RealServer;
  expires: number;
  /** Live connections created under this template. */
  conns: number;
}

export class VirtualService {
  /** Real servers, draining ones included, in the order they were added. */
  servers: RealServer[] = [];
  readonly stats = new TrafficStats();
  /** Persistence templates by client: its IPv4 address, or its IPv6 address as text. */
  readonly templates = new Map<number | string, PersistTemplate>();
  /** New connections refused because no server was available. */
  noServer = 0;

  constructor(
    readonly id: number,
    readonly protocol: LbProtocol,
    /** IP protocol number (6, 17). */
    readonly proto: number,
    /** The IPv4 address, or for IPv6 the address's handle (lb-address.ts). */
    readonly vip: number,
    readonly port: number,
    public scheduler: Scheduler,
    /** Persistence timeout in seconds; 0: none. */
    public persistTimeout: number,
    readonly family: LbFamily = 4,
    /** IPv6: the VIP's 16 bytes. */
    readonly vip6: Uint8Array | null = null,
  ) {}

  /** The VIP as text (dotted quad or canonical IPv6). */
  get vipText(): string {
    return formatLbIp(this.vip6 ?? this.vip);
  }

  get schedulerName(): SchedulerName {
    return this.scheduler.name;
  }

  /** Hand the scheduler the servers that may take new connections now. */
  refresh(): void {
    this.scheduler.update(this.servers.filter((s) => s.available));
  }

  /**
   * The server for a new connection from cip:cport (persistence first), or null. `cip` is the IPv4
   * address or an IPv6 address's fold; `client` names the client in the templates (lb-address.ts).
   */
  schedule(cip: number, cport: number, now: number, client: number | string = cip): RealServer | null {
    if (this.persistTimeout > 0) {
      const t = this.templates.get(client);
      if (t !== undefined && t.rs.available && (t.expires > now || t.conns > 0)) {
        t.expires = now + this.persistTimeout;
        return t.rs;
      }
      const rs = this.scheduler.pick(cip, cport);
      if (rs === null) return null;
      if (t !== undefined) t.rs.persistConns--;
      this.templates.set(client, { rs, expires: now + this.persistTimeout, conns: t?.conns ?? 0 });
      rs.persistConns++;
      return rs;
    }
    return this.scheduler.pick(cip, cport);
  }

  /** Drop templates that expired and hold no connection. */
  expireTemplates(now: number): void {
    for (const [client, t] of this.templates) {
      if (t.expires <= now && t.conns <= 0) {
        t.rs.persistConns--;
        this.templates.delete(client);
      }
    }
  }

  /** Forget every template that points at `rs`. */
  dropTemplatesOf(rs: RealServer): void {
    for (const [client, t] of this.templates) {
      if (t.rs === rs) {
        rs.persistConns--;
        this.templates.delete(client);
      }
    }
  }
}
