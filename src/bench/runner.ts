/**
 * BenchRunner: one bench run, start to teardown.
 *
 *   1. Check up front that every tool the chosen scenarios need is on PATH (a missing one stops the run
 *      before anything is built, naming its Debian package); a path that cannot run here (Open vSwitch
 *      not installed) is skipped with its reason.
 *   2. Per scenario, in a scope of the run's CleanupStack: build every path's topology side by side,
 *      then measure A B C, A B C, ... for --repeat rounds, so drift (thermal, a neighbour's job) hits
 *      every path alike; each measurement in a scope of its own, so its servers and clients are gone
 *      before the next path starts. The scope unwinds when the scenario ends, however it ends.
 *   3. A path that fails to build or to measure gets its error recorded and sits out the remaining
 *      rounds; the other paths and scenarios go on, and the run exits non-zero at the end.
 *   4. SIGINT/SIGTERM: the root stack unwinds (servers stopped and reaped, switch ports closed, OVS
 *      stopped, namespaces deleted), then the process exits 130/143; a second signal exits at once.
 *
 * The private Open vSwitch is made on first use and lives until the end of the run (each tsnet path
 * starts a daemon of its own, through topologies/tsnet-daemon.ts). A path's CPU is CPU-seconds over the measurement divided by the seconds of traffic.
 */
import { randomBytes } from 'node:crypto';
import { cpus, hostname, loadavg, release } from 'node:os';
import { TsnError } from '../errors.js';
import { BenchInterrupted, CleanupStack } from './cleanup-stack.js';
import { startCpuMeter } from './cpu-meter.js';
import { findOnPath, missingToolMessage } from './host-commands.js';
import type { ProgressSink } from './progress.js';
import { RESULT_SCHEMA_ID, type BenchResult, type PathResult, type SampleResult, type ScenarioResult } from './results.js';
import type { BenchPath, BuildContext, BuiltPath, Scenario } from './scenario.js';
import { summarize } from './statistics.js';
import { OvsUserspace } from './topologies/ovs-userspace.js';
import { formatCpu, formatValue } from './units.js';

export interface BenchRunOptions {
  scenarios: readonly Scenario[];
  durationS: number;
  repeat: number;
  /** Only these path ids (null: all available). */
  paths: string[] | null;
  /** The command line, recorded in the result. */
  command: string;
  progress: ProgressSink;
}

/** Tools every run needs besides the scenarios' own. */
const BASE_TOOLS = ['ip'];

/** Every tool the scenarios need that is not on PATH, as one sentence per tool. */
export function missingTools(scenarios: readonly Scenario[]): string[] {
  const tools = new Set([...BASE_TOOLS, ...scenarios.flatMap((s) => s.tools)]);
  return [...tools].filter((t) => !findOnPath(t)).map(missingToolMessage);
}

export class BenchRunner {
  readonly runTag = (process.pid % 10000).toString(36) + randomBytes(3).toString('hex');
  private readonly root = new CleanupStack(this.runTag);
  private ovs: Promise<OvsUserspace> | null = null;
  private signals = 0;
  /** The first signal's teardown; it ends with process.exit. */
  private interrupting: Promise<void> | null = null;

  constructor(private readonly opts: BenchRunOptions) {}

