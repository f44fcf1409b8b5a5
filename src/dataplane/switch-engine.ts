/**
 * SwitchEngine: the burst loop. Run to completion per batch (Snabb's "breathe"):
 *
 *   1. pull a burst from every ready port into consecutive pool slots (C reads until EAGAIN or budget),
 *   2. push the batch through the stage graph (graph.ts), each stage one straight loop,
 *   3. flush every touched port's transmit queue with one batched native write,
 *   4. periodic work (FDB aging) at most once a second.
 *
 * Never an await per packet, never a JS call per packet from native code. A port whose read fails is
 * counted and stops being polled; a stage that throws costs its batch (counted as internal-error),
 * never the process.
 */
import { Batch, CLASS_BRIDGE, CLASS_IPVLAN, CLASS_MACVLAN, CLASS_OVERLAY } from './batch.js';
import type { CapturePoint } from './capture-point.js';
import { MonotonicClock, type Clock } from './clock.js';
import { DROP, DROP_REASONS, type DropReason } from './drop-reasons.js';
import { FramePool, type VnetFields } from './frame-pool.js';
import { buildGraph, type StageGraph } from './graph.js';
import type { LoadBalancer, LoadBalancerOptions } from '../lb/load-balancer.js';
import type { ParentNetworks } from './parent-networks.js';
import { L2Domain, type L2DomainOptions } from './l2-domain.js';
import { DESC_STRIDE, D_LEN, D_PORT } from './layout.js';
import type { Port } from './port.js';
import { MemoryPort } from './ports/memory-port.js';
import { VxlanPort } from './ports/vxlan-port.js';
import { MAX_PORTS, readinessHub, type ReadyListener } from './readiness-hub.js';
import type { StageContext } from './stage.js';
import { Tracer, type TraceRecord } from './tracer.js';

export interface SwitchEngineOptions {
  /** Frames one burst may hold across all ports (pool slots of 66 KiB each). */
  poolSlots?: number;
  /** Frames read from one port per burst. */
  portBurst?: number;
  clock?: Clock;
  /** Load balancer sizing (connection table cap, Maglev table size). */
  lb?: LoadBalancerOptions;
}

export interface TraceResult {
  records: TraceRecord[];
  /** Ports the frame would leave by. */
  outputs: string[];
  dropped: boolean;
}

export class SwitchEngine implements ReadyListener {
  readonly pool: FramePool;
  readonly clock: Clock;
  readonly domains = new Map<string, L2Domain>();
  /** Ports by process-wide id (sparse). */
  readonly ports: (Port | undefined)[] = new Array(MAX_PORTS);
  private readonly graph: StageGraph;
  private readonly batch: Batch;
  private readonly portBurst: number;
  private readonly ctx: StageContext = { now: 0, dryRun: false };
  private readonly memoryPorts: MemoryPort[] = [];
  private lastAging: number;
  /** The burst stamp of Batch.mark. */
  private stamp = 0;
  /** Scratch: rows a stage made in this burst (not classified), appended for egress. */
  private readonly madeRows: Int32Array;
  /** Ports that held frames back in the last burst (Port.hasPending), run again on the next turn. */
  private pendingPorts: Port[] = [];
  private pendingScheduled = false;
  /** Active packet captures (src/capture/capture-hub.ts); null when none, so capture costs nothing when off. */
  capture: CapturePoint | null = null;
  /** The L4 load balancer's runtime (virtual services, connection table): see src/lb/. */
  get lb(): LoadBalancer {
    return this.graph.lb.lb;
  }
  /** macvlan/ipvlan networks on parent interfaces: src/dataplane/parent-networks.ts. */
  get parentNetworks(): ParentNetworks {
    return this.graph.parentNetworks;
  }
  /** Bursts run and stage exceptions caught, for stats. */
  bursts = 0;
  /** Per stage, what it dropped by reason (non-zero only); drops outside the graph (a port's receive or send, native code) are per port only. */
  stageDrops(): Record<string, Partial<Record<DropReason, number>>> {
    const out: Record<string, Partial<Record<DropReason, number>>> = {};
    for (const st of this.graph.stages) {
      const by: Partial<Record<DropReason, number>> = {};
      for (let i = 0; i < DROP_REASONS.length; i++) if (st.drops[i] > 0) by[DROP_REASONS[i]] = st.drops[i];
      out[st.name] = by;
    }
    return out;
  }

