/**
 * `tsnet-switch lb ...`: virtual services in ipvsadm's shape, as thin clients of /v1/lb (lb-api.ts).
 *
 *   lb add-service  -t|-u VIP:PORT [-s rr|wrr|lc|wlc|sh|mh] [-p [TIMEOUT]] NETWORK      (ipvsadm -A)
 *   lb edit-service -t|-u VIP:PORT [-s SCHED] [-p TIMEOUT]                               (ipvsadm -E)
 *   lb del-service  -t|-u VIP:PORT                                                       (ipvsadm -D)
 *   lb add-server   -t|-u VIP:PORT -r RIP[:RPORT] [-w W] [-m|-g|-i] [-o check=...] [--dry-run]  (-a)
 *   lb edit-server  -t|-u VIP:PORT -r RIP[:RPORT] [-w W] [-m|-g|-i] [-o ...] [--dry-run]  (ipvsadm -e)
 *   lb del-server   -t|-u VIP:PORT -r RIP[:RPORT] [--graceful] [--dry-run]               (ipvsadm -d)
 *   lb ls [--stats|--rate] [-c] [--json]                                                 (ipvsadm -Ln)
 *   lb zero [-t|-u VIP:PORT]                                                             (ipvsadm -Z)
 *   lb timeout [TCP TCPFIN UDP]                                          (ipvsadm --set / -L --timeout)
 *
 * The forwarding method defaults to NAT (-m), not ipvsadm's DR: containers then need no VIP on lo.
 */
import { Command, Option } from 'commander';
import { ApiClient, DEFAULT_SOCKET, socketPathFrom } from '../control/api-client.js';
import { TsnError, type TsnErrorCode } from '../errors.js';
import { formatHostPort } from '../lb/lb-address.js';

const socketOption = () => new Option('--socket <path>', `the daemon's API socket (env TSNET_SWITCH_SOCKET; default ${DEFAULT_SOCKET})`);
const client = (o: { socket?: string }) => new ApiClient(socketPathFrom(o.socket));
const collect = (v: string, prev: string[]) => [...prev, v];

interface ServerView {
  ip: string;
  port: number;
  method: string;
  forward: string;
  weight: number;
  activeConns: number;
  inactConns: number;
  persistConns: number;
  healthy: boolean;
  draining: boolean;
  check: Record<string, unknown> | null;
  stats: Stats;
}
interface Stats {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}
interface ServiceView {
  protocol: string;
  vip: string;
  port: number;
  network: string | null;
  scheduler: string;
  persistTimeout: number;
  stats: Stats;
  servers: ServerView[];
}
interface ListView {
  timeouts: { tcp: number; tcpfin: number; udp: number };
  table: { connections: number; capacity: number; bytesPerEntry: number | null; refusedFull: number };
  services: ServiceView[];
  connections?: { protocol: string; state: string; expiresIn: number; client: string; virtual: string; server: string }[];
}

function serviceRef(o: { tcpService?: string; udpService?: string }): { protocol: 'tcp' | 'udp'; service: string } {
  if (o.tcpService !== undefined && o.udpService !== undefined) throw new TsnError('ERR_BAD_OPTION', 'give one of -t VIP:PORT (TCP) or -u VIP:PORT (UDP), not both');
  if (o.tcpService !== undefined) return { protocol: 'tcp', service: o.tcpService };
  if (o.udpService !== undefined) return { protocol: 'udp', service: o.udpService };
  throw new TsnError('ERR_BAD_OPTION', 'a service is required: -t VIP:PORT (TCP) or -u VIP:PORT (UDP)');
}

function intArg(v: string, what: string, code: TsnErrorCode = 'ERR_BAD_OPTION', accepted = 'a whole number'): number {
  if (!/^-?\d+$/.test(v)) throw new TsnError(code, `${what} ${JSON.stringify(v)}: expected ${accepted}`);
  return Number(v);
}

function persistArg(v: string | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v === true) return 300; // ipvsadm's default persistence timeout
  return intArg(String(v), '-p', 'ERR_BAD_OPTION', 'whole seconds (0: no persistence)');
}

