/**
 * The ratios of a bench result as an SVG bar chart to read at a glance: one horizontal bar per
 * scenario, metric and non-baseline path, drawn from the dashed 1.0 line (= the baseline, measured in
 * the same run) to the path's ratio, on a log2 axis so that half as fast and twice as fast are the
 * same distance from 1.0 and a 20× latency bar does not squash the throughput bars. Blue bars beat the
 * baseline, orange ones lose to it — for µs a bar to the right loses — so the colour, not the side,
 * says "better". A thin whisker shows the path's min–max over its repeats (as a ratio to the
 * baseline's median), so a noisy bar looks noisy; the ratio is written at the end of each bar.
 *
 * Hand-written SVG 1.1, no scripts, no external fonts; every text is XML-escaped.
 */
import type { BenchResult } from './results.js';
import { headline } from './report.js';

const BETTER = '#1f77b4';
const WORSE = '#ff7f0e';
const ROW = 26;
const BAR_W = 520;
const PAD = 16;
/** Rough width of one 13px sans-serif character, to size the label column. */
const CHAR_W = 7.4;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Bar {
  label: string;
  ratio: number;
  lo: number;
  hi: number;
  better: boolean;
  unit: string;
}

function bars(r: BenchResult): Bar[] {
  const out: Bar[] = [];
  for (const s of r.scenarios) {
    const base = s.paths.find((p) => p.id === s.baseline);
    for (const m of s.metrics) {
      const b = base?.summary[m.key]?.median;
      for (const p of s.paths) {
        const ratio = p.ratio[m.key];
        const sum = p.summary[m.key];
        if (p.id === s.baseline || ratio === null || ratio === undefined || !sum || !b) continue;
        out.push({
          label: `${s.name}${s.metrics.length > 1 ? ` ${m.key}` : ''} · ${p.label}${s.baseline !== 'kernel' && base ? ` vs ${base.label}` : ''}`,
          ratio,
          lo: sum.min / b,
          hi: sum.max / b,
          better: m.better === 'higher' ? ratio >= 1 : ratio <= 1,
          unit: m.unit,
        });
      }
    }
  }
  return out;
}

/** Powers of two that bracket every ratio and whisker, at least 1/4 … 4. */
function axisRange(list: Bar[]): [number, number] {
  const lo = Math.min(0.25, ...list.map((b) => Math.min(b.ratio, b.lo)));
  const hi = Math.max(4, ...list.map((b) => Math.max(b.ratio, b.hi)));
  return [Math.floor(Math.log2(Math.max(lo, 1 / 1024))), Math.ceil(Math.log2(Math.min(hi, 1024)))];
}

function tickLabel(e: number): string {
  return e >= 0 ? `${2 ** e}×` : `1/${2 ** -e}`;
}

export function renderSvg(r: BenchResult): string {
  const list = bars(r);
  const [e0, e1] = axisRange(list);
  const labelW = Math.max(120, ...list.map((b) => b.label.length * CHAR_W));
  const x0 = PAD + labelW + 10;
  const step = BAR_W / (e1 - e0);
  const xOf = (ratio: number) => x0 + (Math.log2(Math.min(Math.max(ratio, 2 ** e0), 2 ** e1)) - e0) * step;
  const one = xOf(1);
  const top = 76;
  const bottom = top + Math.max(1, list.length) * ROW;
  const height = bottom + 52;
  const width = Math.ceil(x0 + BAR_W + 70);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<title>${esc(headline(r))}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${PAD}" y="24" font-size="15" font-weight="bold">Each path ÷ its scenario's baseline (the kernel's unless noted), same run — log scale</text>`,
    `<text x="${PAD}" y="44" fill="#555555">${esc(headline(r))}</text>`,
  ];
  for (let e = e0; e <= e1; e++) {
    const x = (x0 + (e - e0) * step).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#e4e4e4"/>`,
      `<text x="${x}" y="${bottom + 16}" text-anchor="middle" fill="#555555" font-size="11">${tickLabel(e)}</text>`,
    );
  }
  if (list.length === 0) {
    parts.push(`<text x="${PAD}" y="${top + 18}">no ratios: the baseline or the other paths did not run</text>`);
  }
  list.forEach((b, i) => {
    const y = top + i * ROW;
    const xr = xOf(b.ratio);
    const [left, right] = xr < one ? [xr, one] : [one, xr];
    const textX = Math.max(xr, xOf(b.hi), one) + 6;
    parts.push(
      `<text x="${(x0 - 10).toFixed(1)}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left.toFixed(1)}" y="${y + 5}" width="${Math.max(1, right - left).toFixed(1)}" height="${ROW - 10}" fill="${b.better ? BETTER : WORSE}"/>`,
      `<line x1="${xOf(b.lo).toFixed(1)}" y1="${y + ROW / 2}" x2="${xOf(b.hi).toFixed(1)}" y2="${y + ROW / 2}" stroke="#222222" stroke-width="1.5"/>`,
      `<text x="${textX.toFixed(1)}" y="${y + 17}">${b.ratio.toFixed(2)}×</text>`,
    );
  });
  parts.push(
    `<line x1="${one.toFixed(1)}" y1="${top - 4}" x2="${one.toFixed(1)}" y2="${bottom + 4}" stroke="#000000" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    `<text x="${one.toFixed(1)}" y="${top - 8}" text-anchor="middle" font-size="11">baseline = 1×</text>`,
    `<rect x="${PAD}" y="${bottom + 30}" width="12" height="12" fill="${BETTER}"/>`,
    `<text x="${PAD + 18}" y="${bottom + 41}">better than the baseline</text>`,
    `<rect x="${PAD + 200}" y="${bottom + 30}" width="12" height="12" fill="${WORSE}"/>`,
    `<text x="${PAD + 218}" y="${bottom + 41}">worse (Gbit/s, pkt/s: left of 1.0 is worse; µs: right of 1.0 is worse)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
