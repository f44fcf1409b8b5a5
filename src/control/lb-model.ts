/**
 * Persisted records of the load balancer (virtual services and their real servers), stored in the
 * daemon's state under `lb`. Addresses are dotted quads, as users typed them; the runtime (src/lb/)
 * is rebuilt from these at start.
 */
import type { LbTimeouts } from '../lb/conn-table.js';
import type { HealthCheckSpec } from '../lb/health-check.js';
import type { ForwardMethod } from '../lb/real-server.js';
import type { SchedulerName } from '../lb/schedulers/index.js';
import type { LbProtocol } from '../lb/virtual-service.js';

export interface LbServerRecord {
  ip: string;
  port: number;
  weight: number;
  method: ForwardMethod;
  check: HealthCheckSpec | null;
}

export interface LbServiceRecord {
  /** Network id. */
  networkId: string;
  protocol: LbProtocol;
  vip: string;
  port: number;
  scheduler: SchedulerName;
  /** Persistence timeout in seconds; 0: none. */
  persistTimeout: number;
  servers: LbServerRecord[];
}

export interface LbState {
  services: LbServiceRecord[];
  timeouts: LbTimeouts;
}
