/**
 * End-to-end macvlan benchmark, the kernel's macvlan vs tsnet-switch's, in one run.
 *
 *   kernel:  LAN host ─veth─ p0 ─[kernel macvlan, mode bridge]─ mv0 (in the container)
 *   tsnet:   LAN host ─veth─ p0 ─[AF_PACKET ─ tsnet-switch, this process ─ TAP]─ eth0 (in the container)
 *
 * Both on the same topology: a "host" namespace holding the parent p0 (one end of a veth pair), a LAN
 * namespace with the outside host on the other end, and a container namespace. Scenarios: one iperf3
 * TCP stream LAN -> container (`tcp-in`) and container -> LAN (`tcp-out`), Gbit/s. Paths alternate
 * A B A B over the repeats so drift cancels; the table prints the median, min–max, the ratio of medians
 * and the CPU this process (the switch) used per second of traffic.
 *
 *   npm run bench:macvlan -- [--duration S] [--repeat N] [--json FILE]
 *
 * Root is needed (namespaces, TAP, AF_PACKET). Everything is torn down in `finally`, also on Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { addParentMember, createParentNetwork, removeParentNetwork } from '../src/dataplane/parent-network-setup.js';
import { PacketPort } from '../src/dataplane/ports/packet-port.js';
import { TapPort } from '../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../src/dataplane/switch-engine.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, sh, uniqueTag, which } from '../test/helpers/netns.js';

interface Topology {
  lan: string;
  child: string;
  teardown(): Promise<void>;
}

const LAN_IP = '10.89.0.1';
const CHILD_IP = '10.89.0.2';
const CHILD_MAC = '02:42:0a:59:00:02';

/** Host namespace with p0, LAN namespace with the outside host on the peer. */
async function lanAndParent(tag: string): Promise<{ host: string; lan: string; child: string }> {
  const host = `tsnm-${tag}-h`, lan = `tsnm-${tag}-l`, child = `tsnm-${tag}-c`;
  for (const ns of [host, lan, child]) await addNetns(ns);
  await sh('ip', ['link', 'add', `mp${tag}`, 'type', 'veth', 'peer', 'name', `ml${tag}`]);
  await sh('ip', ['link', 'set', `mp${tag}`, 'netns', host, 'name', 'p0']);
  await sh('ip', ['-n', host, 'link', 'set', 'dev', 'p0', 'up']);
  await sh('ip', ['link', 'set', `ml${tag}`, 'netns', lan, 'name', 'lan0']);
  await sh('ip', ['-n', lan, 'addr', 'add', `${LAN_IP}/24`, 'dev', 'lan0']);
  await sh('ip', ['-n', lan, 'link', 'set', 'dev', 'lan0', 'up']);
  return { host, lan, child };
}

