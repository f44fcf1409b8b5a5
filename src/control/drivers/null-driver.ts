/**
 * The null driver (Docker's `--network none`): the endpoint is recorded, nothing is plumbed; the
 * container keeps only its loopback.
 */
import type { NetworkDriver } from './network-driver.js';

export class NullDriver implements NetworkDriver {
  readonly name = 'null' as const;
  createNetwork(): void {}
  deleteNetwork(): void {}
  connect(): null {
    return null;
  }
  disconnect(): void {}
}