  internalErrors = 0;
  lastInternalError: unknown = null;

  constructor(opts: SwitchEngineOptions = {}) {
    this.pool = new FramePool(opts.poolSlots ?? 256);
    this.portBurst = opts.portBurst ?? 64;
    this.clock = opts.clock ?? new MonotonicClock();
    this.graph = buildGraph(opts.lb);
    this.batch = new Batch(this.pool, this.ports);
    this.madeRows = new Int32Array(this.pool.slots);
    this.lastAging = this.clock.now();
  }

  createDomain(name: string, opts: L2DomainOptions = {}): L2Domain {
    if (this.domains.has(name)) throw new Error(`L2 domain ${JSON.stringify(name)} exists already`);
    const d = new L2Domain(name, opts);
    this.domains.set(name, d);
    return d;
  }

  removeDomain(domain: L2Domain): void {
    for (const p of domain.ports) this.removePort(p);
    this.domains.delete(domain.name);
    this.capture?.portsChanged();
  }

  /** Attach a port to a domain and start receiving from it. The port's own MAC gets a static FDB entry. */
  addPort(port: Port, domain: L2Domain): void {
    if (port.id >= 0) throw new Error(`port ${port.name} is attached already`);
    port.id = readinessHub.allocate(port, this);
    try {
      this.ports[port.id] = port;
      port.txQueue = new Int32Array(this.pool.slots);
      port.domain = domain;
      domain.join(port);
      if (port.ownMac !== null) domain.fdb.addStatic(port.ownMac, port, this.clock.now());
      if (port instanceof MemoryPort) this.memoryPorts.push(port);
      port.start();
    } catch (err) {
      // Leave nothing half-registered: the caller still owns (and closes) the port.
      port.stop();
      domain.leave(port);
      port.domain = null;
      const i = this.memoryPorts.indexOf(port as MemoryPort);
      if (i >= 0) this.memoryPorts.splice(i, 1);
      this.ports[port.id] = undefined;
      readinessHub.release(port.id);
      port.id = -1;
      throw err;
    }
    this.capture?.portsChanged();
  }

  /**
   * Register a port that belongs to no L2 domain and start receiving from it: a VTEP socket shared by
   * overlay networks, whose frames the vxlan-decap stage moves into their network's domain.
   * removePort() takes it away again.
   */
  addDetachedPort(port: Port): void {
    if (port.id >= 0) throw new Error(`port ${port.name} is attached already`);
    port.id = readinessHub.allocate(port, this);
    this.ports[port.id] = port;
    port.txQueue = new Int32Array(this.pool.slots);
    port.start();
  }

  /** Detach a port: its FDB entries go, its descriptor closes. */
  removePort(port: Port): void {
    if (port.id < 0 || this.ports[port.id] !== port) return;
    port.domain?.leave(port);
    port.domain = null;
    port.close();
    this.ports[port.id] = undefined;
    readinessHub.release(port.id);
    port.id = -1;
    const i = this.memoryPorts.indexOf(port as MemoryPort);
    if (i >= 0) this.memoryPorts.splice(i, 1);
    this.capture?.portsChanged();
  }

  /** Frames that left by at least one port (trace dry runs excluded). */
  get framesForwarded(): number {
    return this.graph.egress.forwarded;
  }

  onReady(ready: Port[]): void {
    this.runBurst(ready);
  }

