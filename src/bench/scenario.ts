/**
 * What a bench scenario is. A scenario is one kind of traffic (one TCP stream, 64-byte UDP, round
 * trips, ...) over one topology built several ways — the *paths*: the kernel's driver (the baseline,
 * always first), tsnet-switch, Open vSwitch's userspace datapath, HAProxy, ... The runner builds every
 * available path's topology once, then alternates the measurements A B C A B C over the repeats so a
 * machine's drift hits every path alike, and reports each path against the first one.
 *
 * To add a scenario (e.g. from a standalone bench/*-e2e.ts script):
 *   1. one BenchPath per way of building the topology: `build()` makes namespaces and devices through
 *      ctx.cleanup (so teardown is automatic, also on Ctrl-C), and returns what the traffic needs plus
 *      where the switch's CPU shows (`cpu`);
 *   2. `measure()` runs the traffic with the helpers in traffic.ts, spawning through ctx.cleanup;
 *   3. list it in registry.ts.
 * Paths of one family (bridge: kernel / tsnet / ovs) live in topologies/ and are shared by its scenarios.
 */
import type { CleanupStack } from './cleanup-stack.js';
import type { CpuSource } from './cpu-meter.js';
import type { OvsUserspace } from './topologies/ovs-userspace.js';

export type Better = 'higher' | 'lower';

/** One number a scenario reports per repeat. */
export interface MetricSpec {
  /** Stable key in the JSON ('throughput', 'p50'). */
  key: string;
  /** Shown in tables ('Gbit/s', 'p50 µs'). */
  label: string;
  unit: string;
  better: Better;
}

/** One repeat's values by metric key. */
export type Sample = Record<string, number>;

/** What every built path hands to the traffic. */
export interface BuiltPath {
  /** Where the switch's CPU is measured. */
  cpu: CpuSource;
}

export interface BuildContext {
  /** Short and unique in this run: use it in namespace names. */
  readonly tag: string;
  /** The scenario's scope: everything the path makes registers its undo here. */
  readonly cleanup: CleanupStack;
  /** The run's private Open vSwitch (started on first use, stopped at the end of the run). */
  ovs(): Promise<OvsUserspace>;
}

export interface MeasureContext {
  /** Seconds of traffic per repeat (whole seconds: iperf3 -t). */
  readonly durationS: number;
  /** The measurement's scope: spawn servers and clients through it. */
  readonly cleanup: CleanupStack;
}

export interface BenchPath<T extends BuiltPath> {
  /** Stable id in the JSON and --paths: 'kernel', 'tsnet', 'ovs', 'haproxy', 'direct'. */
  id: string;
  /** What it is, for tables: 'Linux bridge + veth'. */
  label: string;
  /** null when this path can run here; otherwise why not, naming the package to install. */
  unavailable?(): string | null;
  build(ctx: BuildContext): Promise<T>;
}

export interface Scenario<T extends BuiltPath = BuiltPath> {
  name: string;
  description: string;
  /** Tools on PATH that measure() needs (checked before anything is built). */
  tools: string[];
  metrics: MetricSpec[];
  /** Runs of --duration seconds that measure() makes per repeat (default 1): the switch's CPU is per second of traffic. */
  trafficRuns?: number;
  /** The first path is the baseline the others' ratios refer to. */
  paths: BenchPath<T>[];
  measure(path: T, ctx: MeasureContext): Promise<Sample>;
}

/** Erase the topology type for the registry's list. */
export function scenario<T extends BuiltPath>(s: Scenario<T>): Scenario {
  return s as unknown as Scenario;
}

/**
 * A part every path of a scenario shares (one dockerd, one set of backends), built on first use and
 * kept for the scenario's scope: all its paths are measured on the very same thing.
 */
export function sharedPerScenario<T>(build: (ctx: BuildContext) => Promise<T>): (ctx: BuildContext) => Promise<T> {
  const built = new WeakMap<CleanupStack, Promise<T>>();
  return (ctx) => {
    let b = built.get(ctx.cleanup);
    if (!b) {
      b = build(ctx);
      built.set(ctx.cleanup, b);
    }
    return b;
  };
}