async function kernelMacvlan(tag: string): Promise<Topology> {
  const { host, lan, child } = await lanAndParent(tag);
  const teardown = async () => {
    for (const ns of [child, lan, host]) await delNetns(ns);
  };
  try {
    await sh('ip', ['-n', host, 'link', 'add', 'mv0', 'link', 'p0', 'type', 'macvlan', 'mode', 'bridge']);
    await sh('ip', ['-n', host, 'link', 'set', 'dev', 'mv0', 'netns', child]);
    await sh('ip', ['-n', child, 'link', 'set', 'dev', 'mv0', 'address', CHILD_MAC]);
    await sh('ip', ['-n', child, 'addr', 'add', `${CHILD_IP}/24`, 'dev', 'mv0']);
    await sh('ip', ['-n', child, 'link', 'set', 'dev', 'mv0', 'up']);
    return { lan, child, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function tsnetMacvlan(tag: string, sw: SwitchEngine): Promise<Topology> {
  const { host, lan, child } = await lanAndParent(tag);
  let removeNet = () => {};
  const teardown = async () => {
    removeNet();
    for (const ns of [child, lan, host]) await delNetns(ns);
  };
  try {
    const uplink = PacketPort.open('p0', { netns: `/var/run/netns/${host}` });
    const net = createParentNetwork(sw, `bench-${tag}`, uplink, { kind: 'macvlan', mode: 'bridge', parentMac: uplink.parentMac });
    removeNet = () => removeParentNetwork(sw, net);
    const tap = TapPort.open('eth0', { ownMac: 0x02420a590002, netns: `/var/run/netns/${child}` }); // made inside the container
    addParentMember(sw, net, tap, { mac: 0x02420a590002 });
    await sh('ip', ['-n', child, 'link', 'set', 'dev', 'eth0', 'address', CHILD_MAC]);
    await sh('ip', ['-n', child, 'addr', 'add', `${CHILD_IP}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', child, 'link', 'set', 'dev', 'eth0', 'up']);
    return { lan, child, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

type Scenario = 'tcp-in' | 'tcp-out';

async function runIperf(t: Topology, scenario: Scenario, seconds: number): Promise<number> {
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(t.child, 'iperf3', ['-s', '-1', '-B', CHILD_IP]);
    await new Promise((r) => setTimeout(r, 300));
    await nsExec(t.lan, 'ping', ['-c', '1', '-W', '2', CHILD_IP]); // ARP resolved before timing starts
    const args = ['-c', CHILD_IP, '-t', String(seconds), '-J'];
    if (scenario === 'tcp-out') args.push('-R');
    const j = JSON.parse(await nsExec(t.lan, 'iperf3', args, { timeoutMs: (seconds + 20) * 1000 }));
    return j.end.sum_received.bits_per_second / 1e9;
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
  const opts = { duration: 3, repeat: 3, json: '' as string };
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
  if (process.getuid?.() !== 0) throw new Error('bench needs root: network namespaces, /dev/net/tun and AF_PACKET');
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
    for (const scenario of ['tcp-in', 'tcp-out'] as Scenario[]) {
      const r = (results[scenario] = { kernel: [] as number[], tsnet: [] as number[], tsnetCpu: [] as number[] });
      for (let i = 0; i < opts.repeat; i++) {
        for (const path of ['kernel', 'tsnet'] as const) {
          const tag = uniqueTag();
          const t = path === 'kernel' ? await kernelMacvlan(tag) : await tsnetMacvlan(tag, sw);
          live.push(t);
          try {
            const cpu0 = process.cpuUsage();
            const v = await runIperf(t, scenario, opts.duration);
            const cpu = process.cpuUsage(cpu0);
            r[path].push(v);
            if (path === 'tsnet') r.tsnetCpu.push((cpu.user + cpu.system) / 1e6 / opts.duration);
            process.stderr.write(`${scenario} ${path} #${i + 1}: ${v.toFixed(2)} Gbit/s\n`);
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
    unit: 'Gbit/s',
    kernel: { median: median(r.kernel), min: Math.min(...r.kernel), max: Math.max(...r.kernel) },
    tsnet: { median: median(r.tsnet), min: Math.min(...r.tsnet), max: Math.max(...r.tsnet) },
    ratio: median(r.tsnet) / median(r.kernel),
    tsnetCpuCores: median(r.tsnetCpu),
  }));
  const load = (await sh('cat', ['/proc/loadavg'])).trim();
  console.log(`\nmacvlan (mode bridge), LAN host <-> container TCP, ${opts.repeat} x ${opts.duration}s per path, alternating kernel/tsnet (${new Date().toISOString()}; loadavg ${load})`);
  console.log('scenario  path                    median Gbit/s   min–max         ratio  switch CPU');
  const f = (v: number) => v.toFixed(2);
  for (const row of rows) {
    console.log(`${row.scenario.padEnd(9)} kernel macvlan           ${f(row.kernel.median).padStart(13)}   ${`${f(row.kernel.min)}–${f(row.kernel.max)}`.padEnd(13)}`);
    console.log(
      `${''.padEnd(9)} tsnet AF_PACKET+TAP      ${f(row.tsnet.median).padStart(13)}   ${`${f(row.tsnet.min)}–${f(row.tsnet.max)}`.padEnd(13)}  ${row.ratio.toFixed(2).padStart(5)}  ${(row.tsnetCpuCores * 100).toFixed(0)}% of a core`,
    );
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), loadavg: load, ...opts, rows }, null, 2));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
