/**
 * End-to-end load-balancer benchmark, in one run:
 *
 *   1. TCP bulk (iperf3, one stream): client -> backend directly through the switch (L2 only) vs the
 *      same client -> VIP -> the same backend (NAT in the lb stage). Ratio VIP / direct; the bar is 0.8.
 *   2. New TCP connections per second: a load generator (node, C connections in flight, each connect ->
 *      read a one-byte answer -> close) through the VIP (NAT, rr over three backends) vs through HAProxy
 *      in TCP mode (Debian's haproxy, one thread, roundrobin over the same three backends) running in a
 *      namespace on the same switch.
 *
 *   tsnet-switch side:  client ─TAP─ [tsnet-switch in this process: lb + L2] ─TAP─ b1, b2, b3, haproxy
 *
 * Paths alternate A B A B over the repeats so drift cancels; medians and min–max are printed. Root is
 * needed (namespaces, TAP); everything is torn down in `finally`.
 *
 *   npm run bench:lb -- [--duration S] [--repeat N] [--concurrency C] [--json FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TapPort } from '../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../src/dataplane/switch-engine.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, plumb, uniqueTag, which } from '../test/helpers/netns.js';

const P = '10.89.0';
const CLIENT = { ip: `${P}.2`, mac: 0x02420a590002 };
const BACKENDS = [11, 12, 13].map((h) => ({ ip: `${P}.${h}`, mac: 0x02420a590000 + h }));
const HAPROXY = { ip: `${P}.20`, mac: 0x02420a590014 };
const VIP = `${P}.100`;
const ipNum = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
const macText = (m: number) => m.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');

const ACCEPTOR = `
require('net').createServer((c) => { c.on('error', () => {}); c.end('x'); }).listen(7000, '0.0.0.0', () => console.log('ready'));
`;

const LOADGEN = `
const net = require('net');
const [host, port, conc, secs] = process.argv.slice(1);
let done = 0, failed = 0, stop = false;
const start = Date.now();
function one() {
  if (stop) return;
  const c = net.connect(+port, host);
  let ok = false;
  c.on('data', () => { ok = true; });
  c.on('error', () => {});
  c.on('close', () => { if (ok) done++; else failed++; one(); });
}
for (let i = 0; i < +conc; i++) one();
setTimeout(() => { stop = true; const s = (Date.now() - start) / 1000; console.log(JSON.stringify({ cps: done / s, done, failed })); process.exit(0); }, +secs * 1000);
`;

interface Topology {
  client: string;
  backends: string[];
  haproxyNs: string;
  teardown(): Promise<void>;
}

async function build(tag: string, sw: SwitchEngine): Promise<Topology> {
  const net = sw.createDomain(`lbbench-${tag}`);
  const client = `tsnlb-${tag}-c`;
  const backends = BACKENDS.map((_, i) => `tsnlb-${tag}-b${i + 1}`);
  const haproxyNs = `tsnlb-${tag}-h`;
  const all = [client, ...backends, haproxyNs];
  const teardown = async () => {
    sw.lb.removeDomain(net);
    sw.removeDomain(net);
    for (const ns of all) await delNetns(ns);
  };
  try {
    const hosts = [CLIENT, ...BACKENDS, HAPROXY];
    for (let i = 0; i < all.length; i++) {
      await addNetns(all[i]);
      const port = TapPort.open(`tl${tag}${i}`, { ownMac: hosts[i].mac });
      sw.addPort(port, net);
      await plumb(all[i], port.name, macText(hosts[i].mac), `${hosts[i].ip}/24`);
    }
    const lb = sw.lb;
    const bulk = lb.addService(net, { protocol: 'tcp', vip: ipNum(VIP), port: 5201, scheduler: 'rr', persistTimeout: 0 });
    lb.addServer(bulk, { ip: ipNum(BACKENDS[0].ip), port: 5201, weight: 1, method: 'nat', mac: BACKENDS[0].mac });
    const cps = lb.addService(net, { protocol: 'tcp', vip: ipNum(VIP), port: 7000, scheduler: 'rr', persistTimeout: 0 });
    for (const b of BACKENDS) lb.addServer(cps, { ip: ipNum(b.ip), port: 7000, weight: 1, method: 'nat', mac: b.mac });
    return { client, backends, haproxyNs, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

function waitReady(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start`)), 10_000);
    child.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (c) => reject(new Error(`${what} exited ${c}`)));
  });
}

async function bulk(t: Topology, target: string, seconds: number): Promise<number> {
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(t.backends[0], 'iperf3', ['-s', '-1', '-B', BACKENDS[0].ip]);
    await new Promise((r) => setTimeout(r, 300));
    await nsExec(t.client, 'ping', ['-c', '1', '-W', '2', BACKENDS[0].ip]);
    const j = JSON.parse(await nsExec(t.client, 'iperf3', ['-c', target, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 }));
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    kill(server);
  }
}

async function connsPerSecond(t: Topology, target: string, conc: number, seconds: number): Promise<{ cps: number; failed: number }> {
  const out = await nsExec(t.client, process.execPath, ['-e', LOADGEN, target, '7000', String(conc), String(seconds)], { timeoutMs: (seconds + 20) * 1000 });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  return { cps: r.cps, failed: r.failed };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function parseArgs(argv: string[]) {
  const opts = { duration: 3, repeat: 3, concurrency: 32, json: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--duration') (opts.duration = Number(v)), i++;
    else if (a === '--repeat') (opts.repeat = Number(v)), i++;
    else if (a === '--concurrency') (opts.concurrency = Number(v)), i++;
    else if (a === '--json') (opts.json = v), i++;
    else throw new Error(`unknown argument ${JSON.stringify(a)}: accepted --duration S, --repeat N, --concurrency C, --json FILE`);
  }
  if (!(opts.duration > 0)) throw new Error(`--duration ${opts.duration}: expected seconds > 0`);
  if (!Number.isInteger(opts.repeat) || opts.repeat < 1) throw new Error(`--repeat ${opts.repeat}: expected an integer >= 1`);
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error(`--concurrency ${opts.concurrency}: expected an integer >= 1`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench needs root: network namespaces and /dev/net/tun');
  for (const tool of ['iperf3', 'ping', 'haproxy']) {
    if (!(await which(tool))) throw new Error(`${tool} is not installed (apt-get install -y ${tool})`);
  }
  const sw = new SwitchEngine();
  const timer = setInterval(() => sw.periodic(), 1000);
  const tag = uniqueTag().slice(0, 6);
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-lb-bench-'));
  const children: ChildProcess[] = [];
  let topo: Topology | null = null;
  const stopAll = async () => {
    for (const c of children) kill(c);
    if (topo) await topo.teardown();
    clearInterval(timer);
    sw.close();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
  try {
    topo = await build(tag, sw);
    for (const ns of topo.backends) {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', ACCEPTOR], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      await waitReady(c, `acceptor in ${ns}`);
    }
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 4000',
        '  nbthread 1',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        'frontend f',
        `  bind ${HAPROXY.ip}:7000`,
        '  default_backend b',
        'backend b',
        '  balance roundrobin',
        ...BACKENDS.map((b, i) => `  server b${i + 1} ${b.ip}:7000`),
        '',
      ].join('\n'),
    );
    const hap = spawn('ip', ['netns', 'exec', topo.haproxyNs, 'haproxy', '-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(hap);
    let hapLog = '';
    hap.stderr!.on('data', (d) => (hapLog += d));
    await new Promise((r) => setTimeout(r, 500));
    if (hap.exitCode !== null) throw new Error(`haproxy exited ${hap.exitCode}: ${hapLog}`);

    const res = { direct: [] as number[], vip: [] as number[], cpsVip: [] as number[], cpsHaproxy: [] as number[], failedVip: 0, failedHaproxy: 0 };
    const cpu0 = process.cpuUsage();
    for (let r = 0; r < opts.repeat; r++) {
      const first = r % 2 === 0;
      for (const path of first ? ['direct', 'vip'] : ['vip', 'direct']) {
        const g = await bulk(topo, path === 'direct' ? BACKENDS[0].ip : VIP, opts.duration);
        (path === 'direct' ? res.direct : res.vip).push(g);
        console.error(`  bulk ${path.padEnd(6)} run ${r + 1}: ${g.toFixed(2)} Gbit/s`);
      }
      for (const path of first ? ['vip', 'haproxy'] : ['haproxy', 'vip']) {
        const c = await connsPerSecond(topo, path === 'vip' ? VIP : HAPROXY.ip, opts.concurrency, opts.duration);
        if (path === 'vip') {
          res.cpsVip.push(c.cps);
          res.failedVip += c.failed;
        } else {
          res.cpsHaproxy.push(c.cps);
          res.failedHaproxy += c.failed;
        }
        console.error(`  conns  ${path.padEnd(7)} run ${r + 1}: ${Math.round(c.cps)} conn/s (${c.failed} failed)`);
      }
    }
    const cpu = process.cpuUsage(cpu0);
    const t = sw.lb.conns;
    const row = (name: string, xs: number[], unit: string, digits: number) =>
      `${name.padEnd(36)} ${median(xs).toFixed(digits).padStart(9)} ${unit}   (min ${Math.min(...xs).toFixed(digits)}, max ${Math.max(...xs).toFixed(digits)})`;
    console.log(`\nload balancer, ${opts.repeat} x ${opts.duration}s per path, alternating; 2 shared cores (switch, endpoints, load generator and HAProxy all on them)`);
    console.log(row('TCP bulk client -> backend (direct)', res.direct, 'Gbit/s', 2));
    console.log(row('TCP bulk client -> VIP (NAT)', res.vip, 'Gbit/s', 2));
    console.log(`${'  ratio VIP / direct'.padEnd(36)} ${(median(res.vip) / median(res.direct)).toFixed(2).padStart(9)}      (bar: >= 0.80)`);
    console.log(row(`new TCP conns/s via VIP (c=${opts.concurrency})`, res.cpsVip, 'conn/s', 0));
    console.log(row(`new TCP conns/s via HAProxy tcp mode`, res.cpsHaproxy, 'conn/s', 0));
    console.log(`${'  ratio VIP / HAProxy'.padEnd(36)} ${(median(res.cpsVip) / median(res.cpsHaproxy)).toFixed(2).padStart(9)}`);
    console.log(`failed connects: VIP ${res.failedVip}, HAProxy ${res.failedHaproxy}; conn table: ${t.created} created, ${t.count} tracked, ${t.refusedFull} refused, ${t.bytesPerEntry.toFixed(1)} bytes/entry`);
    console.log(`switch process CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s over the run`);
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, ...res }, null, 2));
  } finally {
    await stopAll();
  }
}

main().catch((err) => {
  console.error(`bench:lb: ${(err as Error).message}`);
  process.exit(1);
});
