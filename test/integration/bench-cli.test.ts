/**
 * `tsnet-switch bench`, run from the built CLI as users run it (npm run build first): a 1-second run
 * of every registered scenario proves each one builds, measures and tears down, and that the JSON
 * carries every field; then teardown after Ctrl-C in the middle of a measurement and after a traffic
 * tool failing half-way, Open vSwitch's private daemons stopped and reaped, a missing tool named with
 * its Debian package, bad arguments refused, and --from/--compare on a saved result.
 *
 * "Nothing left" is checked from outside the bench: no namespace named tsnb-<run tag>-*, no process
 * whose environment carries TSNET_BENCH_RUN=<run tag> (every process the bench starts has it). No test
 * asserts a speed: the machine is shared, speed is what the bench is for.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/bench/host-commands.js';
import { SCENARIOS } from '../../src/bench/registry.js';
import { BenchResultSchema, type BenchResult } from '../../src/bench/results.js';
import { CLI } from '../helpers/daemon.js';
import { privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason(['iperf3', 'ping']);
const OVS_INSTALLED = findOnPath('ovs-vswitchd') !== null;

interface BenchRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  runTag: string | null;
}

/** Run the CLI's bench; `onStderr` sees stderr as it grows and may act (send a signal). */
function bench(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onStderr?: (text: string, pid: number) => void } = {}): Promise<BenchRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(stderr, child.pid!);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, runTag: /bench run (\w+):/.exec(stderr)?.[1] ?? null });
    });
  });
}

/** Namespaces and processes of run `tag` still present: must be none. */
async function leftoversOf(tag: string): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await sh('ip', ['netns', 'list'])).split('\n')) {
    if (line.startsWith(`tsnb-${tag}-`)) out.push(`netns ${line.split(' ')[0]}`);
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let env = '';
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone meanwhile, or a kernel thread
    }
    if (env.split('\0').includes(`TSNET_BENCH_RUN=${tag}`)) {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* gone */
      }
      out.push(`process ${pid} ${comm}`);
    }
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'tsnet-bench-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every path id of every scenario except Open vSwitch's (tested on its own, when installed). */
const PATHS_BUT_OVS = [...new Set(SCENARIOS.flatMap((s) => s.paths.map((p) => p.id)))].filter((id) => id !== 'ovs');

