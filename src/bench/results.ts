/**
 * The result of a bench run: what `--json` writes and `--compare` / `--from` read back. The zod schema
 * is the one definition (the TypeScript types are inferred from it), so a file written by this
 * version always loads, and a hand-edited or foreign file is refused with the path of the first
 * wrong field. The schema id changes whenever a field changes meaning.
 *
 * Per path, `samples` keeps every repeat in the order measured (so alternation can be checked), and
 * `summary`, `ratio` and `switchCpu` are derived from them: median and min–max per metric; ratio =
 * this path's median ÷ the baseline path's median in the same run (null for the baseline itself or
 * when the baseline did not run); switch CPU in cores (1 = one core busy), null where not
 * attributable (the kernel's paths).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TsnError } from '../errors.js';

export const RESULT_SCHEMA_ID = 'tsnet-switch-bench/1';

const SummarySchema = z.strictObject({ median: z.number(), min: z.number(), max: z.number() });

const MetricSchema = z.strictObject({
  key: z.string(),
  label: z.string(),
  unit: z.string(),
  better: z.enum(['higher', 'lower']),
});

const SampleSchema = z.strictObject({
  /** 1-based repeat number. */
  repeat: z.number().int().min(1),
  /** 0-based position in the scenario's measuring order (A B A B ...). */
  order: z.number().int().min(0),
  values: z.record(z.string(), z.number()),
  /** Cores the switch used during this repeat; null where not attributable. */
  switchCpu: z.number().nullable(),
  /** Wall-clock seconds the traffic ran. */
  seconds: z.number(),
});

const PathResultSchema = z.strictObject({
  id: z.string(),
  label: z.string(),
  /** Why the path did not run (a missing tool, --paths), or null. */
  skipped: z.string().nullable(),
  /** Why the path stopped (its build or a repeat failed; it sat out the remaining repeats), or null. */
  error: z.string().nullable(),
  samples: z.array(SampleSchema),
  summary: z.record(z.string(), SummarySchema),
  ratio: z.record(z.string(), z.number().nullable()),
  switchCpu: SummarySchema.nullable(),
});

const ScenarioResultSchema = z.strictObject({
  name: z.string(),
  description: z.string(),
  /** Id of the path the ratios refer to. */
  baseline: z.string(),
  metrics: z.array(MetricSchema).min(1),
  /** Why the scenario stopped half-way outside any one path (its topology was torn down; the run went on), or null. */
  error: z.string().nullable(),
  paths: z.array(PathResultSchema),
});

export const BenchResultSchema = z.strictObject({
  schema: z.literal(RESULT_SCHEMA_ID),
  /** ISO time the run started and ended. */
  started: z.string(),
  finished: z.string(),
  /** The command line, to run it again. */
  command: z.string(),
  /** Unique tag of the run: namespace names (tsnb-TAG-...) and TSNET_BENCH_RUN=TAG on every process. */
  runTag: z.string(),
  host: z.strictObject({
    hostname: z.string(),
    kernel: z.string(),
    cpus: z.number().int(),
    cpuModel: z.string(),
    node: z.string(),
    /** 1-minute load average at the start and the end: a busy machine shows here. */
    loadAverage: z.strictObject({ start: z.number(), end: z.number() }),
  }),
  options: z.strictObject({
    durationS: z.number(),
    repeat: z.number().int(),
    /** --paths, or null for every available path. */
    paths: z.array(z.string()).nullable(),
  }),
  scenarios: z.array(ScenarioResultSchema),
  teardown: z.strictObject({
    /** Undo actions that failed. */
    errors: z.array(z.string()),
    /** Namespaces or processes of this run still present after teardown. */
    leftovers: z.array(z.string()),
  }),
});

export type BenchResult = z.infer<typeof BenchResultSchema>;
export type ScenarioResult = z.infer<typeof ScenarioResultSchema>;
export type PathResult = z.infer<typeof PathResultSchema>;
export type SampleResult = z.infer<typeof SampleSchema>;

/** Read and validate a result file; a clear ERR_BAD_BENCH_FILE naming the file and the first bad field otherwise. */
export function loadResult(file: string): BenchResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsnError('ERR_BAD_BENCH_FILE', `${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}): expected a JSON file written by tsnet-switch bench --json`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new TsnError('ERR_BAD_BENCH_FILE', `${file}: not JSON: expected a file written by tsnet-switch bench --json`);
  }
  const parsed = BenchResultSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new TsnError('ERR_BAD_BENCH_FILE', `${file}: not a ${RESULT_SCHEMA_ID} result: ${where}: ${issue.message}`);
  }
  return parsed.data;
}
