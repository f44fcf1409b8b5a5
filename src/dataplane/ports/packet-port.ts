/**
 * PacketPort: the uplink of a macvlan/ipvlan network, an AF_PACKET socket bound to the parent interface
 * (native/src/af_packet.c). Every frame carries a virtio-net header, so 64 KB GSO frames and partial
 * checksums cross between the parent and the children's TAPs unsegmented, both ways (`gso: true`).
 * Receive is one recvmmsg per burst straight into pool slots; transmit one sendmmsg per burst.
 *
 * What the parent delivers to us is chosen in the kernel:
 * - membership: PACKET_MR_UNICAST per member MAC (the parent's unicast filter learns it; a driver
 *   without one, veth for example, goes promiscuous by itself, which `parentFilter` reports by
 *   comparing the link's promiscuity before and after), plus ALLMULTI; or PROMISC (passthru);
 * - a socket filter (classic BPF) accepting only member MACs and group addresses, so traffic for other
 *   hosts on a busy LAN is never copied to us.
 *
 * Parent state. Down: the kernel unhooks the socket and reports ENETDOWN once; libuv then stops the poll
 * handle (it treats POLLERR as fatal), so the port counts the event and re-arms its readiness watch;
 * when the parent comes back up the kernel hooks the socket in again and traffic resumes by itself.
 * Sends while down fail with ENETDOWN and are counted as `uplink-down`. Gone (deleted): the socket is
 * dead for good (ENXIO/ENODEV); `reopen()` makes a new one on a parent of the same name, with the
 * same memberships and filter (the driver calls it from its watchdog).
 */
import { constants as osConstants } from 'node:os';
import {
  native,
  PST_COUNT,
  PST_RX_ERRNO,
  PST_RX_OUTGOING,
  PST_RX_TRUNCATED,
  PST_RX_VLAN,
  TXS_LAST_ERRNO,
} from '../../native/addon.js';
import { formatMac } from '../../packet/mac.js';
import { DROP } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import { Port } from '../port.js';
import { readinessHub } from '../readiness-hub.js';
import { sendFrames } from './transmit-status.js';

const ERRNO = osConstants.errno;

export interface PacketPortOptions {
  /** Open the socket inside this network namespace (a path); default: ours. */
  netns?: string;
}

/** How frames for the members reach us: per-MAC unicast membership, or the whole parent (passthru). */
export type PacketMembershipMode = 'unicast' | 'promisc';

export class PacketPort extends Port {
  readonly kind = 'packet' as const;
  readonly gso = true;
  readonly status = new Int32Array(PST_COUNT);
  ifindex = 0;
  parentMac = 0;
  mtu = 0;
  vnetHdrLen = 0;
  ignoreOutgoing = true;
  private handle = -1;
  private fd = -1;
  private watching = false;
  private readonly netns: string | undefined;
  private readonly unicast = new Set<number>();
  private promisc = false;
  private allmulti = false;
  private filter: { macs: number[] | null; groups: boolean } | null = null;
  /** Times the parent was seen going down (ENETDOWN on receive). */
  downEvents = 0;
  /** Set when the socket is dead (the parent was deleted): nothing is read or sent until reopen(). */
  gone = false;
  reopens = 0;
  /** Frames of ours read back (kernels without PACKET_IGNORE_OUTGOING), skipped in C. */
  outgoingSkipped = 0;
  /** Frames whose 802.1Q tag the kernel had stripped and we put back. */
  vlanRestored = 0;
  lastErrno = 0;

  /** Open the uplink on `parent`. A missing parent throws ENODEV naming it; a non-Ethernet one EPROTONOSUPPORT. */
  static open(parent: string, opts: PacketPortOptions = {}): PacketPort {
    const port = new PacketPort(parent, opts.netns);
    port.openSocket();
    return port;
  }

  private constructor(parent: string, netns: string | undefined) {
    super(parent);
    this.netns = netns;
  }