function methodArg(o: { masquerading?: boolean; gatewaying?: boolean; ipip?: boolean }): 'nat' | 'dr' | 'tun' | undefined {
  const set = [o.masquerading && 'nat', o.gatewaying && 'dr', o.ipip && 'tun'].filter(Boolean) as ('nat' | 'dr' | 'tun')[];
  if (set.length > 1) throw new TsnError('ERR_BAD_OPTION', 'give one forwarding method: -m (NAT), -g (direct routing) or -i (IP-in-IP tunnel)');
  return set[0];
}

function withService(cmd: Command): Command {
  return cmd.option('-t, --tcp-service <vip:port>', 'a TCP virtual service').option('-u, --udp-service <vip:port>', 'a UDP virtual service');
}

function withServerOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-r, --real-server <rip[:rport]>', 'the real server (port defaults to the service port)')
    .option('-w, --weight <weight>', 'weight 0..65535 (0: no new connections)')
    .option('-m, --masquerading', 'NAT: rewrite destination address and port (default)')
    .option('-g, --gatewaying', 'direct routing: rewrite the destination MAC only (the server holds the VIP on lo)')
    .option('-i, --ipip', 'IP-in-IP tunnel to the server')
    .option('-o, --opt <check=tcp,...>', 'health check: check=tcp,interval=1s,fall=3,rise=2[,timeout=1s][,port=N] or check=none', collect, [])
    .option('--dry-run', 'say how many tracked flows the change would move, change nothing')
    .option('--json', 'print JSON')
    .addOption(socketOption());
}

function pad(s: string | number, n: number): string {
  return String(s).padEnd(n);
}
function num(s: string | number, n: number): string {
  return String(s).padStart(n);
}

/** Compact counts as ipvsadm prints them: 1234, 12345K, 1234M. */
function human(n: number): string {
  if (n < 100000) return String(Math.round(n));
  if (n < 100000 * 1000) return `${Math.round(n / 1000)}K`;
  if (n < 100000 * 1e6) return `${Math.round(n / 1e6)}M`;
  return `${Math.round(n / 1e9)}G`;
}

function flags(s: ServiceView): string {
  return [s.scheduler, s.persistTimeout ? `persistent ${s.persistTimeout}` : '', s.network ? `(network ${s.network})` : ''].filter(Boolean).join(' ');
}

function serverState(r: ServerView): string {
  return [r.draining ? 'draining' : '', r.healthy ? '' : 'down'].filter(Boolean).join(',');
}

export function formatLbList(v: ListView, mode: 'plain' | 'stats' | 'rate'): string {
  const lines = [`IP Virtual Server (tsnet-switch) (size=${v.table.capacity}, connections=${v.table.connections}${v.table.refusedFull ? `, refused full=${v.table.refusedFull}` : ''})`];
  const svcAddr = (s: ServiceView) => `${s.protocol.toUpperCase()}  ${formatHostPort(s.vip, s.port)}`;
  if (mode === 'plain') {
    lines.push('Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn');
    for (const s of v.services) {
      lines.push(`${svcAddr(s)} ${flags(s)}`);
      for (const r of s.servers) {
        lines.push(`  -> ${pad(formatHostPort(r.ip, r.port), 28)} ${pad(r.forward, 7)} ${pad(r.weight, 6)} ${pad(r.activeConns, 10)} ${r.inactConns}${serverState(r) ? `  ${serverState(r)}` : ''}`.trimEnd());
      }
    }
  } else {
    const cols = mode === 'stats' ? ['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'] : ['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'];
    const vals = (st: Stats) => (mode === 'stats' ? [st.conns, st.inPkts, st.outPkts, st.inBytes, st.outBytes] : [st.cps, st.inPps, st.outPps, st.inBps, st.outBps]);
    lines.push(`Prot LocalAddress:Port            ${cols.map((c) => num(c, 8)).join(' ')}`, '  -> RemoteAddress:Port');
    for (const s of v.services) {
      lines.push(`${pad(svcAddr(s), 33)}${vals(s.stats).map((x) => num(human(x), 8)).join(' ')}`);
      for (const r of s.servers) lines.push(`  -> ${pad(formatHostPort(r.ip, r.port), 29)}${vals(r.stats).map((x) => num(human(x), 8)).join(' ')}`);
    }
  }
  if (v.connections) {
    lines.push('', 'IPVS connection entries', 'pro expire state       source                virtual               destination');
    for (const c of v.connections) {
      const mm = `${String(Math.floor(c.expiresIn / 60)).padStart(2, '0')}:${String(c.expiresIn % 60).padStart(2, '0')}`;
      lines.push(`${pad(c.protocol.toUpperCase(), 3)} ${pad(mm, 6)} ${pad(c.state, 11)} ${pad(c.client, 21)} ${pad(c.virtual, 21)} ${c.server}`);
    }
  }
  return lines.join('\n');
}

