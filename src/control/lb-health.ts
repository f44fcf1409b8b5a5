/**
 * The runtime of each real server the control plane added: its persisted record and its TCP health
 * check, which marks the server up or down in the runtime (src/lb) as its probes pass or fail.
 */
import { TcpHealthCheck } from '../lb/health-check.js';
import type { LoadBalancer } from '../lb/load-balancer.js';
import type { RealServer } from '../lb/real-server.js';
import type { VirtualService } from '../lb/virtual-service.js';
import type { LbServerRecord } from './lb-model.js';
import { serviceName } from './lb-validation.js';

export interface ServerRuntime {
  record: LbServerRecord;
  check: TcpHealthCheck | null;
}

export class ServerHealth {
  private readonly servers = new Map<RealServer, ServerRuntime>();

  constructor(
    private readonly lb: () => LoadBalancer,
    private readonly log: (msg: string) => void,
  ) {}

  get(rs: RealServer): ServerRuntime | undefined {
    return this.servers.get(rs);
  }

  /** Track a server added to `svc`, and start its check if its record asks for one. */
  start(svc: VirtualService, rs: RealServer, record: LbServerRecord): void {
    const rt: ServerRuntime = { record, check: null };
    this.servers.set(rs, rt);
    if (!record.check) return;
    const check = new TcpHealthCheck(record.check, rs.ipText, record.check.port ?? rs.port, (healthy, why) => {
      rs.healthy = healthy;
      this.lb().serverChanged(rs);
      this.log(`lb: real server ${rs.key} of ${serviceName(svc.protocol, svc.vipText, svc.port)} is ${healthy ? 'up' : 'down'}: ${why}`);
    });
    rt.check = check;
    check.start();
  }

  stop(rs: RealServer): void {
    this.servers.get(rs)?.check?.stop();
    this.servers.delete(rs);
  }

  /** Stop every check (daemon stop). */
  close(): void {
    for (const rs of [...this.servers.keys()]) this.stop(rs);
  }
}
