/**
 * Captures and traces end to end: the built CLI against a daemon in its own namespace, containers in
 * theirs, real traffic (ping, iperf3 with TSO, UDP), and every capture read back by tshark: frame
 * counts match what was sent, nothing is malformed, interface names are the endpoints, directions and
 * annotations are there; a live pipe into tshark; Ctrl-C leaves a valid file; filters keep exactly what
 * they say; ring files rotate; GSO super-frames are recorded as the container sent them; trace explains
 * a known, an unknown and a broadcast destination (dry runs: the stages' own tests check nothing is
 * sent); bad input is a clear error with nothing made.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/capture-reader.js';
import { CLI, TestDaemon } from '../helpers/daemon.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';
import { tsharkCount, tsharkFields, tsharkSkipReason } from '../helpers/tshark.js';

const skip = privilegedSkipReason() ?? tsharkSkipReason();
if (skip) console.warn(`skipping capture integration tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const SUBNET = '10.62.0';

async function setup() {
  const d = new TestDaemon();
  cleanup.push(() => d.teardown());
  const tag = uniqueTag();
  const c1 = `tsnt-${tag}-c1`;
  const c2 = `tsnt-${tag}-c2`;
  cleanup.push(async () => {
    await delNetns(c1);
    await delNetns(c2);
  });
  await d.setup();
  await addNetns(c1);
  await addNetns(c2);
  await d.ok(['network', 'create', '--subnet', `${SUBNET}.0/24`, '-o', `bridge.name=tsc${tag}`, 'net1']);
  await d.ok(['connect', 'net1', '--netns', c1]);
  await d.ok(['connect', 'net1', '--netns', c2, '--ip', `${SUBNET}.3`]);
  return { d, c1, c2, gateway: `tsc${tag} (gateway)` };
}

interface Running {
  child: ChildProcess;
  done: Promise<{ code: number | null; stderr: string; stdout: string }>;
}

/** Start `tsnet-switch capture ...` and wait until the daemon says the capture runs. */
async function startCapture(d: TestDaemon, args: string[], shell?: string): Promise<Running> {
  const before = (d.log.match(/capture cap\d+ started/g) ?? []).length;
  const child = shell
    ? spawn('sh', ['-c', shell], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [CLI, 'capture', ...args, '--socket', d.socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(async () => kill(child));
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (c) => (stderr += c));
  child.stdout!.on('data', (c) => (stdout += c));
  const done = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr, stdout })));
  const deadline = Date.now() + 10_000;
  while ((d.log.match(/capture cap\d+ started/g) ?? []).length <= before) {
    if (child.exitCode !== null) throw new Error(`capture exited early (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`capture did not start: ${stderr}\n${d.log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, done };
}

async function ping(ns: string, ip: string, count: number, extra: string[] = []): Promise<void> {
  await nsExec(ns, 'ping', ['-c', String(count), '-i', '0.1', '-W', '2', ...extra, ip]);
}

describe.skipIf(skip !== null)('capture and trace through the daemon', () => {
  it('captures a network: frames per endpoint with directions and decisions, live into tshark, and Ctrl-C leaves a valid file', async () => {
    const { d, c1, c2, gateway } = await setup();
    const file = join(d.dir, 'ping.pcapng');
    const cap = await startCapture(d, ['net1', '-w', file, '--annotate', '-c', '12', 'icmp']);
    await ping(c1, `${SUBNET}.3`, 3);
    const r = await cap.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`12 frames captured to ${file}`));
    // 3 requests and 3 replies, each recorded entering one port and leaving the other.
    expect(await tsharkCount(file)).toBe(12);
    expect(await tsharkCount(file, 'icmp.type == 8')).toBe(6);
    expect(await tsharkCount(file, '_ws.malformed')).toBe(0);
    const rows = await tsharkFields(file, ['frame.interface_name', 'frame.packet_flags_direction', 'frame.comment', 'icmp.type']);
    const l1 = `${c1}:eth0`;
    const l2 = `${c2}:eth0`;
    expect(rows.slice(0, 4).map((x) => [x['frame.interface_name'], x['frame.packet_flags_direction'], x['frame.comment'], x['icmp.type']])).toEqual([
      [l1, '0x00000001', `fdb hit -> ${l2}`, '8'],
      [l2, '0x00000002', `from ${l1}`, '8'],
      [l2, '0x00000001', `fdb hit -> ${l1}`, '0'],
      [l1, '0x00000002', `from ${l2}`, '0'],
    ]);
    // One interface description per port of the network, named after the endpoint, gateway included.
    const f = readCapture(readFileSync(file));
    expect(f.interfaces.map((i) => i.name)).toEqual([gateway, l1, l2]);

    // Live: straight into tshark through a pipe.
    const live = await startCapture(d, [], `${process.execPath} ${CLI} capture net1 -w - -c 4 --socket ${d.socket} icmp | tshark -r - -T fields -e frame.interface_name -e ip.src`);
    await ping(c2, `${SUBNET}.2`, 1);
    const lr = await live.done;
    expect(lr.code).toBe(0);
    expect(lr.stdout.trim().split('\n')).toEqual([`${l2}\t${SUBNET}.3`, `${l1}\t${SUBNET}.3`, `${l1}\t${SUBNET}.2`, `${l2}\t${SUBNET}.2`]);

    // No -c, no -w: the capture runs until Ctrl-C, into --capture-dir, and the file is whole.
    const dir = join(d.dir, 'caps');
    const open = await startCapture(d, [`${c1}:eth0`, '--capture-dir', dir]);
    await ping(c1, `${SUBNET}.3`, 3);
    await new Promise((res) => setTimeout(res, 200));
    // A running capture shows in stats with its counters.
    const st = JSON.parse(await d.ok(['stats', '--json'])) as { captures: { format: string; captured: number; dropped: number; interfaces: { name: string }[] }[] };
    expect(st.captures).toHaveLength(1);
    expect(st.captures[0]).toMatchObject({ format: 'pcapng', dropped: 0, interfaces: [{ name: l1 }] });
    expect(st.captures[0].captured).toBeGreaterThanOrEqual(6);
    open.child.kill('SIGINT');
    const or = await open.done;
    expect(or.code).toBe(0);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^${c1}_eth0-\\d{8}T\\d{6}\\.pcapng$`));
    const saved = join(dir, files[0]);
    expect(await tsharkCount(saved, 'icmp')).toBe(6); // one port: 3 requests out of it, 3 replies into it
    expect(await tsharkCount(saved, '_ws.malformed')).toBe(0);
    expect(await tsharkCount(saved, `frame.interface_name != "${l1}"`)).toBe(0);
    const capinfos = await sh('capinfos', ['-M', saved]);
    expect(capinfos).toMatch(/Number of interfaces in file: 1/);
    expect(or.stderr).toMatch(/frames captured to /);
  });

  it('filters exactly, records GSO super-frames as sent, rotates ring files, and counts what it had to drop', async () => {
    const { d, c1, c2 } = await setup();
    // UDP to one port among pings: the filter keeps the UDP and nothing else.
    const udpFile = join(d.dir, 'udp.pcapng');
    const cap = await startCapture(d, ['net1', '-w', udpFile, 'udp', 'port', '9999']);
    const pinging = ping(c1, `${SUBNET}.3`, 5);
    for (let i = 0; i < 5; i++) await nsExec(c1, 'bash', ['-c', `echo datagram-${i} > /dev/udp/${SUBNET}.3/9999`]);
    await pinging;
    await new Promise((res) => setTimeout(res, 200));
    cap.child.kill('SIGINT');
    expect((await cap.done).code).toBe(0);
    expect(await tsharkCount(udpFile)).toBe(10); // 5 datagrams, in and out
    expect(await tsharkCount(udpFile, 'udp.dstport == 9999')).toBe(10);

    // iperf3 with TSO: the container hands over 64 KB TCP segments; the capture shows them whole.
    const tcpFile = join(d.dir, 'tcp.pcapng');
    const tcpCap = await startCapture(d, [c2, '-w', tcpFile, 'tcp', 'port', '5201']);
    const server = nsSpawn(c2, 'iperf3', ['-s', '-1', '-B', `${SUBNET}.3`]);
    try {
      await new Promise((res) => setTimeout(res, 400));
      await nsExec(c1, 'iperf3', ['-c', `${SUBNET}.3`, '-t', '1', '-J'], { timeoutMs: 20_000 });
    } finally {
      kill(server);
    }
    tcpCap.child.kill('SIGINT');
    const tr = await tcpCap.done;
    expect(tr.code).toBe(0);
    const lens = (await tsharkFields(tcpFile, ['frame.len'])).map((x) => Number(x['frame.len']));
    expect(lens.length).toBeGreaterThan(10);
    expect(Math.max(...lens)).toBeGreaterThan(1514); // super-frames, not MTU-sized segments
    expect(await tsharkCount(tcpFile, '_ws.malformed')).toBe(0);
    // What the capture could not keep up with is counted (and said), never taken from the data plane.
    const m = /(\d+) frames captured to .*?(?:\((\d+) dropped by the capture)?/.exec(tr.stderr);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(lens.length);

    // Ring: at most 2 files of ~50 kB, each opening on its own.
    const ringBase = join(d.dir, 'ring', 'r.pcapng');
    const ring = await startCapture(d, ['net1', '-w', ringBase, '--ring-files', '2', '--ring-size', '0.05', 'icmp']);
    await ping(c1, `${SUBNET}.3`, 25, ['-s', '1400', '-i', '0.02']);
    await new Promise((res) => setTimeout(res, 200));
    ring.child.kill('SIGINT');
    const rr = await ring.done;
    expect(rr.code).toBe(0);
    expect(rr.stderr).toMatch(/100 frames captured to 2 files/);
    const ringFiles = readdirSync(join(d.dir, 'ring')).sort();
    expect(ringFiles).toHaveLength(2);
    expect(ringFiles[0]).toMatch(/^r_\d{5}\.pcapng$/);
    expect(Number(ringFiles[1].slice(2, 7))).toBe(Number(ringFiles[0].slice(2, 7)) + 1);
    for (const f of ringFiles) {
      const p = join(d.dir, 'ring', f);
      expect(statSync(p).size).toBeLessThanOrEqual(50_000 + 1600);
      expect(await tsharkCount(p, 'icmp')).toBeGreaterThan(0);
      expect(await tsharkCount(p, '_ws.malformed')).toBe(0);
    }
  });

  it('shows dropped frames with their reason when annotating, and refuses bad input with nothing made', async () => {
    const { d, c1 } = await setup();
    const file = join(d.dir, 'spoof.pcapng');
    const cap = await startCapture(d, ['net1', '-w', file, '--annotate', '-c', '2', 'ether', 'src', '02:42:0a:3e:00:99']);
    // The container changes its MAC behind the switch's back: port security drops what it sends.
    await sh('ip', ['-n', c1, 'link', 'set', 'eth0', 'address', '02:42:0a:3e:00:99']);
    await ping(c1, `${SUBNET}.3`, 2).catch(() => undefined);
    const r = await cap.done;
    expect(r.code).toBe(0);
    const rows = await tsharkFields(file, ['frame.packet_flags_direction', 'frame.comment']);
    expect(rows).toEqual([
      { 'frame.packet_flags_direction': '0x00000001', 'frame.comment': 'drop spoofed-src-mac' },
      { 'frame.packet_flags_direction': '0x00000001', 'frame.comment': 'drop spoofed-src-mac' },
    ]);
    const stats = JSON.parse(await d.ok(['stats', '--json'])) as { ports: { port: string; drops: Record<string, number> }[] };
    expect(stats.ports.find((p) => p.port === `${c1}:eth0`)?.drops['spoofed-src-mac']).toBeGreaterThanOrEqual(2);

    const dir = join(d.dir, 'none');
    const bad = await d.cli(['capture', 'net1', '--capture-dir', dir, 'tcp', 'prt', '80']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/capture filter "tcp prt 80": .*syntax error.*expected tcpdump \(pcap-filter\) syntax/);
    expect(existsSync(dir)).toBe(false);
    const unknown = await d.cli(['capture', 'nosuch', '--capture-dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no network or endpoint "nosuch": .*networks: net1/);
    const ringStdout = await d.cli(['capture', 'net1', '-w', '-', '--ring-files', '2', '--ring-size', '1']);
    expect(ringStdout.stderr).toMatch(/cannot go with -w -/);
    const annotatePcap = await d.cli(['capture', 'net1', '--format', 'pcap', '--annotate', '--capture-dir', dir]);
    expect(annotatePcap.stderr).toMatch(/--annotate needs the pcapng format/);
    expect(existsSync(dir)).toBe(false);
  });

  it('traces a known, an unknown and a broadcast destination through the live pipeline without sending anything', async () => {
    const { d, c1, c2, gateway } = await setup();
    const l1 = `${c1}:eth0`;
    const l2 = `${c2}:eth0`;
    const known = await d.ok(['trace', 'net1', '--in', c1, 'icmp', `${SUBNET}.2`, '>', `${SUBNET}.3`]);
    expect(known).toMatch(/^frame +02:42:0a:3e:00:02 > 02:42:0a:3e:00:03, IPv4 10\.62\.0\.2 > 10\.62\.0\.3, ICMP echo request, 98 bytes$/m);
    expect(known).toMatch(new RegExp(`^ingress +accept from ${l1} \\(98 bytes\\)$`, 'm'));
    expect(known).toMatch(new RegExp(`^l2-fwd +fdb hit 02:42:0a:3e:00:03 -> ${l2}$`, 'm'));
    expect(known).toMatch(new RegExp(`^result +output ${l2}$`, 'm'));

    const unknown = JSON.parse(await d.ok(['trace', 'net1', '--in', c1, '--json', 'tcp', `${SUBNET}.2:1234`, '>', `${SUBNET}.99:80`, 'syn']));
    expect(unknown.frame.summary).toMatch(/> 02:42:0a:3e:00:63, .* TCP 1234 > 80 \[SYN\], 54 bytes/);
    expect(unknown.stages.find((s: { stage: string }) => s.stage === 'l2-fwd').decision).toBe('flood: fdb miss 02:42:0a:3e:00:63 (unknown unicast)');
    expect(unknown.outputs.sort()).toEqual([gateway, l2].sort());
    expect(unknown.dropped).toBe(false);

    const bcast = await d.ok(['trace', 'net1', '--in', c2, 'arp', 'who-has', `${SUBNET}.2`]);
    expect(bcast).toMatch(/ARP who-has 10\.62\.0\.2 tell 10\.62\.0\.3, 42 bytes/);
    expect(bcast).toMatch(/^l2-fwd +flood: broadcast ff:ff:ff:ff:ff:ff$/m);
    expect(bcast).toMatch(new RegExp(`^egress +flood to 2 ports: ${gateway.replace(/[()]/g, '\\$&')}, ${l1}$`, 'm'));

    // Off the subnet: the container would send it to the gateway's MAC.
    const routed = JSON.parse(await d.ok(['trace', 'net1', '--in', c1, '--json', 'udp', `${SUBNET}.2:5000`, '>', '198.18.0.1:53']));
    expect(routed.outputs).toEqual([gateway]);
    // Hex: a frame from a MAC that is not the endpoint's is dropped by port security.
    const spoofed = await d.ok(['trace', 'net1', '--in', c1, `02:42:0a:3e:00:03:02:42:0a:3e:00:77:08:00${':00'.repeat(46)}`]);
    expect(spoofed).toMatch(/^ingress +drop spoofed-src-mac: source 02:42:0a:3e:00:77 is not the port's 02:42:0a:3e:00:02$/m);
    expect(spoofed).toMatch(/^result +dropped$/m);

    const badSpec = await d.cli(['trace', 'net1', '--in', c1, 'icmp', 'from', 'here']);
    expect(badSpec.code).toBe(1);
    expect(badSpec.stderr).toMatch(/frame spec "icmp from here": .*accepted forms: icmp SRC > DST; tcp SRC:PORT > DST:PORT/);
    const badIn = await d.cli(['trace', 'net1', '--in', 'nobody', 'icmp', `${SUBNET}.2`, '>', `${SUBNET}.3`]);
    expect(badIn.stderr).toMatch(/no endpoint "nobody" on net1/);
  });
});