describe.skipIf(skip)(`tsnet-switch bench (${skip ?? 'root'})`, () => {
  let full: BenchRun;
  let result: BenchResult;
  const jsonFile = join(tmp, 'all.json');

  beforeAll(async () => {
    full = await bench(['--duration', '1', '--repeat', '1', '--paths', PATHS_BUT_OVS.join(','), '--json', jsonFile, '--markdown', join(tmp, 'all.md'), '--svg', join(tmp, 'all.svg')], {
      timeoutMs: 240_000,
    });
    if (existsSync(jsonFile)) result = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchResult;
  }, 300_000);

  it('a 1 s run of every scenario succeeds, and the JSON carries every field', () => {
    expect(full.code, `${full.stderr}\n${full.stdout}`).toBe(0);
    const parsed = BenchResultSchema.safeParse(result);
    expect(parsed.success, JSON.stringify(parsed.error?.issues[0])).toBe(true);
    expect(result.runTag).toBe(full.runTag);
    expect(result.options).toEqual({ durationS: 1, repeat: 1, paths: PATHS_BUT_OVS });
    expect(result.scenarios.map((s) => s.name)).toEqual(SCENARIOS.map((s) => s.name));
    for (const s of result.scenarios) {
      const spec = SCENARIOS.find((x) => x.name === s.name)!;
      expect(s.error, s.name).toBeNull();
      expect(s.baseline).toBe(spec.paths[0].id);
      expect(s.metrics.map((m) => m.key)).toEqual(spec.metrics.map((m) => m.key));
      expect(s.paths.map((p) => p.id)).toEqual(spec.paths.map((p) => p.id));
      for (const p of s.paths) {
        const where = `${s.name}/${p.id}`;
        if (p.id === 'ovs') {
          expect(p.skipped, where).toMatch(/^not in --paths/);
          expect(p.samples).toEqual([]);
          continue;
        }
        expect(p.skipped, where).toBeNull();
        expect(p.error, where).toBeNull();
        expect(p.samples, where).toHaveLength(1);
        expect(p.samples[0].repeat).toBe(1);
        expect(p.samples[0].seconds).toBeGreaterThan(0);
        for (const m of s.metrics) {
          expect(Number.isFinite(p.samples[0].values[m.key]), `${where} ${m.key}`).toBe(true);
          expect(p.summary[m.key].median).toBe(p.samples[0].values[m.key]);
          if (p.id === s.baseline) expect(p.ratio[m.key]).toBeNull();
          else expect(p.ratio[m.key], `${where} ratio`).toBeCloseTo(p.summary[m.key].median / s.paths[0].summary[m.key].median, 9);
        }
        // The switch's CPU: this process for tsnet, n/a for the kernel's own paths.
        if (p.id === 'tsnet') expect(p.switchCpu?.median, where).toBeGreaterThanOrEqual(0);
        if (p.id === 'kernel') expect(p.switchCpu, where).toBeNull();
      }
      // Paths alternate: the order numbers follow the path order within the repeat.
      const orders = s.paths.filter((p) => p.samples.length).map((p) => p.samples[0].order);
      expect(orders).toEqual([...orders].sort((a, b) => a - b));
    }
    expect(result.teardown).toEqual({ errors: [], leftovers: [] });
  });

  it('prints the table, and writes the markdown and the SVG', () => {
    for (const s of SCENARIOS) expect(full.stdout).toContain(s.name);
    expect(full.stdout).toMatch(/SCENARIO +PATH +MEDIAN +MIN–MAX +RATIO +SWITCH CPU/);
    const md = readFileSync(join(tmp, 'all.md'), 'utf8');
    expect(md).toContain('| SCENARIO | PATH | MEDIAN | MIN–MAX | RATIO | SWITCH CPU |');
    const svg = readFileSync(join(tmp, 'all.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('bridge-tcp · tsnet-switch daemon, TAP');
  });

  it('leaves no namespace and no process behind', async () => {
    expect(full.runTag).toMatch(/^\w+$/);
    expect(await leftoversOf(full.runTag!)).toEqual([]);
  });

  it('--from and --compare report a saved run without running anything', async () => {
    const r = await bench(['--from', jsonFile, '--compare', jsonFile, '--svg', join(tmp, 'again.svg')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('bench run');
    expect(r.stdout).toContain(`compared with the run of ${result.started}`);
    const verdicts = r.stdout.split('\n').filter((l) => / \+0\.0% /.test(l));
    expect(verdicts.length).toBeGreaterThanOrEqual(SCENARIOS.length);
    for (const v of verdicts) expect(v).toMatch(/no range \(1 repeat\)$/); // --repeat 1: no noise estimate, no verdict
    expect(readFileSync(join(tmp, 'again.svg'), 'utf8')).toBe(readFileSync(join(tmp, 'all.svg'), 'utf8'));
  });

  it('Ctrl-C in the middle of a measurement tears everything down and exits 130', async () => {
    let sent = false;
    const t0 = Date.now();
    const r = await bench(['bridge-tcp', '--duration', '20', '--repeat', '1', '--paths', 'tsnet'], {
      onStderr: (text, pid) => {
        // Interrupt while tsnet's iperf3 is running: servers, the switch's TAPs and namespaces are all live.
        if (!sent && /bridge-tcp: tsnet-switch daemon, TAP, repeat 1\/1/.test(text)) {
          sent = true;
          setTimeout(() => process.kill(pid, 'SIGINT'), 1500);
        }
      },
    });
    expect(sent, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: tearing down');
    expect(r.stdout).toBe(''); // no table for an interrupted run
    expect(Date.now() - t0).toBeLessThan(15_000); // it did not wait for the 20 s measurement to end
    expect(await leftoversOf(r.runTag!)).toEqual([]);
  });

  it('a traffic tool failing half-way: the path records the error, the rest goes on, everything is torn down, exit 1', async () => {
    // An iperf3 whose servers are real and whose clients fail, first on PATH.
    const bin = join(tmp, 'failing-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'iperf3'), `#!/bin/sh\ncase " $* " in *" -s "*) exec ${findOnPath('iperf3')} "$@";; esac\necho 'iperf3: simulated failure' >&2\nexit 3\n`);
    chmodSync(join(bin, 'iperf3'), 0o755);
    const json = join(tmp, 'failing.json');
    const r = await bench(['bridge-tcp', 'bridge-rr', '--duration', '1', '--repeat', '2', '--paths', 'kernel,tsnet', '--json', json], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/bench: \d+ failure\(s\), listed under the table/);
    const res = BenchResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    const tcp = res.scenarios.find((s) => s.name === 'bridge-tcp')!;
    for (const p of tcp.paths.filter((x) => x.id !== 'ovs')) {
      expect(p.error).toMatch(/^repeat 1 failed: iperf3 \(in tsnb-.*\) failed \(3\): iperf3: simulated failure/);
      expect(p.samples).toEqual([]); // sat out repeat 2
    }
    // The next scenario (ping, no iperf3) still ran both repeats.
    const rr = res.scenarios.find((s) => s.name === 'bridge-rr')!;
    expect(rr.paths.filter((p) => p.samples.length === 2).map((p) => p.id)).toEqual(['kernel', 'tsnet']);
    expect(res.teardown).toEqual({ errors: [], leftovers: [] });
    expect(r.stdout).toMatch(/bridge-tcp \/ Linux bridge \+ veth: repeat 1 failed/);
    expect(await leftoversOf(r.runTag!)).toEqual([]);
  });

  it('a reader that goes away (bench 2>&1 | head -1) does not cut the run short of its teardown', async () => {
    const json = join(tmp, 'epipe.json');
    const child = spawn(process.execPath, [CLI, 'bench', 'bridge-rr', '--duration', '1', '--repeat', '1', '--paths', 'kernel,tsnet', '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tag = await new Promise<string>((resolve) => {
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
        const m = /bench run (\w+):/.exec(err);
        if (m) {
          // Close our ends: every later write of the bench meets EPIPE.
          child.stderr.destroy();
          child.stdout.destroy();
          resolve(m[1]);
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(BenchResultSchema.parse(JSON.parse(readFileSync(json, 'utf8'))).runTag).toBe(tag);
    expect(await leftoversOf(tag)).toEqual([]);
  });

  it('a missing tool stops the run before anything is built, naming the Debian package', async () => {
    const bin = join(tmp, 'no-iperf3-bin');
    mkdirSync(bin);
    for (const tool of ['ip', 'ping']) symlinkSync(findOnPath(tool)!, join(bin, tool));
    const r = await bench(['bridge-tcp', '--duration', '1'], { env: { PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('iperf3 not found on PATH: install the Debian package iperf3 (apt-get install iperf3)');
    expect(r.runTag).toBeNull();
  });

  it('bad arguments are refused with the value and what is accepted', async () => {
    const cases: [string[], RegExp][] = [
      [['bridge-tpc'], /no bench scenario "bridge-tpc": expected one of bridge-tcp, .* or a family \(bridge/],
      [['--duration', '0'], /--duration "0": expected whole seconds >= 1/],
      [['--duration', '1.5'], /--duration "1.5": expected whole seconds >= 1/],
      [['--repeat', 'x'], /--repeat "x": expected a whole number >= 1/],
      [['bridge-tcp', '--paths', 'kernel,bogus'], /--paths "kernel,bogus": expected a comma-separated list of kernel, tsnet, ovs/],
      [['--json', '/nonexistent-dir/r.json'], /--json "\/nonexistent-dir\/r.json": directory \/nonexistent-dir does not exist or is not writable/],
      [['--compare', join(tmp, 'missing.json')], /missing\.json: cannot read it \(ENOENT\)/],
      [['bridge-tcp', '--from', jsonFile], /--from .* reports a saved run: SCENARIO, --duration, --repeat and --paths do not apply/],
    ];
    for (const [args, re] of cases) {
      const r = await bench(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.runTag, args.join(' ')).toBeNull();
    }
  });

  it.skipIf(!OVS_INSTALLED && !process.env.CI)(`Open vSwitch's private daemons run the ovs path and are stopped and reaped (${OVS_INSTALLED ? 'installed' : 'not installed'})`, async () => {
    const ovsDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('tsnet-bench-ovs-')).sort();
    const before = ovsDirs();
    const json = join(tmp, 'ovs.json');
    const r = await bench(['bridge-tcp', '--duration', '1', '--repeat', '1', '--paths', 'kernel,ovs', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    const res = BenchResultSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
    const ovs = res.scenarios[0].paths.find((p) => p.id === 'ovs')!;
    expect(ovs.error).toBeNull();
    expect(ovs.samples).toHaveLength(1);
    expect(ovs.switchCpu?.median).toBeGreaterThanOrEqual(0); // ovs-vswitchd's, from /proc/PID/stat
    expect(await leftoversOf(r.runTag!)).toEqual([]);
    expect(ovsDirs()).toEqual(before); // its db/run/log dir is gone
  });
});