  /** One burst over `ready` ports; returns the number of frames received. */
  runBurst(ready: readonly Port[]): number {
    const pool = this.pool;
    const desc = pool.desc;
    const rows = this.batch.arrival;
    const slots = pool.slots;
    let n = 0; // rows in the batch
    // Next free slot (and descriptor row). A port's rows are descriptors at..at+got-1, but a coalescing
    // port (a VTEP) may use more slots than it returns rows (Port.receiveSlots): the next port reads
    // after all of them, never into a super-frame's slot. Descriptors of slots that hold no row get
    // no port, so what scans descriptors (captures, the internal-error path) skips them.
    let at = 0;
    for (let k = 0; k < ready.length && at < slots; k++) {
      const port = ready[k];
      let got: number;
      try {
        got = port.receive(pool, at, Math.min(this.portBurst, slots - at));
      } catch (err) {
        port.counters.drops[DROP['rx-error']]++;
        port.stop();
        this.lastInternalError = err;
        continue;
      }
      const c = port.counters;
      for (let i = at; i < at + got; i++) {
        const d = i * DESC_STRIDE;
        desc[d + D_PORT] = port.id;
        rows[n++] = i;
        const len = desc[d + D_LEN];
        if (len > 0) c.rxBytes += len;
      }
      c.rxPackets += got;
      const used = got > 0 ? Math.min(port.receiveSlots(got), slots - at) : 0;
      for (let i = at + got; i < at + used; i++) desc[i * DESC_STRIDE + D_PORT] = -1;
      at += used;
      if (port.hasPending()) this.runAgain(port);
    }
    const now = this.clock.now();
    if (n > 0) {
      this.batch.rows = rows;
      this.batch.count = n;
      this.batch.tracer = null;
      this.ctx.now = now;
      this.ctx.dryRun = false;
      const cap = this.capture;
      if (cap !== null) cap.received(this.batch, at);
      this.runStages(at);
      if (cap !== null) cap.decided(this.batch, at, this.graph.egress.touched);
      this.flush();
      this.bursts++;
    }
    if (now - this.lastAging >= 1) this.periodic(now);
    return n;
  }

  /** Run a burst for `port` on the next event-loop turn although its device may not turn readable. */
  private runAgain(port: Port): void {
    if (!this.pendingPorts.includes(port)) this.pendingPorts.push(port);
    if (this.pendingScheduled) return;
    this.pendingScheduled = true;
    setImmediate(() => {
      this.pendingScheduled = false;
      const list = this.pendingPorts.filter((p) => p.id >= 0 && this.ports[p.id] === p);
      this.pendingPorts = [];
      if (list.length) this.runBurst(list);
    });
  }

  /** `received`: descriptor rows 0..received-1 may hold the burst's frames (those with D_PORT -1 hold none). */
  private runStages(received: number): void {
    try {
      this.pass(this.ctx);
    } catch (err) {
      // A bug in a stage: drop the batch, count it against the ingress ports, keep switching.
      this.internalErrors++;
      this.lastInternalError = err;
      this.batch.dropReason.fill(DROP['internal-error'], 0, received);
      for (let i = 0; i < received; i++) {
        const port = this.ports[this.pool.desc[i * DESC_STRIDE + D_PORT]];
        if (port) port.counters.drops[DROP['internal-error']]++;
      }
      for (const p of this.graph.egress.touched) p.txCount = 0;
      this.graph.egress.touched.length = 0;
    }
  }

  /**
   * The graph over the batch (`arrival`/`count` set): the prefix stages over every row, then each row
   * into its class's list (bridge, overlay, macvlan, ipvlan: by its ingress port's domain), the
   * scheduled stages each over its classes' lists, and egress over the survivors in arrival order
   * (rows a stage made, such as overlay-mtu's ICMP messages, after them).
   */
  private pass(ctx: StageContext): void {
    const b = this.batch;
    const g = this.graph;
    const arrival = b.arrival;
    b.rows = arrival;
    for (let i = 0; i < g.prefix.length; i++) g.prefix[i].process(b, ctx);
    const n = b.count;
    b.arrivalCount = n;
    // Two stamps per pass: `s` = classified, `s + 1` = survived to egress.
    let s = (this.stamp += 2);
    if (s >= 0x3ffffffe) {
      b.mark.fill(0);
      s = this.stamp = 2;
    }
    const mark = b.mark;
    const counts = b.classCount;
    counts.fill(0);
    const desc = this.pool.desc;
    const nets = g.parentNetworks;
    let lastPort = -1;
    let cls = CLASS_BRIDGE;
    for (let i = 0; i < n; i++) {
      const row = arrival[i];
      const portId = desc[row * DESC_STRIDE + D_PORT];
      if (portId !== lastPort) {
        lastPort = portId;
        cls = this.classOf(this.ports[portId]!, nets);
      }
      b.classRows[cls][counts[cls]++] = row;
      mark[row] = s;
    }
    const schedule = g.schedule;
    for (let k = 0; k < schedule.length; k++) {
      const { stage, classes } = schedule[k];
      for (let j = 0; j < classes.length; j++) {
        const c = classes[j];
        if (counts[c] === 0) continue;
        b.rows = b.classRows[c];
        b.count = counts[c];
        stage.process(b, ctx);
        counts[c] = b.count;
      }
    }
    // Survivors back into arrival order; rows no class list held at classification come after.
    const made = this.madeRows;
    let m = 0;
    for (let c = 0; c < counts.length; c++) {
      const list = b.classRows[c];
      for (let i = 0; i < counts[c]; i++) {
        const row = list[i];
        if (mark[row] !== s) made[m++] = row;
        mark[row] = s + 1;
      }
    }
    let w = 0;
    for (let i = 0; i < n; i++) {
      const row = arrival[i];
      if (mark[row] === s + 1) arrival[w++] = row;
    }
    for (let i = 0; i < m; i++) arrival[w++] = made[i];
    b.rows = arrival;
    b.count = w;
    g.egress.process(b, ctx);
  }