  async run(): Promise<BenchResult> {
    const missing = missingTools(this.opts.scenarios);
    if (missing.length) throw new TsnError('ERR_TOOL_MISSING', `bench: ${missing.join('; ')}`);
    const { scenarios: chosen, repeat, durationS } = this.opts;
    this.opts.progress.line(`bench run ${this.runTag}: ${chosen.map((s) => s.name).join(' ')}; ${repeat} × ${durationS} s per path (namespaces tsnb-${this.runTag}-*)`);
    const started = new Date();
    const loadStart = loadavg()[0];
    const onSignal = (sig: NodeJS.Signals) => {
      const p = this.interrupt(sig, sig === 'SIGTERM' ? 143 : 130);
      this.interrupting ??= p;
    };
    // A bug or an I/O error nobody awaited must not skip the teardown either.
    const onCrash = (err: unknown) => {
      const p = this.interrupt(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1);
      this.interrupting ??= p;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    const scenarios: ScenarioResult[] = [];
    const teardownErrors: string[] = [];
    let leftovers: string[] = [];
    try {
      for (const [i, s] of this.opts.scenarios.entries()) {
        scenarios.push(await this.runScenario(s, `${this.runTag}-${i}`, teardownErrors));
      }
      if (this.interrupting) await this.interrupting;
    } catch (err) {
      // After a signal, what fails is only the traffic being torn down: the handler reports and exits.
      if (this.interrupting) await this.interrupting;
      throw err;
    } finally {
      this.opts.progress.idle('tearing down');
      teardownErrors.push(...(await this.root.unwind()));
      leftovers = await this.root.leftovers();
      this.opts.progress.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    }
    const cpu = cpus();
    return {
      schema: RESULT_SCHEMA_ID,
      started: started.toISOString(),
      finished: new Date().toISOString(),
      command: this.opts.command,
      runTag: this.runTag,
      host: {
        hostname: hostname(),
        kernel: release(),
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim() ?? 'unknown',
        node: process.version,
        loadAverage: { start: loadStart, end: loadavg()[0] },
      },
      options: { durationS: this.opts.durationS, repeat: this.opts.repeat, paths: this.opts.paths },
      scenarios,
      teardown: { errors: teardownErrors, leftovers },
    };
  }

  /**
   * First signal (or crash): unwind everything, then exit 130 (SIGINT) / 143 (SIGTERM) / 1 (crash).
   * A second one exits at once.
   */
  private async interrupt(why: string, code: number): Promise<void> {
    if (++this.signals > 1) {
      process.stderr.write(`\n${why} again: exiting without finishing teardown (look for namespaces tsnb-${this.runTag}-*)\n`);
      process.exit(code);
    }
    this.opts.progress.line(`${why}: tearing down everything this run made (press Ctrl-C again to exit at once)`);
    const errors = await this.root.unwind();
    const left = await this.root.leftovers();
    this.opts.progress.stop();
    for (const e of errors) process.stderr.write(`teardown: ${e}\n`);
    if (left.length) process.stderr.write(`left behind: ${left.join(', ')}\n`);
    process.exit(code);
  }

  private context(tag: string, cleanup: CleanupStack): BuildContext {
    return {
      tag,
      cleanup,
      ovs: () => {
        this.ovs ??= OvsUserspace.start(this.root, this.runTag);
        return this.ovs;
      },
    };
  }

  private async runScenario(s: Scenario, tag: string, teardownErrors: string[]): Promise<ScenarioResult> {
    const { progress, durationS, repeat } = this.opts;
    const result: ScenarioResult = {
      name: s.name,
      description: s.description,
      baseline: s.paths[0].id,
      metrics: s.metrics,
      error: null,
      paths: s.paths.map((p) => emptyPath(p)),
    };
    const scope = this.root.scope();
    const built = new Map<PathResult, BuiltPath>();
    try {
      for (const [k, path] of s.paths.entries()) {
        const r = result.paths[k];
        r.skipped = this.opts.paths && !this.opts.paths.includes(path.id) ? `not in --paths ${this.opts.paths.join(',')}` : (path.unavailable?.() ?? null);
        if (r.skipped) {
          progress.line(`${s.name}: ${path.label}: ${r.skipped}`);
          continue;
        }
        progress.idle(`${s.name}: building ${path.label}`);
        try {
          built.set(r, await path.build(this.context(`${tag}-${k}`, scope)));
        } catch (err) {
          if (err instanceof BenchInterrupted || scope.closed) throw err;
          r.error = `build failed: ${message(err)}`;
          progress.line(`${s.name}: ${path.label}: ${r.error}`);
        }
      }
      let order = 0;
      for (let rep = 1; rep <= repeat; rep++) {
        for (const [k, path] of s.paths.entries()) {
          const r = result.paths[k];
          const topo = built.get(r);
          if (!topo || r.error) continue;
          progress.measuring({ scenario: s.name, path: path.label, repeat: rep, repeats: repeat, durationS });
          try {
            const sample = await this.measureOnce(s, topo, rep, order++, scope);
            r.samples.push(sample);
            const shown = s.metrics.map((m) => `${s.metrics.length > 1 ? `${m.key} ` : ''}${formatValue(m.unit, sample.values[m.key])}`).join(', ');
            progress.line(`${s.name}  ${path.id.padEnd(7)} #${rep}  ${shown}  switch CPU ${formatCpu(sample.switchCpu)}`);
          } catch (err) {
            if (err instanceof BenchInterrupted || scope.closed) throw err;
            r.error = `repeat ${rep} failed: ${message(err)}`;
            progress.line(`${s.name}: ${path.label}: ${r.error}`);
          }
        }
      }
    } catch (err) {
      if (err instanceof BenchInterrupted || this.root.closed) throw err;
      result.error = message(err);
      progress.line(`${s.name}: ${result.error}`);
    } finally {
      progress.idle(`${s.name}: tearing down`);
      teardownErrors.push(...(await scope.unwind()));
    }
    finishScenario(result);
    return result;
  }

  private async measureOnce(s: Scenario, topo: BuiltPath, rep: number, order: number, parent: CleanupStack): Promise<SampleResult> {
    const scope = parent.scope();
    try {
      const cpuSeconds = await startCpuMeter(topo.cpu);
      const t0 = performance.now();
      const values = await s.measure(topo, { durationS: this.opts.durationS, cleanup: scope });
      const used = cpuSeconds();
      const seconds = (performance.now() - t0) / 1000;
      for (const m of s.metrics) {
        if (typeof values[m.key] !== 'number' || !Number.isFinite(values[m.key])) throw new Error(`measurement gave no ${m.key}`);
      }
      const trafficSeconds = this.opts.durationS * (s.trafficRuns ?? 1);
      return { repeat: rep, order, values, switchCpu: used === null ? null : used / trafficSeconds, seconds };
    } finally {
      const errors = await scope.unwind();
      if (errors.length) throw new Error(`teardown after the measurement: ${errors.join('; ')}`);
    }
  }
}

function emptyPath(p: BenchPath<BuiltPath>): PathResult {
  return { id: p.id, label: p.label, skipped: null, error: null, samples: [], summary: {}, ratio: {}, switchCpu: null };
}

/** Summaries per path and metric, the CPU, and each path's ratio to the baseline's median. */
export function finishScenario(result: ScenarioResult): void {
  for (const p of result.paths) {
    p.summary = {};
    if (p.samples.length === 0) continue;
    for (const m of result.metrics) p.summary[m.key] = summarize(p.samples.map((x) => x.values[m.key]));
    const cpu = p.samples.map((x) => x.switchCpu).filter((c): c is number => c !== null);
    p.switchCpu = cpu.length ? summarize(cpu) : null;
  }
  const base = result.paths.find((p) => p.id === result.baseline);
  for (const p of result.paths) {
    p.ratio = {};
    for (const m of result.metrics) {
      const b = base?.summary[m.key]?.median;
      const v = p.summary[m.key]?.median;
      p.ratio[m.key] = p === base || b === undefined || v === undefined || b === 0 ? null : v / b;
    }
  }
}

/** One line: tool output and require stacks span several. */
function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' / ');
}
