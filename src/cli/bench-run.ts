/**
 * `tsnet-switch bench [SCENARIO…]`, the run (loaded only when bench runs: bench-command.ts registers it): each scenario side by side with the kernel's driver (and Open
 * vSwitch's userspace datapath when installed) in one run; see src/bench/runner.ts for how a run goes.
 *
 *   --duration S   seconds of traffic per repeat and path (whole seconds, default 5)
 *   --repeat N     rounds of A B C alternation (default 3)
 *   --paths LIST   only these paths, e.g. kernel,tsnet (default: every available one)
 *   --json/--markdown/--svg FILE   the result for machines / a README / a chart of the ratios
 *   --compare OLD.json   after the table, the change per scenario against that run (its scenarios,
 *                        duration and repeats are the defaults, so the same run is one command)
 *   --from RUN.json      report a saved run instead of running (re-render, or compare two files)
 *   --list               the scenarios and their paths
 *
 * A SCENARIO is a name (bridge-tcp) or a family (bridge = every bridge-* scenario). Output files'
 * directories are checked before anything runs, so a typo never costs a long run.
 */
import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TsnError } from '../errors.js';
import { compareResults, formatComparison } from '../bench/compare.js';
import { createProgress } from '../bench/progress.js';
import { SCENARIOS } from '../bench/registry.js';
import { formatMarkdown, formatTable } from '../bench/report.js';
import { loadResult, type BenchResult } from '../bench/results.js';
import { BenchRunner } from '../bench/runner.js';
import type { Scenario } from '../bench/scenario.js';
import { renderSvg } from '../bench/svg-chart.js';
import { DEFAULT_DURATION_S, DEFAULT_REPEAT } from './bench-command.js';
import { table } from './format.js';

export interface BenchCliOptions {
  duration?: string;
  repeat?: string;
  paths?: string;
  json?: string;
  markdown?: string;
  svg?: string;
  compare?: string;
  from?: string;
  list?: boolean;
}


function wholeNumber(v: string, flag: string, what: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(v)}: expected ${what}`);
  return Number(v);
}

/** Scenario names or families → scenarios in registry order; unknown names are refused with the list. */
export function selectScenarios(names: string[]): Scenario[] {
  if (names.length === 0) return [...SCENARIOS];
  const chosen = new Set<Scenario>();
  for (const name of names) {
    // A scenario's own name picks it alone (overlay-tcp is not also overlay-tcp-encrypted); a family's, all of it.
    const exact = SCENARIOS.filter((s) => s.name === name);
    const matches = exact.length ? exact : SCENARIOS.filter((s) => s.name.startsWith(`${name}-`));
    if (matches.length === 0) {
      const families = [...new Set(SCENARIOS.map((s) => s.name.split('-')[0]))];
      throw new TsnError('ERR_NO_SUCH_SCENARIO', `no bench scenario ${JSON.stringify(name)}: expected one of ${SCENARIOS.map((s) => s.name).join(', ')} or a family (${families.join(', ')})`);
    }
    for (const m of matches) chosen.add(m);
  }
  return SCENARIOS.filter((s) => chosen.has(s));
}

function selectPaths(list: string, scenarios: Scenario[]): string[] {
  const known = [...new Set(scenarios.flatMap((s) => s.paths.map((p) => p.id)))];
  const ids = list.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = ids.filter((id) => !known.includes(id));
  if (ids.length === 0 || bad.length) {
    throw new TsnError('ERR_BAD_OPTION', `--paths ${JSON.stringify(list)}: expected a comma-separated list of ${known.join(', ')}`);
  }
  return ids;
}

function checkWritable(file: string | undefined, flag: string): void {
  if (!file) return;
  const dir = dirname(resolve(file));
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(file)}: directory ${dir} does not exist or is not writable`);
  }
}

function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function listScenarios(): string {
  return table(
    ['SCENARIO', 'PATHS (first = baseline)', 'WHAT'],
    SCENARIOS.map((s) => [s.name, s.paths.map((p) => p.id).join(', '), s.description]),
  );
}

export async function runBench(names: string[], o: BenchCliOptions): Promise<void> {
  process.stdout.on('error', () => undefined); // `bench | head`: the files are still written
  if (o.list) {
    console.log(listScenarios());
    return;
  }
  checkWritable(o.json, '--json');
  checkWritable(o.markdown, '--markdown');
  checkWritable(o.svg, '--svg');
  const old = o.compare ? loadResult(o.compare) : null;
  let result: BenchResult;
  if (o.from) {
    if (names.length || o.duration || o.repeat || o.paths) {
      throw new TsnError('ERR_BAD_OPTION', `--from ${JSON.stringify(o.from)} reports a saved run: SCENARIO, --duration, --repeat and --paths do not apply`);
    }
    result = loadResult(o.from);
  } else {
    const fromOld = old && names.length === 0 ? old.scenarios.map((s) => s.name).filter((n) => SCENARIOS.some((s) => s.name === n)) : [];
    if (old && names.length === 0 && fromOld.length === 0) {
      throw new TsnError('ERR_BAD_OPTION', `--compare ${JSON.stringify(o.compare)}: none of its scenarios (${old.scenarios.map((s) => s.name).join(', ') || 'none'}) exists any more: name the scenarios to run`);
    }
    const scenarios = selectScenarios(names.length ? names : fromOld);
    const durationS = o.duration ? wholeNumber(o.duration, '--duration', 'whole seconds >= 1 (iperf3 -t)') : (old?.options.durationS ?? DEFAULT_DURATION_S);
    const repeat = o.repeat ? wholeNumber(o.repeat, '--repeat', 'a whole number >= 1') : (old?.options.repeat ?? DEFAULT_REPEAT);
    const paths = o.paths ? selectPaths(o.paths, scenarios) : (old?.options.paths ?? null);
    if (process.getuid?.() !== 0) {
      throw new TsnError('ERR_NEEDS_ROOT', 'bench needs root: it builds network namespaces, veth pairs and TAP devices (run it with sudo)');
    }
    const runner = new BenchRunner({
      scenarios,
      durationS,
      repeat,
      paths,
      command: ['tsnet-switch', ...process.argv.slice(2)].map(shellWord).join(' '),
      progress: createProgress(),
    });
    result = await runner.run();
  }
  console.log(formatTable(result));
  if (old) console.log(`\n${formatComparison(old, compareResults(old, result))}`);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
  if (o.markdown) writeFileSync(o.markdown, formatMarkdown(result));
  if (o.svg) writeFileSync(o.svg, renderSvg(result));
  const failures =
    result.scenarios.filter((s) => s.error).length +
    result.scenarios.flatMap((s) => s.paths).filter((p) => p.error).length +
    (o.from ? 0 : result.teardown.errors.length + result.teardown.leftovers.length);
  if (failures) {
    process.stderr.write(`tsnet-switch: bench: ${failures} failure(s), listed under the table\n`);
    process.exitCode = 1;
  }
}
