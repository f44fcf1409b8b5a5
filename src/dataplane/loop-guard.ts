/**
 * LoopGuard: loop detection for a bridge network's uplinks (host interfaces that are ports of the
 * network, `-o parent=` and `network uplink add`). There is no STP: the guard does not find a loop-free
 * topology, it keeps a loop outside the switch from becoming a storm inside it and from moving the
 * containers' MACs onto an uplink. A frame that comes in by an uplink is a loop's when:
 *
 *   - its source MAC lives on one of the network's own ports (a container, the gateway port): the
 *     switch sent it, and the LAN sent it back (a hairpinning switch, two uplinks cabled together, or a
 *     host on the LAN spoofing a container: none of them may move that MAC);
 *   - it would be flooded or would move a MAC, and it is byte for byte (L4 checksums aside, which the
 *     switch completes on the way out) a frame the switch flooded to an uplink in the last half second,
 *     coming back by another port than the one it came in by, or by that same uplink within
 *     SAME_PORT_ECHO_S (a cable between two uplinks returns the host kernel's own multicast that way;
 *     a host's deliberate repeats come later: VRRP, gratuitous ARP trains, mDNS probes);
 *   - it is a broadcast or multicast seen STORM_REPEATS times within a second: the LAN itself loops.
 *
 * Each such frame is dropped as `uplink-loop`. When LOOP_BLOCK_DROPS echoes or storm frames come in by
 * one uplink within a second (a frame that only carries a local port's MAC is not counted: it may be a
 * spoofer's, and would let one keep an uplink blocked), the uplink is blocked for floods: every broadcast, multicast and unknown unicast it
 * brings is dropped too, until LOOP_HOLD_S pass without another loop frame (known unicast still
 * passes: a flood is what a loop multiplies). The limits: a loop through a device that rewrites frames
 * (a router, NAT, a VLAN retag) is not seen, and a LAN host's own flood that loops back to the uplink
 * it came from is caught only as a storm (STORM_REPEATS).
 *
 * Cost: one Map lookup per frame from an uplink (its source's FDB entry), one for the destination;
 * a frame hash only for frames that would flood or move a MAC. Nothing for frames of other ports.
 */
import type { FdbTable } from './fdb-table.js';
import type { Port } from './port.js';
import { formatMac, readMac } from '../packet/mac.js';

/** How long a flooded frame is remembered (seconds): a loop brings it back within milliseconds; a host's retry (ARP: 1 s) is no echo. */
export const ECHO_WINDOW_S = 0.5;
/**
 * An echo that comes back by the very uplink the flood came in by (a cable between two uplinks hands
 * the kernel's own multicast back that way) is only taken as one this soon: a host's deliberate repeat
 * (VRRP every 100 ms) comes later. Such echoes are dropped but not counted toward a block.
 */
export const SAME_PORT_ECHO_S = 0.02;
/** The window of the storm and block counts (seconds). */
export const LOOP_WINDOW_S = 1;
/** Loop frames from one uplink within a window that block its floods. */
export const LOOP_BLOCK_DROPS = 8;
/** A blocked uplink is unblocked this long after its last loop frame (seconds). */
export const LOOP_HOLD_S = 10;
/**
 * The same broadcast/multicast this many times within a window: a storm. Far above what hosts repeat
 * on purpose (VRRP adverts 10 a second, gratuitous ARP bursts, mDNS probes), far below a loop's rate.
 */
export const STORM_REPEATS = 50;
/** Flooded frames remembered (a ring): a burst of floods larger than this within a window is partly forgotten. */
const SENT_RING = 256;
/** Distinct group frames counted per window for the storm check. */
const STORM_TABLE_MAX = 4096;
/** Bytes of a frame hashed: headers and the start of the payload. */
const HASH_BYTES = 128;

/** What `network inspect` shows of one uplink's loop guard. */
export interface UplinkLoopState {
  /** Frames dropped as `uplink-loop` that were a loop's (blocked floods are not counted here). */
  loopFrames: number;
  /** Frames dropped only because their source MAC is a local port's (no echo of ours): not counted toward a block. */
  spoofed: number;
  /** Floods dropped while the uplink was blocked. */
  blockedFloods: number;
  /** Times the uplink was blocked. */
  blocks: number;
  /** Clock time the current block began, or null when not blocked. */
  blockedSince: number | null;
}

