/**
 * A bench result as text: the terminal table and the markdown one (same rows). One row per scenario,
 * metric and path: median, min–max over the repeats, ratio to the scenario's baseline path measured in
 * the same run, and the CPU the switch used (% of one core). Skipped and failed paths are listed under
 * the table with their reason, so a missing row is never a silent one.
 */
import { table } from '../cli/format.js';
import type { BenchResult, PathResult, ScenarioResult } from './results.js';
import { formatBare, formatCpu, formatRatio, formatValue } from './units.js';

const HEADERS = ['SCENARIO', 'PATH', 'MEDIAN', 'MIN–MAX', 'RATIO', 'SWITCH CPU'];

function rows(r: BenchResult): string[][] {
  const out: string[][] = [];
  for (const s of r.scenarios) {
    for (const m of s.metrics) {
      let first = true;
      for (const p of s.paths) {
        const sum = p.summary[m.key];
        if (!sum) continue;
        const name = first ? (s.metrics.length > 1 ? `${s.name} ${m.key}` : s.name) : '';
        first = false;
        out.push([
          name,
          p.label,
          formatValue(m.unit, sum.median),
          p.samples.length > 1 ? `${formatBare(m.unit, sum.min)}–${formatBare(m.unit, sum.max)}` : '-',
          p.id === s.baseline ? 'baseline' : formatRatio(p.ratio[m.key] ?? null),
          p.switchCpu ? formatCpu(p.switchCpu.median) : 'n/a',
        ]);
      }
    }
  }
  return out;
}

function notes(r: BenchResult): string[] {
  const out: string[] = [];
  for (const s of r.scenarios) {
    if (s.error) out.push(`${s.name}: failed: ${s.error}`);
    for (const p of s.paths) {
      if (p.skipped) out.push(`${s.name} / ${p.label}: skipped: ${p.skipped}`);
      if (p.error) out.push(`${s.name} / ${p.label}: ${p.error}`);
    }
  }
  for (const e of r.teardown.errors) out.push(`teardown: ${e}`);
  for (const l of r.teardown.leftovers) out.push(`left behind after teardown: ${l}`);
  return out;
}

function baselineNames(r: BenchResult): string {
  const names = new Set(r.scenarios.map((s) => labelOf(s, s.baseline)));
  return [...names].join(' / ') || 'the baseline';
}

function labelOf(s: ScenarioResult, id: string): string {
  return s.paths.find((p: PathResult) => p.id === id)?.label ?? id;
}

export function headline(r: BenchResult): string {
  const when = r.started.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return (
    `tsnet-switch bench, ${when}: ${r.options.repeat} × ${r.options.durationS} s per path, paths alternating; ` +
    `${r.host.hostname}, ${r.host.cpus} CPUs, load ${r.host.loadAverage.start.toFixed(1)} → ${r.host.loadAverage.end.toFixed(1)}`
  );
}

const LEGEND =
  'ratio: median ÷ the baseline path\'s median in the same run (> 1 is faster for Gbit/s, pkt/s and conn/s; slower for µs). ' +
  'switch CPU: % of one core the switch process used during the traffic (n/a: the kernel switches in softirq, billed to no process).';

export function formatTable(r: BenchResult): string {
  const n = notes(r);
  return [headline(r), '', table(HEADERS, rows(r)), '', `baseline: ${baselineNames(r)}. ${LEGEND}`, ...(n.length ? ['', ...n] : [])].join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function formatMarkdown(r: BenchResult): string {
  const lines = [
    `**${mdCell(headline(r))}**`,
    '',
    `Command: \`${r.command}\` · kernel ${r.host.kernel} · ${r.host.cpuModel} · Node ${r.host.node}`,
    '',
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i >= 2 ? '---:' : '---')).join('|')}|`,
    ...rows(r).map((row) => `| ${row.map(mdCell).join(' | ')} |`),
    '',
    `Baseline: ${baselineNames(r)}. ${LEGEND}`,
  ];
  const n = notes(r);
  if (n.length) lines.push('', ...n.map((x) => `- ${mdCell(x)}`));
  return `${lines.join('\n')}\n`;
}
