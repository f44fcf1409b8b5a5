/**
 * The null driver (Docker's `--network none`): the endpoint is recorded, nothing is plumbed; the
 * container keeps only its loopback.
 */
import { TsnError } from '../../errors.js';
import type { CreateNetworkRequest } from '../network-options.js';
import type { NetworkDriver, NetworkPlan } from './network-driver.js';

export class NullDriver implements NetworkDriver {
  readonly name = 'null' as const;
  /** No addresses: IPAM options are refused. */
  plan(req: CreateNetworkRequest): NetworkPlan {
    if (req.subnet || req.gateway || req.ipRange || req.auxAddresses) {
      throw new TsnError('ERR_BAD_OPTION', `the ${this.name} driver takes no IPAM options (--subnet, --gateway, --ip-range, --aux-address)`);
    }
    return { ipam: null, gateway: null };
  }
  createNetwork(): void {}
  deleteNetwork(): void {}
  connect(): null {
    return null;
  }
  disconnect(): void {}
}
