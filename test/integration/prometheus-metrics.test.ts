/**
 * `daemon --metrics-listen`: the real /metrics of a daemon with a bridge network (two containers
 * pinging), a virtual service and an overlay network passes Debian's `promtool check metrics`, and a
 * real Prometheus (its own data dir, config and web port, on the loopback of the test's "host"
 * namespace) scrapes it while traffic flows and answers a rate() query for a port with a non-zero
 * value. A bad --metrics-listen is refused naming the value; one that cannot be bound stops the start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, daemonWithSandboxes } from '../helpers/daemon.js';
import { kill, nsExec, nsSpawn, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping Prometheus metrics tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const METRICS_PORT = 9477; // the test's own namespace: its loopback is private, so fixed ports cannot collide
const PROMETHEUS_PORT = 9090;

/** GET a URL from inside `ns` (curl): status line and headers, then the body. */
async function httpGet(ns: string, url: string): Promise<{ headers: string; body: string }> {
  const out = await nsExec(ns, 'curl', ['-sS', '-D', '-', '--max-time', '10', url]);
  const i = out.indexOf('\r\n\r\n');
  return { headers: out.slice(0, i), body: out.slice(i + 4) };
}

/** The value of one sample in exposition text, or null when it is not there. */
function sample(text: string, name: string, labels: Record<string, string>): number | null {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const line = text.split('\n').find((l) => l.startsWith(`${want} `));
  return line === undefined ? null : Number(line.slice(want.length + 1));
}

/** `promtool check metrics` on `text` (stdin): its exit code and what it printed. */
function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d) => (output += d));
    p.stderr.on('data', (d) => (output += d));
    p.on('close', (code) => resolve({ code: code ?? -1, output }));
    p.stdin.end(text);
  });
}

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
    child.kill('SIGTERM');
  });
}

