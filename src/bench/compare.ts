/**
 * `--compare OLD.json`: what changed since an earlier run, per scenario, metric and path.
 *
 * Two figures per row. The change of the path's own median (new ÷ old − 1) is what people ask for, but
 * on a shared machine it moves with the machine. The change of the *ratio* to the baseline moves only
 * with the switch, because both runs measured the baseline in the same breath as the path — so that
 * is the one the verdict reads: "better"/"worse" when the ratio moved the metric's good/bad way and
 * the two runs' min–max ranges (as ratios) do not overlap, "within noise" when they do. Baseline rows
 * have ratio 1 by definition: their verdict reads the medians' ranges instead, which says whether the
 * machine itself changed between the runs. With a single repeat on either side there is no range, and
 * the verdict says so instead of guessing.
 */
import { table } from '../cli/format.js';
import type { BenchResult, PathResult, ScenarioResult } from './results.js';
import { formatChange, formatRatio, formatValue } from './units.js';

export type Verdict = 'better' | 'worse' | 'within noise' | 'no range (1 repeat)' | 'only in old' | 'only in new';

export interface ComparisonRow {
  scenario: string;
  metric: string;
  /** The scenario, plus the metric when it has several ('bridge-rr p99'). */
  title: string;
  unit: string;
  path: string;
  /** The scenario's baseline path (its ratio is 1 by definition). */
  isBaseline: boolean;
  oldMedian: number | null;
  newMedian: number | null;
  /** new ÷ old − 1 of the medians. */
  change: number | null;
  oldRatio: number | null;
  newRatio: number | null;
  verdict: Verdict;
}

function range(p: PathResult, key: string, baseMedian: number | null, asRatio: boolean): [number, number] | null {
  const s = p.summary[key];
  if (!s) return null;
  if (!asRatio) return [s.min, s.max];
  if (!baseMedian) return null;
  return [s.min / baseMedian, s.max / baseMedian];
}

function baseMedian(s: ScenarioResult, key: string): number | null {
  return s.paths.find((p) => p.id === s.baseline)?.summary[key]?.median ?? null;
}

export function compareResults(old: BenchResult, now: BenchResult): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const names = [...new Set([...now.scenarios.map((s) => s.name), ...old.scenarios.map((s) => s.name)])];
  for (const name of names) {
    const o = old.scenarios.find((s) => s.name === name);
    const n = now.scenarios.find((s) => s.name === name);
    const metrics = (n ?? o)!.metrics;
    const pathIds = [...new Set([...(n?.paths ?? []), ...(o?.paths ?? [])].map((p) => p.id))];
    for (const m of metrics) {
      for (const id of pathIds) {
        const op = o?.paths.find((p) => p.id === id && p.summary[m.key]);
        const np = n?.paths.find((p) => p.id === id && p.summary[m.key]);
        if (!op && !np) continue;
        const isBaseline = id === (n ?? o)!.baseline;
        const row: ComparisonRow = {
          scenario: name,
          metric: m.key,
          title: metrics.length > 1 ? `${name} ${m.key}` : name,
          unit: m.unit,
          path: (np ?? op)!.label,
          isBaseline,
          oldMedian: op?.summary[m.key].median ?? null,
          newMedian: np?.summary[m.key].median ?? null,
          change: null,
          oldRatio: op?.ratio[m.key] ?? null,
          newRatio: np?.ratio[m.key] ?? null,
          verdict: !op ? 'only in new' : !np ? 'only in old' : 'within noise',
        };
        if (op && np) {
          row.change = row.newMedian! / row.oldMedian! - 1;
          const or = range(op, m.key, baseMedian(o!, m.key), !isBaseline);
          const nr = range(np, m.key, baseMedian(n!, m.key), !isBaseline);
          const oldC = isBaseline ? row.oldMedian : row.oldRatio;
          const newC = isBaseline ? row.newMedian : row.newRatio;
          if (op.samples.length < 2 || np.samples.length < 2) {
            row.verdict = 'no range (1 repeat)'; // one sample says nothing about the noise
          } else if (or && nr && oldC !== null && newC !== null) {
            const overlap = or[0] <= nr[1] && nr[0] <= or[1];
            const up = newC > oldC;
            if (!overlap) row.verdict = up === (m.better === 'higher') ? 'better' : 'worse';
          }
        }
        rows.push(row);
      }
    }
  }
  return rows;
}

export function formatComparison(old: BenchResult, rows: ComparisonRow[]): string {
  const v = (unit: string, x: number | null) => (x === null ? '-' : formatValue(unit, x));
  const body = table(
    ['SCENARIO', 'PATH', 'OLD', 'NEW', 'CHANGE', 'RATIO OLD → NEW', 'VERDICT'],
    rows.map((r) => [
      r.title,
      r.path,
      v(r.unit, r.oldMedian),
      v(r.unit, r.newMedian),
      r.change === null ? '-' : formatChange(r.change),
      r.isBaseline ? 'baseline' : `${formatRatio(r.oldRatio)} → ${formatRatio(r.newRatio)}`,
      r.verdict,
    ]),
  );
  return [
    `compared with the run of ${old.started} (${old.command})`,
    '',
    body,
    '',
    'verdict: from the ratio to the baseline (for the baseline itself, from its own median); "within noise" when the two runs\' min–max ranges overlap; it needs 2 repeats or more on both sides.',
  ].join('\n');
}
