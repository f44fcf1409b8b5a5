/**
 * VtepSocketPort: one VXLAN tunnel endpoint (LOCAL_IP:PORT) shared by every overlay network that
 * uses it, each with its own VNI. It only receives: a burst of datagrams lands in the pool like any
 * port's frames, and the vxlan-decap stage checks each VXLAN header and moves the frame to the
 * VxlanPort of its VNI (`networks`), in that port's L2 domain. The socket port itself belongs to no
 * domain; drops before a VNI is known (truncated, bad flags, unknown VNI) are counted here.
 * Sending is the VxlanPorts' business (they share this port's underlay).
 */
import { VST_RX_AMBIGUOUS_GRO, VST_RX_NO_SLOT, VST_RX_SLOTS_USED } from '../../native/addon.js';
import { DROP } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import type { Underlay } from '../overlay/underlay.js';
import { Port } from '../port.js';
import { readinessHub } from '../readiness-hub.js';
import type { VxlanPort } from './vxlan-port.js';

export class VtepSocketPort extends Port {
  readonly kind = 'vtep' as const;
  readonly gso = true;
  /** VNI -> the overlay network's port. */
  readonly networks = new Map<number, VxlanPort>();
  private watching = false;
  private noSlotSeen = 0;
  private ambiguousSeen = 0;

  constructor(
    name: string,
    readonly underlay: Underlay,
  ) {
    super(name);
    underlay.bindDropCounters?.(this.counters.drops); // an encrypted underlay counts its wg-* drops here
  }

  /** Bind `port` to its VNI; throws if another network uses that VNI on this VTEP already. */
  attach(port: VxlanPort): void {
    const other = this.networks.get(port.vni);
    if (other && other !== port) throw new Error(`VNI ${port.vni} is used by ${other.name} on VTEP ${this.name} already`);
    this.networks.set(port.vni, port);
  }

  detach(port: VxlanPort): void {
    if (this.networks.get(port.vni) === port) this.networks.delete(port.vni);
  }

  receive(pool: FramePool, firstSlot: number, max: number): number {
    const n = this.underlay.receive(pool, firstSlot, max);
    const noSlot = this.underlay.status[VST_RX_NO_SLOT];
    if (noSlot !== this.noSlotSeen) {
      this.counters.drops[DROP['vxlan-no-slot']] += noSlot - this.noSlotSeen;
      this.noSlotSeen = noSlot;
    }
    const ambiguous = this.underlay.status[VST_RX_AMBIGUOUS_GRO];
    if (ambiguous !== this.ambiguousSeen) {
      this.counters.drops[DROP['vxlan-ambiguous-gro']] += ambiguous - this.ambiguousSeen;
      this.ambiguousSeen = ambiguous;
    }
    return n;
  }

  override hasPending(): boolean {
    return this.underlay.hasPending?.() ?? false;
  }

  /** What the underlay's receive used (native: VST_RX_SLOTS_USED; an underlay that does not say: one per row). */
  override receiveSlots(rows: number): number {
    return Math.max(rows, this.underlay.status[VST_RX_SLOTS_USED]);
  }

  /** Never a destination: it is in no domain. Anything queued here is a bug, counted. */
  transmit(_pool: FramePool, _rows: Int32Array, count: number): void {
    this.counters.drops[DROP['internal-error']] += count;
  }

  start(): void {
    if (this.watching || this.underlay.fd < 0) return;
    readinessHub.watch(this.underlay.fd, this);
    this.watching = true;
  }

  override stop(): void {
    if (this.watching) readinessHub.unwatch(this);
    this.watching = false;
  }

  close(): void {
    this.stop();
    this.underlay.close();
  }
}