interface UplinkState extends UplinkLoopState {
  windowStart: number;
  windowLoops: number;
  blockedUntil: number;
}

/** Offset (from the frame start) of the L4 checksum the sender may have left partial, or -1. */
function l4ChecksumAt(bytes: Uint8Array, off: number, len: number): number {
  if (len < 34) return -1;
  const type = (bytes[off + 12] << 8) | bytes[off + 13];
  let l4: number;
  let proto: number;
  if (type === 0x0800) {
    if ((((bytes[off + 20] & 0x1f) << 8) | bytes[off + 21]) !== 0) return -1; // a later fragment: no L4 header
    l4 = 14 + (bytes[off + 14] & 0x0f) * 4;
    proto = bytes[off + 23];
  } else if (type === 0x86dd) {
    l4 = 54;
    proto = bytes[off + 20];
  } else return -1;
  const at = proto === 17 ? l4 + 6 : proto === 6 ? l4 + 16 : proto === 58 || proto === 1 ? l4 + 2 : -1;
  return at >= 0 && at + 2 <= len ? at : -1;
}

/** FNV-1a over the frame's first HASH_BYTES, its L4 checksum left out, mixed with its length. */
export function loopFrameHash(bytes: Uint8Array, off: number, len: number): number {
  const skip = l4ChecksumAt(bytes, off, len);
  const n = len < HASH_BYTES ? len : HASH_BYTES;
  let h = 0x811c9dc5 ^ len;
  for (let i = 0; i < n; i++) {
    if (i === skip || i === skip + 1) continue;
    h = Math.imul(h ^ bytes[off + i], 0x01000193);
  }
  return h >>> 0;
}

export class LoopGuard {
  private readonly uplinks = new Map<Port, UplinkState>();
  private readonly sentHash = new Uint32Array(SENT_RING);
  private readonly sentTime = new Float64Array(SENT_RING).fill(-Infinity);
  /** The port each remembered flood came in by: a frame back on that same uplink is its host's repeat, not an echo. */
  private readonly sentFrom: (Port | null)[] = new Array<Port | null>(SENT_RING).fill(null);
  private sentNext = 0;
  private storm = new Map<number, number>();
  private stormWindow = -Infinity;
  /** Called when an uplink becomes blocked (the daemon logs it); unblocking is seen by `state`. */
  onBlocked: (port: Port, why: string) => void = () => undefined;

  addUplink(port: Port): void {
    if (!this.uplinks.has(port)) this.uplinks.set(port, { loopFrames: 0, spoofed: 0, blockedFloods: 0, blocks: 0, blockedSince: null, windowStart: -Infinity, windowLoops: 0, blockedUntil: -Infinity });
  }

  removeUplink(port: Port): void {
    this.uplinks.delete(port);
  }

  get size(): number {
    return this.uplinks.size;
  }

  /** A flood from `inPort` leaves by an uplink: the domain has one that is not the ingress port. */
  floodReachesUplink(inPort: Port): boolean {
    return this.uplinks.size > (this.uplinks.has(inPort) ? 1 : 0);
  }

  isUplink(port: Port): boolean {
    return this.uplinks.has(port);
  }

  /** A frame the switch flooded out by an uplink: remembered for ECHO_WINDOW_S. */
  noteFlooded(bytes: Uint8Array, off: number, len: number, now: number, from: Port | null = null): void {
    const i = this.sentNext;
    this.sentHash[i] = loopFrameHash(bytes, off, len);
    this.sentTime[i] = now;
    this.sentFrom[i] = from;
    this.sentNext = (i + 1) % SENT_RING;
  }

  /**
   * Seconds since `hash` was flooded: by another port than `at` within ECHO_WINDOW_S (an echo), or by
   * `at` itself within SAME_PORT_ECHO_S (negative - 1 - ago: an echo that proves less); else NaN.
   */
  private floodedAgo(hash: number, now: number, at: Port): number {
    for (let i = 0; i < SENT_RING; i++) {
      if (this.sentHash[i] !== hash) continue;
      const ago = now - this.sentTime[i];
      if (this.sentFrom[i] !== at) {
        if (ago <= ECHO_WINDOW_S) return ago;
      } else if (ago <= SAME_PORT_ECHO_S) return -1 - ago;
    }
    return Number.NaN;
  }

