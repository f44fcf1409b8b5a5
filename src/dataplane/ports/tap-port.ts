/**
 * TapPort: a TAP device on /dev/net/tun, opened by the addon with a virtio-net header and TSO/CSUM
 * offloads, so 64 KB TCP super-frames and partial checksums cross the switch untouched. Reads and
 * writes are bursts in C (burst.c); readiness comes from a libuv poll handle (readiness.c).
 */
import { native, type TapOpenOptions } from '../../native/addon.js';
import { DROP } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import { Port, type PortOptions } from '../port.js';
import { readinessHub } from '../readiness-hub.js';
import { sendFrames } from './transmit-status.js';

export interface TapPortOptions extends TapOpenOptions, PortOptions {}

export class TapPort extends Port {
  readonly kind = 'tap' as const;
  readonly gso: boolean;
  private readonly vnet: boolean;
  private readonly txMode: number;
  private fd: number;
  private watching = false;

  /** Create the TAP named `ifname` (or attach to the persistent one of that name). */
  static open(ifname: string, opts: TapPortOptions = {}): TapPort {
    const vnet = opts.vnetHdr ?? true;
    const offload = opts.offload ?? vnet;
    const { fd, name } = native().tapOpen(ifname, { vnetHdr: vnet, offload, persist: opts.persist ?? false, netns: opts.netns });
    return new TapPort(name, fd, vnet, offload, opts);
  }

  private constructor(name: string, fd: number, vnet: boolean, offload: boolean, opts: PortOptions) {
    super(name, opts);
    this.fd = fd;
    this.vnet = vnet;
    this.gso = vnet && offload;
    const l = native().layout;
    this.txMode = (vnet ? l.TX_VNET : 0) | (this.gso ? l.TX_GSO : 0);
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  receive(pool: FramePool, firstSlot: number, max: number): number {
    if (this.fd < 0) return 0;
    return native().rxBurst(pool.nativeHandle(), this.fd, this.vnet ? 1 : 0, firstSlot, max);
  }

  transmit(pool: FramePool, rows: Int32Array, count: number): void {
    if (this.fd < 0) {
      this.counters.drops[DROP['tx-error']] += count;
      return;
    }
    sendFrames(this.counters, pool, rows, count, pool.status, (n) => native().txBurst(pool.nativeHandle(), this.fd, this.txMode, 0, n));
  }

  start(): void {
    if (this.watching || this.fd < 0) return;
    readinessHub.watch(this.fd, this);
    this.watching = true;
  }

  override stop(): void {
    if (this.watching) readinessHub.unwatch(this);
    this.watching = false;
  }

  /** Keep (or stop keeping) the device after close: the daemon re-adopts persistent TAPs on restart. */
  setPersist(on: boolean): void {
    native().tapSetPersist(this.fd, on);
  }

  /**
   * The device's name now, or null when it is gone (deleted, or its namespace destroyed: the kernel
   * detaches the descriptor). Follows renames and moves to another namespace. One ioctl, no netlink.
   */
  deviceName(): string | null {
    if (this.fd < 0) return null;
    try {
      return native().tapDeviceName(this.fd);
    } catch (err) {
      if ((err as { code?: string }).code === 'EBADFD') return null;
      throw err;
    }
  }

  /** The inode (id) of the namespace the device is in now, or null when it is gone. */
  netnsInode(): number | null {
    if (this.fd < 0) return null;
    try {
      return native().tapNetnsInode(this.fd);
    } catch (err) {
      if ((err as { code?: string }).code === 'EBADFD') return null;
      throw err;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    this.stop();
    native().closeFd(this.fd);
    this.fd = -1;
  }
}
