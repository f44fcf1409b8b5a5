/**
 * The drivers a daemon runs, by name: the one place that lists them. Adding a driver is a file that
 * implements NetworkDriver (network-driver.ts), its name in model.ts's DriverName, and a line here.
 */
import type { DriverName } from '../model.js';
import { BridgeDriver } from './bridge-driver.js';
import { MacvlanDriver } from './macvlan-driver.js';
import type { DriverContext, NetworkDriver } from './network-driver.js';
import { NullDriver } from './null-driver.js';
import { OverlayDriver } from './overlay-driver.js';

export interface DriverSet {
  byName: Record<DriverName, NetworkDriver>;
  /** The overlay driver, for its own requests (fdb add/del, remote VTEPs in fdb show, VTEP stats). */
  overlay: OverlayDriver;
}

export function createDrivers(ctx: DriverContext): DriverSet {
  const overlay = new OverlayDriver(ctx);
  return {
    byName: { bridge: new BridgeDriver(ctx), null: new NullDriver(), overlay, macvlan: new MacvlanDriver(ctx, 'macvlan'), ipvlan: new MacvlanDriver(ctx, 'ipvlan') },
    overlay,
  };
}
