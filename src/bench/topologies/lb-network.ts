/**
 * The load-balancer family's topology, all on one tsnet-switch network of a `tsnet-switch daemon` of
 * its own (built through its API as a user would: network create, connect, lb add-service,
 * lb add-server), shared by the paths of a scenario:
 *
 *   client ─TAP─ [tsnet-switch: lb stage + L2] ─TAP─ b1, b2, b3 (backends), haproxy (a namespace)
 *
 * 10.88.0.2 the client, .11–.13 the backends, .20 HAProxy's namespace, VIP 10.88.0.100 with two
 * services in the switch's load balancer (NAT): TCP 5201 → b1 only (bulk through the VIP), TCP 7000 →
 * b1..b3 round robin (connection rate). Each backend runs an acceptor on 7000 (connection-rate.ts).
 *
 * The paths differ only in where the client connects and what else runs:
 *   direct   client → b1's own address: L2 only, the lb-tcp baseline;
 *   vip      client → the VIP: the lb stage translates;
 *   haproxy  client → HAProxy (Debian's, TCP mode, one thread, roundrobin over b1..b3) in its
 *            namespace on the same switch: the lb-cps baseline; its CPU counts HAProxy's and the
 *            switch's (which carries both of HAProxy's legs).
 * The switch's CPU is the daemon's (/proc/PID/stat).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupStack } from '../cleanup-stack.js';
import { ACCEPTOR_PORT, startAcceptor } from '../connection-rate.js';
import { findOnPath, missingToolMessage, run } from '../host-commands.js';
import { sharedPerScenario, type BenchPath, type BuildContext, type BuiltPath } from '../scenario.js';
import { IPERF_PORT } from '../traffic.js';
import { startDaemon, type BenchDaemon } from './tsnet-daemon.js';

export interface LbTopology extends BuiltPath {
  clientNs: string;
  /** b1, the bulk server, and its own address. */
  serverNs: string;
  serverIp: string;
  /** Where the client connects: b1, the VIP or HAProxy. */
  targetIp: string;
}

const CLIENT = { ip: '10.88.0.2', mac: '02:42:0a:58:00:02' };
const BACKENDS = [11, 12, 13].map((h) => ({ ip: `10.88.0.${h}`, mac: `02:42:0a:58:00:${h.toString(16).padStart(2, '0')}` }));
const HAPROXY = { ip: '10.88.0.20', mac: '02:42:0a:58:00:14' };
export const VIP = '10.88.0.100';

type Target = 'direct' | 'vip' | 'haproxy';

async function startHaproxy(cleanup: CleanupStack, ns: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-haproxy-'));
  cleanup.defer(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
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
      `  bind ${HAPROXY.ip}:${ACCEPTOR_PORT}`,
      '  default_backend b',
      'backend b',
      '  balance roundrobin',
      ...BACKENDS.map((b, i) => `  server b${i + 1} ${b.ip}:${ACCEPTOR_PORT}`),
      '',
    ].join('\n'),
  );
  // -db: foreground, no fork, so this process reaps it.
  const p = cleanup.spawn('haproxy', ['-db', '-f', cfg], { netns: ns });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listening = await run('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${ACCEPTOR_PORT}`]).catch(() => '');
    if (listening.trim()) return p.pid!;
    if (!p.running) throw new Error(`haproxy exited (${p.exitCode ?? p.exitSignal}): ${p.tail()}`);
    if (Date.now() > deadline) throw new Error(`haproxy is not listening on ${HAPROXY.ip}:${ACCEPTOR_PORT} after 10 s: ${p.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface LbBase {
  clientNs: string;
  serverNs: string;
  tag: string;
  daemon: BenchDaemon;
}

const NETWORK = 'bench-lb';

/** A new namespace connected to the network with its fixed address and MAC. */
async function addHost(ctx: BuildContext, daemon: BenchDaemon, ns: string, h: { ip: string; mac: string }): Promise<void> {
  await ctx.cleanup.netns(ns);
  await daemon.api.call('POST', `/v1/networks/${NETWORK}/connect`, { netns: ns, ip: h.ip, mac: h.mac });
}

/** The part every path shares: the daemon, the namespaces and the backends (sharedPerScenario). */
const lbBase = sharedPerScenario(buildBase);

async function buildBase(ctx: BuildContext): Promise<LbBase> {
  const hostNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-lh`);
  const daemon = await startDaemon(ctx.cleanup, hostNs);
  // internal: everything is on one segment, no gateway port.
  await daemon.api.call('POST', '/v1/networks', { name: NETWORK, subnet: '10.88.0.0/24', options: { internal: 'true' } });
  const clientNs = `tsnb-${ctx.tag}-c`;
  const backendNs = BACKENDS.map((_, i) => `tsnb-${ctx.tag}-b${i + 1}`);
  await addHost(ctx, daemon, clientNs, CLIENT);
  for (const [i, b] of BACKENDS.entries()) await addHost(ctx, daemon, backendNs[i], b);
  const service = (port: number) => ({ protocol: 'tcp', service: `${VIP}:${port}` });
  await daemon.api.call('POST', '/v1/lb/services', { ...service(IPERF_PORT), network: NETWORK, scheduler: 'rr' });
  await daemon.api.call('POST', '/v1/lb/servers', { ...service(IPERF_PORT), server: `${BACKENDS[0].ip}:${IPERF_PORT}`, method: 'nat' });
  await daemon.api.call('POST', '/v1/lb/services', { ...service(ACCEPTOR_PORT), network: NETWORK, scheduler: 'rr' });
  for (const b of BACKENDS) await daemon.api.call('POST', '/v1/lb/servers', { ...service(ACCEPTOR_PORT), server: `${b.ip}:${ACCEPTOR_PORT}`, method: 'nat' });
  for (const ns of backendNs) await startAcceptor(ctx.cleanup, ns);
  return { clientNs, serverNs: backendNs[0], tag: ctx.tag, daemon };
}

async function buildLb(ctx: BuildContext, target: Target): Promise<LbTopology> {
  const base = await lbBase(ctx);
  let haproxyPid: number | null = null;
  if (target === 'haproxy') {
    const ns = `tsnb-${base.tag}-hp`;
    await addHost(ctx, base.daemon, ns, HAPROXY);
    haproxyPid = await startHaproxy(ctx.cleanup, ns);
  }
  return {
    clientNs: base.clientNs,
    serverNs: base.serverNs,
    serverIp: BACKENDS[0].ip,
    targetIp: target === 'direct' ? BACKENDS[0].ip : target === 'vip' ? VIP : HAPROXY.ip,
    cpu: { pids: haproxyPid === null ? [base.daemon.pid] : [base.daemon.pid, haproxyPid] },
  };
}

export const lbDirectPath: BenchPath<LbTopology> = {
  id: 'direct',
  label: 'direct to the backend (tsnet-switch L2)',
  build: (ctx) => buildLb(ctx, 'direct'),
};

export const lbVipPath: BenchPath<LbTopology> = {
  id: 'vip',
  label: 'through the VIP (tsnet-switch NAT)',
  build: (ctx) => buildLb(ctx, 'vip'),
};

export const lbHaproxyPath: BenchPath<LbTopology> = {
  id: 'haproxy',
  label: 'HAProxy, TCP mode, 1 thread',
  unavailable: () => (findOnPath('haproxy') ? null : `HAProxy path skipped: ${missingToolMessage('haproxy')}`),
  build: (ctx) => buildLb(ctx, 'haproxy'),
};
