/**
 * End-to-end overlay benchmark, in one run: VXLAN between two "hosts" (namespaces joined by a veth
 * underlay, 198.18.0.1 and 198.18.0.2, MTU 1500), one container on each, one iperf3 TCP stream.
 *
 *   kernel<->kernel:  cA ─veth─ [bridge + vxlan device] ══underlay══ [vxlan device + bridge] ─veth─ cB
 *   tsnet<->tsnet:    cA ─TAP── [tsnet-switch daemon]   ══underlay══ [tsnet-switch daemon]   ─TAP── cB
 *   tsnet<->kernel:   cA ─TAP── [tsnet-switch daemon]   ══underlay══ [vxlan device + bridge] ─veth─ cB
 *
 * The daemons are the built CLI (`npm run build` first), one process per host, as users run them.
 * Paths alternate over the repeats so drift cancels; the table prints the median, min–max, the ratio
 * of medians to kernel<->kernel, and the CPU the daemons used per second of traffic. tsnet<->kernel
 * runs both directions (A sends, then B sends).
 *
 *   npm run bench:overlay -- [--duration S] [--repeat N] [--json FILE]
 *
 * Root is needed. Everything is torn down in `finally`, also on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { addNetns, delNetns, kill, nsExec, nsSpawn, plumb, sh, uniqueTag, which } from '../test/helpers/netns.js';

const CLI = resolve(import.meta.dirname, '../bin/tsnet-switch.js');
const VTEP_A = '198.18.0.1';
const VTEP_B = '198.18.0.2';
const IP_A = '10.89.0.2';
const IP_B = '10.89.0.3';
const VNI = 4789;

type Side = 'kernel' | 'tsnet';
type PathName = 'kernel<->kernel' | 'tsnet<->tsnet' | 'tsnet->kernel' | 'kernel->tsnet';

interface Topology {
  cA: string;
  cB: string;
  daemons: ChildProcess[];
  teardown(): Promise<void>;
}

async function startDaemon(hostNs: string, dir: string): Promise<{ child: ChildProcess; socket: string }> {
  const socket = join(dir, `${hostNs}.sock`);
  const child = spawn('ip', ['netns', 'exec', hostNs, process.execPath, CLI, 'daemon', '--state-dir', join(dir, hostNs), '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const end = Date.now() + 15_000;
  while (!log.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`daemon in ${hostNs} did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, socket };
}

async function cli(socket: string, args: string[]): Promise<string> {
  return sh(process.execPath, [CLI, ...args, '--socket', socket]);
}

async function kernelSide(host: string, c: string, local: string, remote: string, ip: string, mac: string, tag: string): Promise<void> {
  await sh('ip', ['-n', host, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', local, 'remote', remote, 'dstport', '4789']);
  await sh('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['-n', host, 'link', 'set', 'vx0', 'mtu', '1450', 'master', 'br0', 'up']);
  await sh('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
  const inner = `oc${tag}`;
  const outer = `op${tag}`;
  await sh('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
  await sh('ip', ['link', 'set', outer, 'netns', host]);
  await sh('ip', ['-n', host, 'link', 'set', outer, 'mtu', '1450', 'master', 'br0', 'up']);
  await plumb(c, inner, mac, `${ip}/24`, 1450);
}

async function topology(a: Side, b: Side): Promise<Topology> {
  const tag = uniqueTag();
  const hA = `tsno-${tag}-ha`, hB = `tsno-${tag}-hb`, cA = `tsno-${tag}-ca`, cB = `tsno-${tag}-cb`;
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-'));
  const daemons: ChildProcess[] = [];
  const teardown = async () => {
    for (const d of daemons) kill(d);
    await new Promise((r) => setTimeout(r, 200));
    for (const ns of [cA, cB, hA, hB]) await delNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const ns of [hA, hB, cA, cB]) await addNetns(ns);
    await sh('ip', ['link', 'add', `ou${tag}a`, 'type', 'veth', 'peer', 'name', `ou${tag}b`]);
    await plumb(hA, `ou${tag}a`, '02:00:c6:12:00:01', `${VTEP_A}/24`, 1500);
    await plumb(hB, `ou${tag}b`, '02:00:c6:12:00:02', `${VTEP_B}/24`, 1500);
    for (const [side, host, c, local, remote, ip, mac, t] of [
      [a, hA, cA, VTEP_A, VTEP_B, IP_A, '02:42:0a:59:00:02', `${tag}a`],
      [b, hB, cB, VTEP_B, VTEP_A, IP_B, '02:42:0a:59:00:03', `${tag}b`],
    ] as const) {
      if (side === 'kernel') {
        await kernelSide(host, c, local, remote, ip, mac, t);
      } else {
        const d = await startDaemon(host, dir);
        daemons.push(d.child);
        await cli(d.socket, ['network', 'create', '-d', 'overlay', '--subnet', '10.89.0.0/24', '-o', `vni=${VNI}`, '-o', `vtep=${local}`, '-o', `peers=${remote}`, 'ov']);
        await cli(d.socket, ['connect', 'ov', '--netns', c, '--ip', ip]);
      }
    }
    return { cA, cB, daemons, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function iperf(t: Topology, reverse: boolean, seconds: number): Promise<{ gbps: number; cpu: number }> {
  const [srvNs, srvIp, cliNs] = reverse ? [t.cA, IP_A, t.cB] : [t.cB, IP_B, t.cA];
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(srvNs, 'iperf3', ['-s', '-1', '-B', srvIp]);
    await new Promise((r) => setTimeout(r, 300));
    await nsExec(cliNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', srvIp]); // ARP and learning before timing
    const cpu0 = t.daemons.reduce((s, d) => s + cpuSeconds(d.pid), 0);
    const j = JSON.parse(await nsExec(cliNs, 'iperf3', ['-c', srvIp, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 }));
    const cpu = t.daemons.reduce((s, d) => s + cpuSeconds(d.pid), 0) - cpu0;
    return { gbps: j.end.sum_received.bits_per_second / 1e9, cpu: cpu / seconds };
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
  const opts = { duration: 3, repeat: 3, json: '' };
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
  if (process.getuid?.() !== 0) throw new Error('bench needs root: network namespaces, TAP devices, vxlan devices');
  for (const tool of ['iperf3', 'ping']) {
    if (!(await which(tool))) throw new Error(`${tool} not found on PATH: apt-get install ${tool === 'ping' ? 'iputils-ping' : tool}`);
  }
  const paths: { name: PathName; a: Side; b: Side; reverse: boolean }[] = [
    { name: 'kernel<->kernel', a: 'kernel', b: 'kernel', reverse: false },
    { name: 'tsnet<->tsnet', a: 'tsnet', b: 'tsnet', reverse: false },
    { name: 'tsnet->kernel', a: 'tsnet', b: 'kernel', reverse: false },
    { name: 'kernel->tsnet', a: 'tsnet', b: 'kernel', reverse: true },
  ];
  const results = new Map<PathName, { gbps: number[]; cpu: number[] }>(paths.map((p) => [p.name, { gbps: [], cpu: [] }]));
  const live: Topology[] = [];
  const onSignal = async () => {
    for (const t of live) await t.teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    for (let i = 0; i < opts.repeat; i++) {
      for (const p of paths) {
        const t = await topology(p.a, p.b);
        live.push(t);
        try {
          const r = await iperf(t, p.reverse, opts.duration);
          results.get(p.name)!.gbps.push(r.gbps);
          results.get(p.name)!.cpu.push(r.cpu);
          process.stderr.write(`${p.name} #${i + 1}: ${r.gbps.toFixed(2)} Gbit/s, daemons ${(r.cpu * 100).toFixed(0)}% of a core\n`);
        } finally {
          live.splice(live.indexOf(t), 1);
          await t.teardown();
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
  const base = median(results.get('kernel<->kernel')!.gbps);
  const rows = paths.map((p) => {
    const r = results.get(p.name)!;
    return { path: p.name, median: median(r.gbps), min: Math.min(...r.gbps), max: Math.max(...r.gbps), ratio: median(r.gbps) / base, daemonCpuCores: median(r.cpu) };
  });
  console.log(`\noverlay (VXLAN, underlay MTU 1500, inner 1450), iperf3 TCP one stream, ${opts.repeat} x ${opts.duration}s per path, alternating (${new Date().toISOString()})`);
  console.log('path              Gbit/s median   min–max        ratio to kernel<->kernel   daemons CPU');
  for (const r of rows) {
    console.log(
      `${r.path.padEnd(17)} ${r.median.toFixed(2).padStart(13)}   ${`${r.min.toFixed(2)}–${r.max.toFixed(2)}`.padEnd(13)}  ${r.ratio.toFixed(2).padStart(5)}                      ${r.path === 'kernel<->kernel' ? '-' : `${(r.daemonCpuCores * 100).toFixed(0)}% of a core`}`,
    );
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), ...opts, rows }, null, 2));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
