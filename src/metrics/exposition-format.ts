/**
 * Prometheus's text exposition format (version 0.0.4, what every Prometheus scrapes): for each
 * family a `# HELP` and a `# TYPE` line, then one line per sample, `name{label="value",...} number`.
 * Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
 *
 * Written by hand rather than with prom-client: the switch already keeps its counters (the tables
 * `stats` reads), so what it needs is to print them at scrape time, which is this file. prom-client's
 * Counter holds its own value and only goes up through inc(), so mirroring an existing table means
 * reset-and-inc on every scrape; its histograms and summaries, the part worth a library, are unused.
 */

export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

/** The media type of this format, for the Content-Type of /metrics. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelSet(labels: Readonly<Record<string, string>> | undefined, family: string): string {
  if (!labels) return '';
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  for (const k of keys) {
    // Names are the code's, never a user's: a bad one is a bug, not input to escape.
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new Error(`metric ${family}: label name ${JSON.stringify(k)} is not a Prometheus label name`);
  }
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k])}"`).join(',')}}`;
}

/**
 * The exposition text of `families`, in the order given. Families without samples are left out
 * (a HELP/TYPE with no sample says nothing). Two samples of one family with the same label set are a
 * bug of the caller (Prometheus would reject the scrape), so they throw.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  const names = new Set<string>();
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not a Prometheus metric name`);
    if (names.has(f.name)) throw new Error(`metric ${f.name} is listed twice`);
    names.add(f.name);
    if (f.samples.length === 0) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    const seen = new Set<string>();
    for (const s of f.samples) {
      const labels = labelSet(s.labels, f.name);
      if (seen.has(labels)) throw new Error(`metric ${f.name}: two samples with labels ${labels || '{}'}`);
      seen.add(labels);
      out.push(`${f.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