  /** The class of a frame from `port` (past ingress: the port has a domain). */
  private classOf(port: Port, nets: ParentNetworks): number {
    const net = nets.of(port.id);
    if (net !== undefined && port.domain === net.domain) return net.kind === 'macvlan' ? CLASS_MACVLAN : CLASS_IPVLAN;
    if (port.kind === 'vxlan' || (port.domain !== null && VxlanPort.of(port.domain) !== null)) return CLASS_OVERLAY;
    return CLASS_BRIDGE;
  }

  private flush(): void {
    const touched = this.graph.egress.touched;
    for (let i = 0; i < touched.length; i++) {
      const p = touched[i];
      p.transmit(this.pool, p.txQueue, p.txCount);
      p.txCount = 0;
    }
    touched.length = 0;
  }

  /** Emulator step: one burst over the memory ports that have frames queued. */
  poll(): number {
    const ready = this.memoryPorts.filter((p) => p.pending > 0);
    return ready.length ? this.runBurst(ready) : 0;
  }

  /** Emulator: run bursts until no memory port has frames queued. */
  drain(): number {
    let total = 0;
    for (let n = this.poll(); n > 0; n = this.poll()) total += n;
    return total;
  }

  /** Periodic work: FDB aging. Called by bursts; the daemon also calls it from a timer when idle. */
  periodic(now = this.clock.now()): void {
    for (const d of this.domains.values()) d.fdb.age(now);
    this.graph.lb.periodic(now);
    this.lastAging = now;
  }

  /**
   * Run one frame through the graph as if `port` had received it, recording each stage's decision,
   * without sending it or changing any state (no learning, no counters).
   */
  trace(port: Port, frame: Uint8Array, vnet?: VnetFields): TraceResult {
    if (port.id < 0 || this.ports[port.id] !== port) throw new Error(`port ${port.name} is not attached to this switch`);
    const pool = this.pool;
    pool.load(0, frame, vnet);
    pool.desc[D_PORT] = port.id;
    const tracer = new Tracer();
    const batch = this.batch;
    batch.arrival[0] = 0;
    batch.count = 1;
    batch.tracer = tracer;
    const savedDrops = port.counters.drops.slice();
    const outputs0 = this.graph.egress.forwarded;
    try {
      this.pass({ now: this.clock.now(), dryRun: true });
    } finally {
      port.counters.drops.set(savedDrops);
      batch.tracer = null;
    }
    this.graph.egress.forwarded = outputs0; // a dry run forwards nothing
    const outputs: string[] = [];
    for (const p of this.graph.egress.touched) {
      outputs.push(p.label);
      p.txCount = 0;
    }
    this.graph.egress.touched.length = 0;
    return { records: tracer.records, outputs, dropped: outputs.length === 0 };
  }

  /** Detach every port and release the pool. */
  close(): void {
    for (const p of this.ports) if (p) this.removePort(p);
    this.pool.release();
  }
}