describe.skipIf(skip !== null)('Prometheus metrics', () => {
  it('the real /metrics passes promtool, and a real Prometheus scrapes it and sees a port\'s receive rate', async () => {
    const { d, ns } = await daemonWithSandboxes(3, ['--metrics-listen', `127.0.0.1:${METRICS_PORT}`], (f) => cleanup.push(f));
    expect(d.log).toContain(`metrics on http://127.0.0.1:${METRICS_PORT}/metrics`);
    await d.ok(['network', 'create', '--subnet', '10.71.0.0/24', 'm1']);
    const c1 = JSON.parse(await d.ok(['connect', 'm1', '--netns', ns[0], '--ip', '10.71.0.2', '--json'])) as { id: string };
    await d.ok(['connect', 'm1', '--netns', ns[1], '--ip', '10.71.0.3']);
    await d.ok(['lb', 'add-service', '-t', '10.71.0.100:80', '-s', 'rr', 'm1']);
    await d.ok(['lb', 'add-server', '-t', '10.71.0.100:80', '-r', '10.71.0.3:8080']);
    // An overlay whose one peer is nowhere: its flood still leaves as VXLAN datagrams on the underlay (a veth).
    await sh('ip', ['-n', d.hostNs, 'link', 'add', 'tsnu0', 'type', 'veth', 'peer', 'name', 'tsnu1']);
    await sh('ip', ['-n', d.hostNs, 'addr', 'add', '198.18.7.1/24', 'dev', 'tsnu0']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'tsnu1', 'up']);
    await sh('ip', ['-n', d.hostNs, 'link', 'set', 'tsnu0', 'up']);
    await d.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.72.0.0/24', '-o', 'vni=77', '-o', 'vtep=198.18.7.1', '-o', 'peers=198.18.7.2', 'ov']);
    await d.ok(['connect', 'ov', '--netns', ns[2], '--ip', '10.72.0.2']);
    await nsExec(ns[0], 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.71.0.3']);
    await nsExec(ns[2], 'ping', ['-c', '1', '-W', '1', '10.72.0.9']).catch(() => undefined); // no answer: ARP floods to the peer
    // A SYN to the VIP on a port with no service: the lb stage drops it (lb-no-service), counted on the stage too.
    await nsExec(ns[0], 'curl', ['-s', '--max-time', '1', 'http://10.71.0.100:81/']).catch(() => undefined);

    const stats = JSON.parse(await d.ok(['stats', '--json'])) as { ports: { network: string; port: string; endpoint: string | null; rxPackets: number }[]; engine: { stageDrops: Record<string, Record<string, number>> } };
    const noService = stats.engine.stageDrops.lb['lb-no-service'];
    expect(noService).toBeGreaterThanOrEqual(1);
    expect(stats.engine.stageDrops['l2-fwd']).toEqual({});
    const c1Port = stats.ports.find((p) => p.endpoint === c1.id)!.port;
    const { headers, body } = await httpGet(d.hostNs, `http://127.0.0.1:${METRICS_PORT}/metrics`);
    expect(headers).toMatch(/^HTTP\/1\.1 200/);
    expect(headers.toLowerCase()).toContain('content-type: text/plain; version=0.0.4; charset=utf-8');
    // The same counters as stats (pings may have moved them on since, never back).
    expect(sample(body, 'tsnet_port_receive_packets_total', { network: 'm1', port: c1Port })).toBeGreaterThanOrEqual(stats.ports.find((p) => p.endpoint === c1.id)!.rxPackets);
    expect(sample(body, 'tsnet_port_receive_packets_total', { network: 'm1', port: c1Port })).toBeGreaterThanOrEqual(3);
    expect(sample(body, 'tsnet_port_transmit_bytes_total', { network: 'm1', port: c1Port })).toBeGreaterThan(0);
    expect(sample(body, 'tsnet_fdb_entries', { network: 'm1' })).toBeGreaterThanOrEqual(2);
    expect(sample(body, 'tsnet_network_endpoints', { network: 'm1' })).toBe(2);
    expect(sample(body, 'tsnet_lb_connections', { service: 'TCP 10.71.0.100:80', state: 'active' })).toBe(0);
    expect(sample(body, 'tsnet_lb_server_weight', { service: 'TCP 10.71.0.100:80', server: '10.71.0.3:8080' })).toBe(1);
    expect(sample(body, 'tsnet_vxlan_datagrams_sent_total', { network: 'ov' })).toBeGreaterThan(0);
    expect(sample(body, 'tsnet_vxlan_peers', { network: 'ov' })).toBe(1);
    expect(sample(body, 'tsnet_stage_drops_total', { stage: 'lb', reason: 'lb-no-service' })).toBeGreaterThanOrEqual(noService);
    expect(sample(body, 'tsnet_vxlan_receive_packets_total', { vtep: '198.18.7.1:4789' })).toBe(0);
    expect(body).toMatch(/^tsnet_build_info\{version="\d+\.\d+\.\d+[^"]*",nodejs="\d+\.\d+\.\d+"\} 1$/m);
    expect(body).toMatch(/^process_resident_memory_bytes \d+$/m);
    // No label carries a MAC or a flow.
    expect(body).not.toMatch(/="[^"]*\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b[^"]*"/i);
    expect(body).not.toMatch(/\b(mac|client|flow)="/);

    const lint = await promtoolCheck(body);
    expect(lint, lint.output).toEqual({ code: 0, output: '' });

    // Only GET /metrics is served.
    expect((await httpGet(d.hostNs, `http://127.0.0.1:${METRICS_PORT}/v1/networks`)).headers).toMatch(/^HTTP\/1\.1 404/);

    // A real Prometheus, scraping every second.
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-prom-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: tsnet', '    static_configs:', `      - targets: ['127.0.0.1:${METRICS_PORT}']`, ''].join('\n'),
    );
    const prom = nsSpawn(d.hostNs, 'prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`, '--log.level=warn']);
    let promLog = '';
    prom.stdout!.on('data', (x) => (promLog += x));
    prom.stderr!.on('data', (x) => (promLog += x));
    const ping = nsSpawn(ns[0], 'ping', ['-c', '300', '-i', '0.1', '-W', '1', '10.71.0.3']);
    try {
      const query = async (q: string) => {
        const out = await nsExec(d.hostNs, 'curl', ['-sS', '--max-time', '5', '--get', '--data-urlencode', `query=${q}`, `http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/query`]);
        const r = JSON.parse(out) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
        expect(r.status).toBe('success');
        return r.data.result;
      };
      const rateQuery = `rate(tsnet_port_receive_packets_total{network="m1",port="${c1Port}"}[5s])`;
      let rate = 0;
      let up: string | null = null;
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        if (prom.exitCode !== null) throw new Error(`prometheus exited ${prom.exitCode}: ${promLog}`);
        const got = await query(rateQuery).catch(() => []);
        if (got.length === 1) {
          rate = Number(got[0].value[1]);
          up = (await query('up{job="tsnet"}'))[0]?.value[1] ?? null;
          if (rate > 0) break;
        }
      }
      expect(up, promLog).toBe('1');
      // ping -i 0.1: about 10 echo requests a second (and an ARP now and then) enter the switch from c1.
      expect(rate, promLog).toBeGreaterThan(2);
      expect(rate).toBeLessThan(50);
    } finally {
      kill(ping);
      await waitExit(prom);
    }
    expect(prom.exitCode ?? prom.signalCode).not.toBeNull();
  }, 120_000);

  it('a bad --metrics-listen is refused naming it; an address the host does not have stops the start', async () => {
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    await d.kill('SIGTERM');
    const run = (listen: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn('ip', ['netns', 'exec', d.hostNs, process.execPath, CLI, 'daemon', '--state-dir', d.stateDir, '--socket', d.socket, '--docker-plugin', 'off', '--metrics-listen', listen], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (x) => (stderr += x));
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('close', (code) => {
          clearTimeout(t);
          resolve({ code: code ?? -1, stderr });
        });
      });
    let r = await run('127.0.0.1:99999');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--metrics-listen "127.0.0.1:99999": port 99999 is over 65535; expected HOST:PORT');
    r = await run('9477');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--metrics-listen "9477": not HOST:PORT');
    r = await run('10.99.99.99:9477');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--metrics-listen 10.99.99.99:9477: cannot listen there (EADDRNOTAVAIL: no interface of this host has that address)');
    expect(existsSync(d.socket)).toBe(false); // the API socket it had opened is closed again
    // The daemon starts fine afterwards on the same state (the failed start released its lock).
    await d.start();
    expect(await d.ok(['network', 'ls', '--json'])).toBe('[]\n');
  }, 60_000);
});