export function registerLbCommands(program: Command): void {
  const lb = program.command('lb').description('L4 load balancer: virtual services and real servers (ipvsadm\'s shape)');

  withService(lb.command('add-service'))
    .description('add a virtual service VIP:PORT on a network (the switch answers ARP for the VIP)')
    .argument('<network>')
    .option('-s, --scheduler <name>', 'rr|wrr|lc|wlc|sh|mh', 'wlc')
    .option('-p, --persistent [timeout]', 'persistence by client address, seconds (default 300)')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (network: string, o) => {
      const body = { ...serviceRef(o), network, scheduler: o.scheduler, persistTimeout: persistArg(o.persistent) };
      const r = await client(o).call<ServiceView>('POST', '/v1/lb/services', body);
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r.protocol.toUpperCase()} ${formatHostPort(r.vip, r.port)} ${flags(r)}`);
    });

  withService(lb.command('edit-service'))
    .description('change a service\'s scheduler or persistence')
    .option('-s, --scheduler <name>', 'rr|wrr|lc|wlc|sh|mh')
    .option('-p, --persistent [timeout]', 'persistence timeout in seconds (0: off)')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const body = { ...serviceRef(o), scheduler: o.scheduler, persistTimeout: persistArg(o.persistent) };
      const r = await client(o).call<ServiceView>('POST', '/v1/lb/services/edit', body);
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r.protocol.toUpperCase()} ${formatHostPort(r.vip, r.port)} ${flags(r)}`);
    });

  withService(lb.command('del-service'))
    .description('remove a service, its real servers and its connections')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const r = await client(o).call<{ removed: string }>('POST', '/v1/lb/services/delete', serviceRef(o));
      console.log(o.json ? JSON.stringify(r, null, 2) : r.removed);
    });

  const serverBody = (o: Record<string, unknown>) => ({
    ...serviceRef(o),
    server: o.realServer as string,
    weight: o.weight !== undefined ? intArg(String(o.weight), 'weight', 'ERR_LB_BAD_WEIGHT', 'a whole number from 0 to 65535') : undefined,
    method: methodArg(o),
    options: (o.opt as string[]).length ? (o.opt as string[]) : undefined,
    dryRun: o.dryRun ? true : undefined,
  });
  const printServerResult = (o: { json?: boolean }, r: Record<string, unknown>) => {
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else if (r.dryRun) console.log(`dry run, nothing changed: ${r.detail}`);
    else console.log(`${String(r.protocol).toUpperCase()} ${formatHostPort(String(r.vip), Number(r.port))}: ${(r.servers as ServerView[]).map((s) => `${formatHostPort(s.ip, s.port)} ${s.forward} w${s.weight}`).join(', ')}`);
  };

  withServerOptions(withService(lb.command('add-server')))
    .description('add a real server to a service')
    .action(async (o) => {
      const body = serverBody(o);
      printServerResult(o, await client(o).call('POST', '/v1/lb/servers', { ...body, method: body.method ?? 'nat' }));
    });

  withServerOptions(withService(lb.command('edit-server')))
    .description('change a real server\'s weight, method or health check')
    .action(async (o) => {
      printServerResult(o, await client(o).call('POST', '/v1/lb/servers/edit', serverBody(o)));
    });

  withService(lb.command('del-server'))
    .description('remove a real server (its connections go), or --graceful: drain it, and wait until it is gone')
    .requiredOption('-r, --real-server <rip[:rport]>', 'the real server')
    .option('--graceful', 'no new connections; wait for existing ones to end')
    .option('--wait-timeout <seconds>', 'with --graceful: stop waiting after this long (the server keeps draining)')
    .option('--dry-run', 'say how many tracked flows the removal would move, change nothing')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const api = client(o);
      const ref = serviceRef(o);
      const r = await api.call<Record<string, unknown>>('POST', '/v1/lb/servers/delete', { ...ref, server: o.realServer, graceful: o.graceful ? true : undefined, dryRun: o.dryRun ? true : undefined });
      if (r.dryRun) return printServerResult(o, r);
      if (!r.draining) {
        console.log(o.json ? JSON.stringify(r, null, 2) : `${r.server} removed from ${r.service}${r.flushed ? ` (${r.flushed} connections flushed)` : ''}`);
        return;
      }
      const deadline = o.waitTimeout !== undefined ? Date.now() + intArg(o.waitTimeout, '--wait-timeout', 'ERR_BAD_OPTION', 'whole seconds') * 1000 : Infinity;
      let last = -1;
      for (;;) {
        const v = await api.call<ListView>('GET', '/v1/lb');
        const svc = v.services.find((s) => s.protocol === ref.protocol && formatHostPort(s.vip, s.port) === String(r.service).split(' ')[1]);
        const rs = svc?.servers.find((s) => formatHostPort(s.ip, s.port) === r.server);
        if (!rs) break;
        const left = rs.activeConns + rs.inactConns;
        if (left !== last && !o.json) process.stderr.write(`draining ${r.server}: ${rs.activeConns} active, ${rs.inactConns} inactive connections\n`);
        last = left;
        if (Date.now() > deadline) throw new TsnError('ERR_TIMEOUT', `${r.server} is still draining after --wait-timeout ${o.waitTimeout}s (${left} connections); it goes by itself when they end`);
        await new Promise((res) => setTimeout(res, 500));
      }
      console.log(o.json ? JSON.stringify({ ...r, removed: true, draining: false }, null, 2) : `${r.server} drained and removed from ${r.service}`);
    });

  lb.command('ls')
    .alias('list')
    .description('list services and real servers, like ipvsadm -Ln')
    .option('--stats', 'packet and byte counters')
    .option('--rate', 'rates (per second, over the last second)')
    .option('-c, --connections', 'the connection table')
    .option('-n, --numeric', 'numeric output (always; accepted for ipvsadm habits)')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      if (o.stats && o.rate) throw new TsnError('ERR_BAD_OPTION', 'give one of --stats or --rate');
      const v = await client(o).call<ListView>('GET', `/v1/lb${o.connections ? '?connections=1' : ''}`);
      console.log(o.json ? JSON.stringify(v, null, 2) : formatLbList(v, o.stats ? 'stats' : o.rate ? 'rate' : 'plain'));
    });

  withService(lb.command('zero'))
    .description('zero the counters of one service, or of all')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const ref = o.tcpService !== undefined || o.udpService !== undefined ? serviceRef(o) : {};
      const r = await client(o).call<{ zeroed: string }>('POST', '/v1/lb/zero', ref);
      console.log(o.json ? JSON.stringify(r, null, 2) : `zeroed ${r.zeroed}`);
    });

  lb.command('timeout')
    .description('show, or set, the TCP / TCP FIN / UDP timeouts in seconds (0 keeps a value), like ipvsadm --set')
    .argument('[values...]', 'TCP TCPFIN UDP')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (values: string[], o) => {
      let t: { tcp: number; tcpfin: number; udp: number };
      if (values.length === 0) t = (await client(o).call<ListView>('GET', '/v1/lb')).timeouts;
      else {
        if (values.length !== 3) throw new TsnError('ERR_BAD_OPTION', `lb timeout ${values.join(' ')}: expected three values TCP TCPFIN UDP in seconds (0 keeps a value)`);
        const [tcp, tcpfin, udp] = values.map((v, i) => intArg(v, ['tcp', 'tcpfin', 'udp'][i] + ' timeout', 'ERR_BAD_OPTION', 'whole seconds'));
        t = await client(o).call('POST', '/v1/lb/timeout', { tcp, tcpfin, udp });
      }
      console.log(o.json ? JSON.stringify(t, null, 2) : `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpfin} ${t.udp}`);
    });
}
