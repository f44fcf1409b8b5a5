/**
 * A bench result as people and machines read it: summaries and ratios derived from the samples, the
 * terminal and markdown tables, the SVG chart (one bar per non-baseline path and metric, coloured by
 * the metric's good direction, on a log axis), --compare's verdicts, and the loader that refuses files
 * that are not results. Hand-built results, no root.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareResults, formatComparison } from '../../../src/bench/compare.js';
import { formatMarkdown, formatTable } from '../../../src/bench/report.js';
import { BenchResultSchema, RESULT_SCHEMA_ID, loadResult, type BenchResult, type PathResult, type ScenarioResult } from '../../../src/bench/results.js';
import { finishScenario } from '../../../src/bench/runner.js';
import { renderSvg } from '../../../src/bench/svg-chart.js';

function path(id: string, label: string, values: Record<string, number>[], cpu: number | null): PathResult {
  return {
    id,
    label,
    skipped: null,
    error: null,
    samples: values.map((v, i) => ({ repeat: i + 1, order: i, values: v, switchCpu: cpu, seconds: 1.1 })),
    summary: {},
    ratio: {},
    switchCpu: null,
  };
}

function makeResult(tsnetGbps: number[] = [8, 9, 10]): BenchResult {
  const tcp: ScenarioResult = {
    name: 'bridge-tcp',
    description: 'one stream',
    baseline: 'kernel',
    metrics: [{ key: 'throughput', label: 'Gbit/s', unit: 'Gbit/s', better: 'higher' }],
    error: null,
    paths: [
      path('kernel', 'Linux bridge + veth', [{ throughput: 12 }, { throughput: 13 }, { throughput: 14 }], null),
      path('tsnet', 'tsnet-switch, TAP', tsnetGbps.map((g) => ({ throughput: g })), 0.6),
      { ...path('ovs', 'Open vSwitch userspace, TAP + TSO', [], null), skipped: 'Open vSwitch path skipped: ovs-vswitchd not found on PATH' },
    ],
  };
  const rr: ScenarioResult = {
    name: 'bridge-rr',
    description: 'round trips',
    baseline: 'kernel',
    metrics: [
      { key: 'p50', label: 'p50 µs', unit: 'µs', better: 'lower' },
      { key: 'p99', label: 'p99 µs', unit: 'µs', better: 'lower' },
    ],
    error: null,
    paths: [
      path('kernel', 'Linux bridge + veth', [{ p50: 10, p99: 40 }, { p50: 12, p99: 50 }], null),
      path('tsnet', 'tsnet-switch, TAP', [{ p50: 30, p99: 400 }, { p50: 34, p99: 600 }], 0.04),
    ],
  };
  finishScenario(tcp);
  finishScenario(rr);
  return {
    schema: RESULT_SCHEMA_ID,
    started: '2026-11-22T08:00:00.000Z',
    finished: '2026-11-22T08:01:00.000Z',
    command: 'tsnet-switch bench bridge-tcp bridge-rr',
    runTag: 'abc123',
    host: { hostname: 'vm', kernel: '6.1', cpus: 2, cpuModel: 'Xeon', node: 'v20', loadAverage: { start: 1, end: 2 } },
    options: { durationS: 1, repeat: 3, paths: null },
    scenarios: [tcp, rr],
    teardown: { errors: [], leftovers: [] },
  };
}

describe('summaries and ratios', () => {
  it('median and min–max per path, ratio = median ÷ the baseline median, null for the baseline', () => {
    const r = makeResult();
    const [kernel, tsnet, ovs] = r.scenarios[0].paths;
    expect(kernel.summary.throughput).toEqual({ median: 13, min: 12, max: 14 });
    expect(tsnet.summary.throughput).toEqual({ median: 9, min: 8, max: 10 });
    expect(tsnet.ratio.throughput).toBeCloseTo(9 / 13, 12);
    expect(kernel.ratio.throughput).toBeNull();
    expect(ovs.ratio.throughput).toBeNull();
    expect(tsnet.switchCpu).toEqual({ median: 0.6, min: 0.6, max: 0.6 });
    expect(kernel.switchCpu).toBeNull();
    expect(r.scenarios[1].paths[1].ratio.p99).toBeCloseTo(500 / 45, 12);
    expect(BenchResultSchema.safeParse(r).success).toBe(true);
  });
});

describe('tables', () => {
  it('the terminal table: one row per path and metric, baseline marked, skipped paths listed with the reason', () => {
    const t = formatTable(makeResult());
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^tsnet-switch bench, 2026-11-22 08:00:00 UTC: 3 × 1 s per path/);
    const row = (re: RegExp) => lines.find((l) => re.test(l)) ?? '';
    expect(row(/^bridge-tcp +Linux bridge/)).toMatch(/13\.00 Gbit\/s +12\.00–14\.00 +baseline +n\/a/);
    expect(row(/tsnet-switch, TAP +9\.00/)).toMatch(/8\.00–10\.00 +0\.69x +60%/);
    expect(row(/^bridge-rr p99/)).toMatch(/45\.0 µs +40\.0–50\.0 +baseline/);
    expect(t).toContain('bridge-tcp / Open vSwitch userspace, TAP + TSO: skipped: Open vSwitch path skipped: ovs-vswitchd not found on PATH');
    expect(lines.filter((l) => /tsnet-switch, TAP/.test(l) && !/skipped/.test(l))).toHaveLength(3); // tcp, rr p50, rr p99
  });

  it('markdown: the same rows as a GitHub table, the command, the notes', () => {
    const md = formatMarkdown(makeResult());
    const tableRows = md.split('\n').filter((l) => l.startsWith('|'));
    expect(tableRows[0]).toBe('| SCENARIO | PATH | MEDIAN | MIN–MAX | RATIO | SWITCH CPU |');
    expect(tableRows).toHaveLength(2 + 6);
    expect(md).toContain('`tsnet-switch bench bridge-tcp bridge-rr`');
    expect(md).toContain('| bridge-tcp | Linux bridge + veth | 13.00 Gbit/s | 12.00–14.00 | baseline | n/a |');
    expect(md).toMatch(/^- bridge-tcp \/ Open vSwitch.*skipped/m);
  });
});

describe('SVG chart', () => {
  it('one bar per non-baseline path and metric, blue when better, orange when worse, log axis through 1×', () => {
    const svg = renderSvg(makeResult([20, 21, 22]));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="16" fill="(#[0-9a-f]+)"\/>/g)].map((m) => m[1]);
    // tsnet on bridge-tcp (21/13: better), bridge-rr p50 (32/11: worse), p99 (500/45: worse); ovs was skipped.
    expect(bars).toEqual(['#1f77b4', '#ff7f0e', '#ff7f0e']);
    expect(svg).toContain('1.62×');
    expect(svg).toContain('baseline = 1×');
    // Well formed: every opened element is closed (self-closing or paired), in order.
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]);
    }
    expect(stack).toEqual([]);
  });

  it('escapes text and says so when there is nothing to draw', () => {
    const r = makeResult();
    r.host.hostname = 'a<b>&"c"';
    r.scenarios = [];
    const svg = renderSvg(r);
    expect(svg).toContain('a&lt;b&gt;&amp;&quot;c&quot;');
    expect(svg).not.toContain('a<b>');
    expect(svg).toContain('no ratios');
  });
});

describe('--compare', () => {
  it('better / worse / within noise from the ratio ranges; only-in rows for paths one run lacks', () => {
    const old = makeResult([8, 9, 10]);
    const faster = makeResult([12, 12.5, 13]);
    const rows = compareResults(old, faster);
    const tsnetTcp = rows.find((r) => r.scenario === 'bridge-tcp' && r.path === 'tsnet-switch, TAP')!;
    expect(tsnetTcp.verdict).toBe('better');
    expect(tsnetTcp.change).toBeCloseTo(12.5 / 9 - 1, 12);
    expect(tsnetTcp.oldRatio).toBeCloseTo(9 / 13, 12);
    expect(tsnetTcp.newRatio).toBeCloseTo(12.5 / 13, 12);
    expect(compareResults(faster, old).find((r) => r.scenario === 'bridge-tcp' && r.path === 'tsnet-switch, TAP')!.verdict).toBe('worse');
    expect(compareResults(old, makeResult([8.5, 9.5, 10.5])).find((r) => r.path === 'tsnet-switch, TAP')!.verdict).toBe('within noise');
    // The baseline against itself: the same figures, within noise.
    expect(rows.find((r) => r.scenario === 'bridge-tcp' && r.path === 'Linux bridge + veth')!.verdict).toBe('within noise');
    const noRr = makeResult();
    noRr.scenarios = noRr.scenarios.slice(0, 1);
    expect(compareResults(old, noRr).filter((r) => r.verdict === 'only in old').map((r) => `${r.title} ${r.path}`)).toEqual([
      'bridge-rr p50 Linux bridge + veth',
      'bridge-rr p50 tsnet-switch, TAP',
      'bridge-rr p99 Linux bridge + veth',
      'bridge-rr p99 tsnet-switch, TAP',
    ]);
    const text = formatComparison(old, rows);
    expect(text).toMatch(/bridge-tcp +tsnet-switch, TAP +9\.00 Gbit\/s +12\.50 Gbit\/s +\+38\.9% +0\.69x → 0\.96x +better/);
  });

  it('one repeat on either side gives no verdict; the baseline row says baseline', () => {
    const one = makeResult([9]);
    const rows = compareResults(one, makeResult([20, 21, 22]));
    expect(rows.find((r) => r.scenario === 'bridge-tcp' && r.path === 'tsnet-switch, TAP')!.verdict).toBe('no range (1 repeat)');
    expect(formatComparison(one, rows)).toMatch(/bridge-tcp +Linux bridge \+ veth +13\.00 Gbit\/s +13\.00 Gbit\/s +\+0\.0% +baseline +within noise/);
  });

  it('a lower-is-better metric that went down is better', () => {
    const old = makeResult();
    const now = makeResult();
    const rr = now.scenarios[1];
    rr.paths[1].samples = rr.paths[1].samples.map((s) => ({ ...s, values: { p50: 14, p99: 60 } }));
    finishScenario(rr);
    const rows = compareResults(old, now).filter((r) => r.scenario === 'bridge-rr' && r.path === 'tsnet-switch, TAP');
    expect(rows.map((r) => r.verdict)).toEqual(['better', 'better']);
  });
});

describe('loading a result file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('round-trips what --json writes', () => {
    const r = makeResult();
    expect(loadResult(write('ok.json', JSON.stringify(r)))).toEqual(r);
  });

  it('refuses a missing file, non-JSON and a foreign shape with ERR_BAD_BENCH_FILE naming the field', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).message];
      }
      return null;
    };
    expect(code(() => loadResult(join(dir, 'nope.json')))).toEqual(['ERR_BAD_BENCH_FILE', expect.stringMatching(/nope\.json: cannot read it \(ENOENT\)/)]);
    expect(code(() => loadResult(write('bad.json', '{"schema":')))).toEqual(['ERR_BAD_BENCH_FILE', expect.stringMatching(/bad\.json: not JSON/)]);
    const r = makeResult() as unknown as { scenarios: { paths: { samples: { values: unknown }[] }[] }[] };
    r.scenarios[0].paths[0].samples[0].values = { throughput: 'fast' };
    expect(code(() => loadResult(write('shape.json', JSON.stringify(r))))).toEqual([
      'ERR_BAD_BENCH_FILE',
      expect.stringMatching(/shape\.json: not a tsnet-switch-bench\/1 result: scenarios\.0\.paths\.0\.samples\.0\.values\.throughput: /),
    ]);
  });
});