  private openSocket(): void {
    const r = native().packetOpen(this.name, this.status, { netns: this.netns });
    this.handle = r.handle;
    this.fd = r.fd;
    this.ifindex = r.ifindex;
    this.parentMac = r.mac;
    this.mtu = r.mtu;
    this.vnetHdrLen = r.vnetHdrLen;
    this.ignoreOutgoing = r.ignoreOutgoing;
    this.gone = false;
  }

  get isOpen(): boolean {
    return this.handle >= 0;
  }

  /** Readiness is being watched (false after the engine stopped the port on a read error). */
  get isWatching(): boolean {
    return this.watching;
  }

  /** The membership in use: 'promisc' (passthru) or 'unicast' (one entry per member MAC). */
  get membershipMode(): PacketMembershipMode {
    return this.promisc ? 'promisc' : 'unicast';
  }

  get unicastMacs(): string[] {
    return [...this.unicast].map(formatMac);
  }

  /** The MACs with a unicast membership (a copy). */
  unicastMacSet(): Set<number> {
    return new Set(this.unicast);
  }

  /**
   * Ask the parent for frames to `mac` (PACKET_MR_UNICAST). Adding one twice is a no-op. Linux takes a
   * unicast membership on any Ethernet device (a driver without a unicast filter goes promiscuous by
   * itself); should one refuse it all the same, the port falls back to PACKET_MR_PROMISC and says why
   * in `unicastRefused` (the socket filter still keeps other hosts' frames out).
   */
  addUnicast(mac: number): void {
    if (this.unicast.has(mac)) return;
    if (this.handle >= 0 && !this.promisc) {
      try {
        native().packetMembership(this.handle, true, 'unicast', mac);
      } catch (err) {
        this.unicastRefused = (err as { code?: string }).code ?? String(err);
        this.setPromisc(true);
      }
    }
    this.unicast.add(mac);
  }

  /** Why the parent refused a unicast membership (an errno name), if it did: the port is promiscuous instead. */
  unicastRefused: string | null = null;

  removeUnicast(mac: number): void {
    if (!this.unicast.delete(mac) || this.handle < 0) return;
    try {
      native().packetMembership(this.handle, false, 'unicast', mac);
    } catch {
      /* the parent was re-created and never had it: nothing to undo */
    }
  }

  /** Every frame on the parent (passthru: one child owns it). */
  setPromisc(on: boolean): void {
    if (on === this.promisc) return;
    if (this.handle >= 0) native().packetMembership(this.handle, on, 'promisc');
    this.promisc = on;
  }

  /** All multicast groups (IPv6 neighbour discovery, mDNS ... for the members). */
  setAllmulti(on: boolean): void {
    if (on === this.allmulti) return;
    if (this.handle >= 0) native().packetMembership(this.handle, on, 'allmulti');
    this.allmulti = on;
  }

  /**
   * Only frames to `macs` (and group addresses when `groups`) get past the kernel; null: everything.
   * Returns the filter's length in BPF instructions, -1 when none is attached. A program the kernel
   * will not hold (too long, or more than the socket's optmem_max) leaves the socket unfiltered, which
   * is correct (the demux drops what is for nobody) but slower: counted in `filterFallbacks`, and
   * `filterState` says which.
   */
  setFilter(macs: number[] | null, groups: boolean): number {
    this.filter = { macs: macs ? [...macs] : null, groups };
    if (this.handle < 0) return -1;
    const n = native().packetSetFilter(this.handle, this.filter.macs, groups);
    this.filterInstructions = Math.max(n, 0);
    if (macs === null) this.filterState = 'none';
    else if (n >= 0) this.filterState = 'attached';
    else {
      this.filterState = n === -2 ? 'unfiltered-optmem' : 'unfiltered-too-long';
      this.filterFallbacks++;
    }
    return n >= 0 ? n : -1;
  }

