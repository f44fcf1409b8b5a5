/**
 * End-to-end bridge benchmark, kernel vs tsnet-switch in one run.
 *
 *   kernel:  nsA ─veth─ [Linux bridge in its own netns] ─veth─ nsB
 *   tsnet:   nsA ─TAP── [tsnet-switch, this process]    ─TAP── nsB
 *
 * Scenarios: one iperf3 TCP stream (Gbit/s), and 64-byte UDP (`iperf3 -u -b 0 -l 64`, packets/s
 * received). Paths alternate A B A B over the repeats so drift cancels; the table prints the median,
 * min–max and the ratio of medians, and the CPU this process (the switch) used per second of traffic.
 *
 *   npm run bench:bridge -- [--duration S] [--repeat N] [--json FILE]
 *
 * Root is needed (namespaces, TAP). Everything is torn down in `finally`, also on Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { TapPort } from '../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../src/dataplane/switch-engine.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, plumb, sh, uniqueTag, which } from '../test/helpers/netns.js';

interface Topology {
  nsA: string;
  nsB: string;
  teardown(): Promise<void>;
}

const IP_A = '10.88.0.2';
const IP_B = '10.88.0.3';

async function kernelBridge(tag: string): Promise<Topology> {
  const nsA = `tsnb-${tag}-a`, nsB = `tsnb-${tag}-b`, nsBr = `tsnb-${tag}-br`;
  const teardown = async () => {
    for (const ns of [nsA, nsB, nsBr]) await delNetns(ns);
  };
  try {
    for (const ns of [nsA, nsB, nsBr]) await addNetns(ns);
    await sh('ip', ['-n', nsBr, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', nsBr, 'link', 'set', 'br0', 'up']);
    for (const [ns, ip, side] of [[nsA, IP_A, 'a'], [nsB, IP_B, 'b']] as const) {
      const inner = `kb${tag}${side}`, outer = `kb${tag}${side}p`;
      await sh('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
      await sh('ip', ['link', 'set', outer, 'netns', nsBr]);
      await sh('ip', ['-n', nsBr, 'link', 'set', outer, 'master', 'br0', 'up']);
      await plumb(ns, inner, side === 'a' ? '02:42:0a:58:00:02' : '02:42:0a:58:00:03', `${ip}/24`);
    }
    return { nsA, nsB, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function tsnetBridge(tag: string, sw: SwitchEngine): Promise<Topology & { ports: TapPort[] }> {
  const nsA = `tsnb-${tag}-a`, nsB = `tsnb-${tag}-b`;
  const net = sw.createDomain(`bench-${tag}`);
  const a = TapPort.open(`tb${tag}a`, { ownMac: 0x02420a580002 });
  const b = TapPort.open(`tb${tag}b`, { ownMac: 0x02420a580003 });
  sw.addPort(a, net);
  sw.addPort(b, net);
  const teardown = async () => {
    sw.removeDomain(net);
    await delNetns(nsA);
    await delNetns(nsB);
  };
  try {
    await addNetns(nsA);
    await addNetns(nsB);
    await plumb(nsA, a.name, '02:42:0a:58:00:02', `${IP_A}/24`);
    await plumb(nsB, b.name, '02:42:0a:58:00:03', `${IP_B}/24`);
    return { nsA, nsB, teardown, ports: [a, b] };
  } catch (err) {
    await teardown();
    throw err;
  }
}

type Scenario = 'tcp' | 'udp64';

async function runIperf(t: Topology, scenario: Scenario, seconds: number): Promise<number> {
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(t.nsB, 'iperf3', ['-s', '-1', '-B', IP_B]);
    await new Promise((r) => setTimeout(r, 300));
    await nsExec(t.nsA, 'ping', ['-c', '1', '-W', '2', IP_B]); // ARP resolved before timing starts
    const args = ['-c', IP_B, '-t', String(seconds), '-J'];
    if (scenario === 'udp64') args.push('-u', '-b', '0', '-l', '64');
    const j = JSON.parse(await nsExec(t.nsA, 'iperf3', args, { timeoutMs: (seconds + 20) * 1000 }));
    if (scenario === 'tcp') return j.end.sum_received.bits_per_second / 1e9;
    const s = j.end.sum;
    return (s.packets - s.lost_packets) / s.seconds; // packets/s the receiver got
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
  const opts = { duration: 5, repeat: 3, json: '' as string };
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
  for (const tool of ['iperf3', 'ping']) {
    if (!(await which(tool))) throw new Error(`${tool} not found on PATH: apt-get install ${tool === 'ping' ? 'iputils-ping' : tool}`);
  }
  const sw = new SwitchEngine();
  const results: Record<string, { kernel: number[]; tsnet: number[]; tsnetCpu: number[] }> = {};
  const live: Topology[] = [];
  const onSignal = async () => {
    for (const t of live) await t.teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    for (const scenario of ['tcp', 'udp64'] as Scenario[]) {
      const r = (results[scenario] = { kernel: [] as number[], tsnet: [] as number[], tsnetCpu: [] as number[] });
      for (let i = 0; i < opts.repeat; i++) {
        for (const path of ['kernel', 'tsnet'] as const) {
          const tag = uniqueTag();
          const t = path === 'kernel' ? await kernelBridge(tag) : await tsnetBridge(tag, sw);
          live.push(t);
          try {
            const cpu0 = process.cpuUsage();
            const v = await runIperf(t, scenario, opts.duration);
            const cpu = process.cpuUsage(cpu0);
            r[path].push(v);
            if (path === 'tsnet') r.tsnetCpu.push((cpu.user + cpu.system) / 1e6 / opts.duration);
            process.stderr.write(`${scenario} ${path} #${i + 1}: ${fmt(scenario, v)}\n`);
          } finally {
            live.splice(live.indexOf(t), 1);
            await t.teardown();
          }
        }
      }
    }
  } finally {
    sw.close();
    process.off('SIGINT', onSignal);
  }
  const rows = Object.entries(results).map(([scenario, r]) => ({
    scenario,
    unit: scenario === 'tcp' ? 'Gbit/s' : 'pkt/s',
    kernel: { median: median(r.kernel), min: Math.min(...r.kernel), max: Math.max(...r.kernel) },
    tsnet: { median: median(r.tsnet), min: Math.min(...r.tsnet), max: Math.max(...r.tsnet) },
    ratio: median(r.tsnet) / median(r.kernel),
    tsnetCpuCores: median(r.tsnetCpu),
  }));
  console.log(`\nbridge, ${opts.repeat} x ${opts.duration}s per path, alternating kernel/tsnet (${new Date().toISOString()})`);
  console.log('scenario  path               median        min–max                 ratio  switch CPU');
  for (const row of rows) {
    const u = row.scenario as Scenario;
    console.log(`${row.scenario.padEnd(9)} kernel bridge+veth ${fmt(u, row.kernel.median).padStart(13)} ${`${fmt(u, row.kernel.min)}–${fmt(u, row.kernel.max)}`.padStart(23)}`);
    console.log(
      `${''.padEnd(9)} tsnet-switch TAP   ${fmt(u, row.tsnet.median).padStart(13)} ${`${fmt(u, row.tsnet.min)}–${fmt(u, row.tsnet.max)}`.padStart(23)}  ${row.ratio.toFixed(2).padStart(5)}  ${(row.tsnetCpuCores * 100).toFixed(0)}% of a core`,
    );
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
