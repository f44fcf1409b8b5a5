/**
 * ReadinessHub: process-wide port ids and the one native readiness callback.
 *
 * The addon calls back once per event-loop turn with every ready port id (readiness.c). The hub maps
 * each id to the engine that owns the port and asks each engine once to run a burst over its ready
 * ports. Port ids index the ready vector, so they are small and reused.
 */
import { native } from '../native/addon.js';
import type { Port } from './port.js';

export const MAX_PORTS = 4096;
/** The longest busy-poll budget the addon takes (readiness.c's setBusyPoll). */
export const MAX_BUSY_POLL_US = 1000;

export interface ReadyListener {
  onReady(ports: Port[]): void;
}

class Hub {
  private readonly owners: (ReadyListener | undefined)[] = new Array(MAX_PORTS);
  private readonly ports: (Port | undefined)[] = new Array(MAX_PORTS);
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private ready: Int32Array | null = null;
  private readonly byListener = new Map<ReadyListener, Port[]>();

  allocate(port: Port, owner: ReadyListener): number {
    const id = this.freeIds.length ? this.freeIds.pop()! : this.nextId++;
    if (id >= MAX_PORTS) throw new RangeError(`too many ports: at most ${MAX_PORTS}`);
    this.owners[id] = owner;
    this.ports[id] = port;
    return id;
  }

  release(id: number): void {
    if (id < 0 || !this.ports[id]) return;
    this.owners[id] = undefined;
    this.ports[id] = undefined;
    this.freeIds.push(id);
  }

  /** Report `port` whenever `fd` is readable. */
  watch(fd: number, port: Port): void {
    if (!this.ready) {
      this.ready = new Int32Array(MAX_PORTS);
      const ready = this.ready;
      native().setReadyHandler((n) => this.dispatch(ready, n), ready);
    }
    native().pollStart(fd, port.id);
  }

  /**
   * Keep polling the ports for up to `microseconds` after a burst that had frames (0: off), so the
   * reply to what was just sent is read without the daemon going idle and being woken (readiness.c).
   */
  setBusyPoll(microseconds: number): void {
    if (!Number.isFinite(microseconds) || microseconds < 0 || microseconds > MAX_BUSY_POLL_US) {
      throw new RangeError(`busy-poll ${microseconds} µs: expected 0 (off) to ${MAX_BUSY_POLL_US}`);
    }
    native().setBusyPoll(microseconds);
  }

  /** Null while no port is watched (the emulator, memory ports): there is nothing to poll. */
  busyPollStats(): { budgetUs: number; spins: number; hits: number } | null {
    return this.ready ? native().busyPollStats() : null;
  }

  unwatch(port: Port): void {
    if (this.ready) native().pollStop(port.id);
  }

  private dispatch(ready: Int32Array, n: number): void {
    const groups = this.byListener;
    for (let i = 0; i < n; i++) {
      const id = ready[i];
      const owner = this.owners[id];
      const port = this.ports[id];
      if (!owner || !port) continue;
      let list = groups.get(owner);
      if (!list) groups.set(owner, (list = []));
      list.push(port);
    }
    for (const [owner, list] of groups) {
      groups.delete(owner);
      owner.onReady(list);
    }
  }
}

export const readinessHub = new Hub();