  /**
   * The kernel filter now: attached; none asked for; or wanted but not attached because its program
   * was longer than BPF_MAXINSNS (about 2000 MACs) or than the socket's optmem_max allows.
   */
  filterState: 'none' | 'attached' | 'unfiltered-too-long' | 'unfiltered-optmem' = 'none';
  /** Length of the attached filter in BPF instructions (0 when none). */
  filterInstructions = 0;
  /** Times a filter was wanted but the socket had to read everything instead. */
  filterFallbacks = 0;

  receive(pool: FramePool, firstSlot: number, max: number): number {
    if (this.handle < 0) return 0;
    const n = native().packetRecvBurst(pool.nativeHandle(), this.handle, firstSlot, max);
    const st = this.status;
    if (st[PST_RX_TRUNCATED]) this.counters.drops[DROP['rx-truncated']] += st[PST_RX_TRUNCATED];
    if (st[PST_RX_OUTGOING]) this.outgoingSkipped += st[PST_RX_OUTGOING];
    if (st[PST_RX_VLAN]) this.vlanRestored += st[PST_RX_VLAN];
    if (st[PST_RX_ERRNO]) this.onReceiveError(st[PST_RX_ERRNO]);
    return n;
  }

  private onReceiveError(errno: number): void {
    this.lastErrno = errno;
    if (errno === ERRNO.ENETDOWN) {
      // libuv stopped the poll handle on the POLLERR that came with this; watch again, the kernel
      // re-hooks the socket when the parent comes back up.
      this.downEvents++;
      if (this.watching) {
        readinessHub.unwatch(this);
        this.watching = false;
        this.start();
      }
    } else {
      // ENXIO / ENODEV: the parent was deleted; the socket will never see it again.
      this.gone = true;
      this.stop();
    }
  }

  transmit(pool: FramePool, rows: Int32Array, count: number): void {
    if (this.handle < 0 || this.gone) {
      this.counters.drops[DROP['uplink-down']] += count;
      return;
    }
    const sent = sendFrames(this.counters, pool, rows, count, this.status, (n) => native().packetSendBurst(pool.nativeHandle(), this.handle, n));
    if (sent !== count) this.lastErrno = this.status[TXS_LAST_ERRNO];
  }

  /**
   * Collect the kernel's drop count for this socket (frames lost before we could read them: the receive
   * queue was full) into the `rx-queue-full` counter. A syscall: called once a second, not per burst.
   */
  collectKernelDrops(): number {
    if (this.handle < 0) return 0;
    const { drops } = native().packetStats(this.handle);
    if (drops > 0) this.counters.drops[DROP['rx-queue-full']] += drops;
    return drops;
  }

  /**
   * After the parent was deleted and made again under the same name: a new socket on it, with the same
   * memberships and filter, watched again. Throws (ENODEV) while there is no such parent.
   */
  reopen(): void {
    const wasWatching = this.watching || this.id >= 0;
    this.closeSocket();
    this.openSocket();
    const macs = [...this.unicast];
    this.unicast.clear();
    const promisc = this.promisc;
    const allmulti = this.allmulti;
    this.promisc = this.allmulti = false;
    for (const m of macs) this.addUnicast(m);
    this.setPromisc(promisc);
    this.setAllmulti(allmulti);
    if (this.filter) this.setFilter(this.filter.macs, this.filter.groups);
    this.reopens++;
    if (wasWatching) this.start();
  }

  start(): void {
    if (this.watching || this.fd < 0 || this.id < 0) return;
    readinessHub.watch(this.fd, this);
    this.watching = true;
  }

  override stop(): void {
    if (this.watching) readinessHub.unwatch(this);
    this.watching = false;
  }

  private closeSocket(): void {
    this.stop();
    if (this.handle >= 0) native().packetClose(this.handle);
    this.handle = -1;
    this.fd = -1;
  }

  close(): void {
    this.closeSocket();
  }
}