  /** How often this group frame was seen in the current window, this one included (counted unless dry). */
  private seen(hash: number, now: number, dryRun: boolean): number {
    if (now - this.stormWindow >= LOOP_WINDOW_S) {
      if (dryRun) return 1;
      this.storm.clear();
      this.stormWindow = now;
    }
    const n = (this.storm.get(hash) ?? 0) + 1;
    if (!dryRun && (n > 1 || this.storm.size < STORM_TABLE_MAX)) this.storm.set(hash, n);
    return n;
  }

  /**
   * Why the frame from uplink `port` must be dropped (`uplink-loop`), or null to let it pass; frames of
   * ports that are not uplinks always pass. A dry run (trace) changes no count.
   */
  check(port: Port, bytes: Uint8Array, off: number, len: number, fdb: FdbTable, now: number, dryRun: boolean): string | null {
    const st = this.uplinks.get(port);
    if (st === undefined) return null;
    const src = readMac(bytes, off + 6);
    const group = (bytes[off] & 1) !== 0;
    const fromSlot = fdb.find(src); // a slot, not an entry object: nothing allocated per frame
    const from = fromSlot < 0 ? undefined : fdb.portAt(fromSlot);
    const unknownDst = !group && fdb.lookup(readMac(bytes, off)) === undefined;
    let why: string | null = null;
    // Evidence of a loop (counted toward blocking) is an echo of a flood or a storm; a frame that only
    // carries a local port's source MAC is dropped but proves nothing (a spoofer could keep an uplink
    // blocked with a trickle of them).
    let evidence = true;
    if (from !== undefined && from !== port && !this.uplinks.has(from)) {
      why = `source ${formatMac(src)} lives on ${from.label}: a frame of this network came back by the uplink (a loop outside the switch, or a spoofer)`;
      evidence = this.floodedAgo(loopFrameHash(bytes, off, len), now, port) >= 0; // NaN and same-port: no
    } else if (group || unknownDst || (from !== undefined && from !== port)) {
      const h = loopFrameHash(bytes, off, len);
      const ago = this.floodedAgo(h, now, port);
      if (ago >= 0) why = `the switch flooded this frame ${Math.round(ago * 1000)} ms ago: it came back by the uplink (a loop outside the switch)`;
      else if (ago < 0) {
        why = `the switch flooded this frame from this uplink ${Math.round((-1 - ago) * 1000)} ms ago and it came straight back (a cable between uplinks, or a duplicate)`;
        evidence = false;
      } else if (group) {
        const n = this.seen(h, now, dryRun);
        if (n >= STORM_REPEATS) why = `the same ${(bytes[off] & bytes[off + 1]) === 0xff ? 'broadcast' : 'multicast'} ${n} times within ${LOOP_WINDOW_S} s: a storm on the LAN`;
      }
    }
    if (why !== null) {
      if (!dryRun) {
        if (evidence) this.countLoop(port, st, now, why);
        else st.spoofed++;
      }
      return why;
    }
    if (now < st.blockedUntil && (group || unknownDst)) {
      if (!dryRun) st.blockedFloods++;
      return `floods from ${port.label} are blocked: a loop was seen on it ${Math.round(now - (st.blockedUntil - LOOP_HOLD_S))} s ago (unblocked ${LOOP_HOLD_S} s after the last loop frame)`;
    }
    return null;
  }

  private countLoop(port: Port, st: UplinkState, now: number, why: string): void {
    st.loopFrames++;
    if (now - st.windowStart >= LOOP_WINDOW_S) {
      st.windowStart = now;
      st.windowLoops = 0;
    }
    st.windowLoops++;
    const blocked = now < st.blockedUntil;
    if (blocked) st.blockedUntil = now + LOOP_HOLD_S;
    else if (st.windowLoops >= LOOP_BLOCK_DROPS) {
      st.blocks++;
      st.blockedSince = now;
      st.blockedUntil = now + LOOP_HOLD_S;
      this.onBlocked(port, why);
    }
  }

  /** The uplink's loop counters and block, as of `now` (null: not an uplink of this guard). */
  state(port: Port, now: number): UplinkLoopState | null {
    const st = this.uplinks.get(port);
    if (st === undefined) return null;
    if (st.blockedSince !== null && now >= st.blockedUntil) st.blockedSince = null;
    return { loopFrames: st.loopFrames, spoofed: st.spoofed, blockedFloods: st.blockedFloods, blocks: st.blocks, blockedSince: st.blockedSince };
  }
}
