/**
 * Port: one attachment of the switch. A port receives bursts into the frame pool and transmits bursts
 * out of it; the engine never asks a port for one frame.
 *
 * - `ownMac` set: port security. Frames whose source MAC is not this one are dropped (`spoofed-src-mac`).
 *   Container ports have it; trusted ports (the host's gateway port, uplinks) do not.
 * - `gso`: the port takes GSO super-frames and partial checksums as they are. A port that does not gets
 *   them segmented / completed in C on the way out.
 */
import { PortCounters } from './counters.js';
import type { FramePool } from './frame-pool.js';
import type { L2Domain } from './l2-domain.js';

/** 'vxlan': one overlay network's remote VTEPs; 'vtep': the UDP socket several overlays share (in no domain); 'packet': a macvlan/ipvlan parent (AF_PACKET). */
export type PortKind = 'tap' | 'memory' | 'vxlan' | 'vtep' | 'packet';

export interface PortOptions {
  /** Port security: the only source MAC this port may send (48-bit number). */
  ownMac?: number;
  /** IP port security: the only IPv4 source (uint32) this port may send from; 0.0.0.0 is allowed too. */
  ownIp?: number;
  /** IP port security on a dual-stack network: the port's own global IPv6 address (16 bytes), besides its link-local one. */
  ownIp6?: Uint8Array;
}

export abstract class Port {
  /** Process-wide id, set by the engine: the index in descriptor rows, ready lists and port tables. */
  id = -1;
  domain: L2Domain | null = null;
  readonly counters = new PortCounters();
  ownMac: number | null;
  ownIp: number | null;
  ownIp6: Uint8Array | null;
  /**
   * What people call this port in trace, capture and stats output (the daemon sets sandbox:ifname, the
   * emulator the topology's name); the device name until someone sets it.
   */
  label: string;
  /** Rows queued for transmit in the current burst. */
  txQueue: Int32Array = new Int32Array(0);
  txCount = 0;
  abstract readonly kind: PortKind;
  abstract readonly gso: boolean;

  constructor(
    readonly name: string,
    opts: PortOptions = {},
  ) {
    this.ownMac = opts.ownMac ?? null;
    this.ownIp = opts.ownIp ?? null;
    this.ownIp6 = opts.ownIp6 ?? null;
    this.label = name;
  }

  /** Read up to `max` frames into slots firstSlot.. and fill their descriptor rows; returns the count. */
  abstract receive(pool: FramePool, firstSlot: number, max: number): number;
  /**
   * The slots the last receive() used from its firstSlot, given the `rows` it returned: the same for a
   * port that puts one frame per slot; more for one that coalesces (a VTEP's super-frame keeps its
   * message's slot, other frames go to spare slots after the messages). The next port of the burst
   * reads into the slots after these.
   */
  receiveSlots(rows: number): number {
    return rows;
  }
  /** Send the `count` rows of `rows` (descriptor rows of `pool`); counts tx and drops itself. */
  abstract transmit(pool: FramePool, rows: Int32Array, count: number): void;
  /**
   * Frames received from the device but held back for want of slots (a WireGuard VTEP's backlog):
   * the device will not report readable for them, so the engine runs another burst for the port.
   */
  hasPending(): boolean {
    return false;
  }
  /** Start reporting readiness (kernel-backed ports); memory ports are polled by the engine. */
  abstract start(): void;
  /** Stop reporting readiness, keeping the device (after a read error, so a dead device cannot spin). */
  stop(): void {}
  abstract close(): void;
}
