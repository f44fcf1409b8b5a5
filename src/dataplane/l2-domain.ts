/**
 * L2Domain: one broadcast domain of the switch (a tsnet network): its ports, in a stable order for
 * flooding, and its FDB. Frames never cross from one domain to another at L2.
 */
import { FdbTable, type FdbOptions } from './fdb-table.js';
import type { LoopGuard } from './loop-guard.js';
import type { Port } from './port.js';

export interface L2DomainOptions extends FdbOptions {
  /** Inter-container communication; false drops container-to-container frames (Docker's icc=false). */
  icc?: boolean;
}

export class L2Domain {
  readonly fdb: FdbTable;
  /** Member ports in join order: the flood list. */
  ports: Port[] = [];
  icc: boolean;
  /** Loop detection for the domain's uplinks (loop-guard.ts); null while it has none. */
  loopGuard: LoopGuard | null = null;

  constructor(
    readonly name: string,
    opts: L2DomainOptions = {},
  ) {
    this.fdb = new FdbTable(opts);
    this.icc = opts.icc ?? true;
  }

  join(port: Port): void {
    if (this.ports.includes(port)) return;
    this.ports = [...this.ports, port];
  }

  leave(port: Port): void {
    this.ports = this.ports.filter((p) => p !== port);
    this.fdb.flushPort(port);
  }
}
