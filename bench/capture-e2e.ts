/**
 * What a capture costs the data plane: the tsnet bridge (two TAP ports, two namespaces, this process
 * switching) with no capture, with a capture of the whole network writing every frame whole into a
 * pcapng file, and with the same capture annotated. Paths alternate off/on/annotated over the repeats
 * so drift cancels; the table prints medians, the slowdown against "off" (the bar: at most 2x), and
 * what the capture wrote and dropped (its writer falling behind costs frames in the capture, never in
 * the switch). The order of the modes rotates from one repeat to the next.
 *
 *   npm run bench:capture -- [--duration S] [--repeat N] [--json FILE]
 *
 * Scenarios: one iperf3 TCP stream (Gbit/s; 64 KB TSO super-frames, so bytes dominate) and 64-byte UDP
 * (`iperf3 -u -b 0 -l 64`, packets/s received; per-frame work dominates). Root is needed.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CaptureHub } from '../src/capture/capture-hub.js';
import type { CaptureSession } from '../src/capture/capture-session.js';
import { StreamSink } from '../src/capture/capture-sinks.js';
import { TapPort } from '../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../src/dataplane/switch-engine.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, plumb, uniqueTag, which } from '../test/helpers/netns.js';

const IP_A = '10.89.0.2';
const IP_B = '10.89.0.3';
type Scenario = 'tcp' | 'udp64';
type Mode = 'off' | 'capture' | 'annotated';

async function runIperf(nsA: string, nsB: string, scenario: Scenario, seconds: number): Promise<number> {
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(nsB, 'iperf3', ['-s', '-1', '-B', IP_B]);
    await new Promise((r) => setTimeout(r, 300));
    await nsExec(nsA, 'ping', ['-c', '1', '-W', '2', IP_B]);
    const args = ['-c', IP_B, '-t', String(seconds), '-J'];
    if (scenario === 'udp64') args.push('-u', '-b', '0', '-l', '64');
    const j = JSON.parse(await nsExec(nsA, 'iperf3', args, { timeoutMs: (seconds + 20) * 1000 }));
    if (scenario === 'tcp') return j.end.sum_received.bits_per_second / 1e9;
    const s = j.end.sum;
    return (s.packets - s.lost_packets) / s.seconds;
  } finally {
    kill(server);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function parseArgs(argv: string[]) {
  const opts = { duration: 5, repeat: 3, json: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--duration') (opts.duration = Number(v)), i++;
    else if (a === '--repeat') (opts.repeat = Number(v)), i++;
    else if (a === '--json') (opts.json = v), i++;
    else throw new Error(`unknown argument ${JSON.stringify(a)}: accepted --duration S, --repeat N, --json FILE`);
  }
  if (!(opts.duration > 0)) throw new Error(`--duration ${opts.duration}: expected seconds > 0`);
  if (!Number.isInteger(opts.repeat) || opts.repeat < 1) throw new Error(`--repeat ${opts.repeat}: expected an integer >= 1`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench needs root: network namespaces and /dev/net/tun');
  for (const tool of ['iperf3', 'ping']) if (!(await which(tool))) throw new Error(`${tool} not found on PATH`);
  const tag = uniqueTag();
  const nsA = `tsnc-${tag}-a`;
  const nsB = `tsnc-${tag}-b`;
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-capbench-'));
  const sw = new SwitchEngine();
  const net = sw.createDomain(`capbench-${tag}`);
  const a = TapPort.open(`tc${tag}a`, { ownMac: 0x02420a590002 });
  const b = TapPort.open(`tc${tag}b`, { ownMac: 0x02420a590003 });
  sw.addPort(a, net);
  sw.addPort(b, net);
  const hub = CaptureHub.for(sw);
  const teardown = async () => {
    hub.stopAll();
    sw.close();
    await delNetns(nsA);
    await delNetns(nsB);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void teardown().finally(() => process.exit(130)));
  const results: Record<string, Record<Mode, number[]> & { captured: number[]; dropped: number[]; mbWritten: number[] }> = {};
  try {
    await addNetns(nsA);
    await addNetns(nsB);
    await plumb(nsA, a.name, '02:42:0a:59:00:02', `${IP_A}/24`);
    await plumb(nsB, b.name, '02:42:0a:59:00:03', `${IP_B}/24`);
    for (const scenario of ['tcp', 'udp64'] as Scenario[]) {
      const r = (results[scenario] = { off: [] as number[], capture: [] as number[], annotated: [] as number[], captured: [] as number[], dropped: [] as number[], mbWritten: [] as number[] });
      for (let i = 0; i < opts.repeat; i++) {
        // Rotate the order each repeat, so no mode always runs first (after the other scenario) or last.
        const order = (['off', 'capture', 'annotated'] as Mode[]).map((_, k, all) => all[(k + i) % all.length]);
        for (const mode of order) {
          let session: CaptureSession | null = null;
          const file = join(dir, `${scenario}-${mode}-${i}.pcapng`);
          let stream: ReturnType<typeof createWriteStream> | null = null;
          if (mode !== 'off') {
            stream = createWriteStream(file);
            session = hub.start({ target: { kind: 'domain', domain: net }, annotate: mode === 'annotated' }, new StreamSink(stream));
          }
          const v = await runIperf(nsA, nsB, scenario, opts.duration);
          r[mode].push(v);
          if (session && stream) {
            session.end('stopped');
            await new Promise<void>((res) => stream!.once('close', () => res()));
            r.captured.push(session.counters.captured);
            r.dropped.push(session.counters.dropped);
            r.mbWritten.push(statSync(file).size / 1e6);
            rmSync(file);
          }
          const extra = session ? ` (captured ${session.counters.captured}, dropped ${session.counters.dropped})` : '';
          process.stderr.write(`${scenario} ${mode} #${i + 1}: ${fmt(scenario, v)}${extra}\n`);
        }
      }
    }
  } finally {
    await teardown();
  }
  console.log(`\ncapture cost on the tsnet bridge, ${opts.repeat} x ${opts.duration}s per mode, alternating (${new Date().toISOString()})`);
  console.log('scenario  mode        median   min–max            slowdown vs off');
  const rows = [];
  for (const [scenario, r] of Object.entries(results)) {
    const s = scenario as Scenario;
    const off = median(r.off);
    for (const mode of ['off', 'capture', 'annotated'] as Mode[]) {
      const m = median(r[mode]);
      const slowdown = off / m;
      rows.push({ scenario, mode, median: m, min: Math.min(...r[mode]), max: Math.max(...r[mode]), slowdown });
      console.log(`${scenario.padEnd(9)} ${mode.padEnd(10)} ${fmt(s, m).padStart(7)}   ${`${fmt(s, Math.min(...r[mode]))}–${fmt(s, Math.max(...r[mode]))}`.padEnd(17)}  ${mode === 'off' ? '' : `${slowdown.toFixed(2)}x`}`);
    }
    console.log(`${''.padEnd(9)} capture runs wrote a median of ${median(r.mbWritten).toFixed(0)} MB, ${median(r.captured)} frames; dropped by the capture (writer behind): median ${median(r.dropped)}`);
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), ...opts, rows }, null, 2));
}

function fmt(s: Scenario, v: number): string {
  return s === 'tcp' ? `${v.toFixed(2)}` : `${(v / 1000).toFixed(0)}k`;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
