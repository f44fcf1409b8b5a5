/**
 * The load balancer end to end: a daemon (built CLI) in its own host namespace, a bridge network made
 * with the CLI, three real HTTP/TCP/UDP backends and two clients in namespaces, VIPs on the network.
 * rr gives an exact spread, wrr follows weights, sh and mh are stable per client and mh moves only the
 * removed server's clients; connections survive unrelated server changes; UDP; DR (VIP on lo); TUN
 * (IP-in-IP read by a raw socket in the real server); health checks; graceful removal; persistence;
 * counters; bad input; and a kill -9 / restart that keeps the services.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, type TestDaemon } from '../helpers/daemon.js';
import { curlMany, LineClient, startBackend, tally, udpMany } from '../helpers/lb-backends.js';
import { addNetns, delNetns, kill, nsExec, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping load balancer integration tests: ${skip}`);

const NET = 'lbnet';
const P = '10.171.0';
const BACKENDS = ['b1', 'b2', 'b3'];
const RIPS = [`${P}.11`, `${P}.12`, `${P}.13`];
const C1 = `${P}.2`;
const C2 = `${P}.3`;

let d: TestDaemon;
let ns: string[] = [];
const backends: (ChildProcess | undefined)[] = [];
const teardowns: (() => Promise<void>)[] = [];
let client1: string;
let client2: string;

interface LsJson {
  services: { protocol: string; vip: string; port: number; scheduler: string; stats: { conns: number; inPkts: number; outPkts: number; inBytes: number; outBytes: number }; servers: { ip: string; port: number; weight: number; activeConns: number; inactConns: number; healthy: boolean; draining: boolean; forward: string }[] }[];
  table: { connections: number; capacity: number; bytesPerEntry: number };
  timeouts: { tcp: number; tcpfin: number; udp: number };
  connections?: { protocol: string; state: string; client: string; virtual: string; server: string }[];
}

async function ls(extra: string[] = []): Promise<LsJson> {
  return JSON.parse(await d.ok(['lb', 'ls', '--json', ...extra]));
}

async function addService(vip: string, sched: string, servers: { ip: string; extra?: string[] }[], proto = '-t', port = 80, rport = 8080): Promise<void> {
  await d.ok(['lb', 'add-service', proto, `${vip}:${port}`, '-s', sched, NET]);
  for (const s of servers) await d.ok(['lb', 'add-server', proto, `${vip}:${port}`, '-r', `${s.ip}:${rport}`, ...(s.extra ?? [])]);
}

describe.skipIf(skip !== null)('load balancer through the daemon', () => {
  beforeAll(async () => {
    const r = await daemonWithSandboxes(5, [], (f) => teardowns.push(f));
    d = r.d;
    ns = r.ns;
    client1 = ns[3];
    client2 = ns[4];
    await d.ok(['network', 'create', '--subnet', `${P}.0/24`, NET]);
    for (let i = 0; i < 3; i++) await d.ok(['connect', NET, '--netns', ns[i], '--ip', RIPS[i]]);
    await d.ok(['connect', NET, '--netns', client1, '--ip', C1]);
    await d.ok(['connect', NET, '--netns', client2, '--ip', C2]);
    for (let i = 0; i < 3; i++) backends[i] = await startBackend(ns[i], BACKENDS[i]);
  }, 120_000);

  afterAll(async () => {
    for (const b of backends) kill(b);
    for (const f of teardowns.reverse()) await f().catch(() => undefined);
  });

  it('rr: an exact spread over three HTTP backends, shown by lb ls like ipvsadm -Ln, with counters', async () => {
    const vip = `${P}.100`;
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip })));
    const bodies = await curlMany(client1, `http://${vip}/`, 30);
    expect(tally(bodies)).toEqual({ b1: 10, b2: 10, b3: 10 });
    // ping to the VIP is answered by the switch, as IPVS's director answers it.
    expect(await nsExec(client1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', vip])).toContain('2 received');
    const text = await d.ok(['lb', 'ls']);
    expect(text).toContain('Prot LocalAddress:Port Scheduler Flags');
    expect(text).toMatch(new RegExp(`TCP  ${vip.replace(/\./g, '\\.')}:80 rr \\(network ${NET}\\)`));
    expect(text).toMatch(new RegExp(`-> ${RIPS[0].replace(/\./g, '\\.')}:8080\\s+Masq\\s+1\\s+0\\s+10`));
    const j = await ls();
    const svc = j.services.find((s) => s.vip === vip)!;
    expect(svc.stats.conns).toBe(30);
    expect(svc.stats.inPkts).toBeGreaterThanOrEqual(30 * 4);
    expect(svc.stats.outPkts).toBeGreaterThanOrEqual(30 * 3);
    expect(svc.stats.outBytes).toBeGreaterThan(0);
    expect(j.table.bytesPerEntry).toBeLessThan(64);
    const stats = await d.ok(['lb', 'ls', '--stats']);
    expect(stats).toMatch(/Conns\s+InPkts\s+OutPkts\s+InBytes\s+OutBytes/);
    const conns = await ls(['-c']);
    expect(conns.connections!.filter((c) => c.virtual === `${vip}:80`).length).toBe(30);
    expect(conns.connections!.every((c) => ['TIME_WAIT', 'FIN_WAIT', 'CLOSE'].includes(c.state))).toBe(true);
    const ctext = await d.ok(['lb', 'ls', '-c']);
    expect(ctext).toMatch(new RegExp(`TCP\\s+\\d\\d:\\d\\d\\s+(TIME_WAIT|FIN_WAIT|CLOSE)\\s+${C1.replace(/\./g, '\\.')}:\\d+\\s+${vip.replace(/\./g, '\\.')}:80\\s+10\\.171\\.0\\.1[123]:8080`));
    await d.ok(['lb', 'zero']);
    expect((await ls()).services.find((s) => s.vip === vip)!.stats.conns).toBe(0);
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('wrr follows the weights; weight 0 drains', async () => {
    const vip = `${P}.101`;
    await addService(vip, 'wrr', [
      { ip: RIPS[0], extra: ['-w', '3'] },
      { ip: RIPS[1], extra: ['-w', '2'] },
      { ip: RIPS[2], extra: ['-w', '1'] },
    ]);
    expect(tally(await curlMany(client1, `http://${vip}/`, 30))).toEqual({ b1: 15, b2: 10, b3: 5 });
    await d.ok(['lb', 'edit-server', '-t', `${vip}:80`, '-r', `${RIPS[0]}:8080`, '-w', '0']);
    expect(tally(await curlMany(client1, `http://${vip}/`, 12))).toEqual({ b2: 8, b3: 4 });
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('sh is stable per client; mh is stable and a removal moves only the removed server\'s clients', async () => {
    const vip = `${P}.102`;
    await addService(vip, 'sh', RIPS.map((ip) => ({ ip })));
    const a = await curlMany(client1, `http://${vip}/`, 8);
    const b = await curlMany(client2, `http://${vip}/`, 8);
    expect(new Set(a).size).toBe(1);
    expect(new Set(b).size).toBe(1);
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);

    // Twenty client addresses on client1 (port security checks the MAC, not the source address).
    const extra = Array.from({ length: 20 }, (_, i) => `${P}.${200 + i}`);
    for (const ip of extra) await sh('ip', ['-n', client1, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    const vip2 = `${P}.103`;
    await addService(vip2, 'mh', RIPS.map((ip) => ({ ip })));
    const before: string[] = [];
    for (const ip of extra) {
      const r = await curlMany(client1, `http://${vip2}/`, 2, ip);
      expect(r[0]).toBe(r[1]);
      before.push(r[0]);
    }
    expect(new Set(before).size).toBeGreaterThan(1);
    // The dry run tells how many tracked flows would move, and changes nothing.
    const dry = JSON.parse(await d.ok(['lb', 'del-server', '-t', `${vip2}:80`, '-r', `${RIPS[2]}:8080`, '--dry-run', '--json']));
    expect(dry.trackedFlows).toBe(40);
    expect(dry.movedFlows).toBe(2 * before.filter((x) => x === 'b3').length);
    expect((await ls()).services.find((s) => s.vip === vip2)!.servers).toHaveLength(3);
    await d.ok(['lb', 'del-server', '-t', `${vip2}:80`, '-r', `${RIPS[2]}:8080`]);
    for (let i = 0; i < extra.length; i++) {
      const [now] = await curlMany(client1, `http://${vip2}/`, 1, extra[i]);
      if (before[i] !== 'b3') expect(now, `client ${extra[i]} was on ${before[i]}`).toBe(before[i]);
      else expect(['b1', 'b2']).toContain(now);
    }
    // Re-adding the server: its former clients come back; it starts with no stale entries.
    await d.ok(['lb', 'add-server', '-t', `${vip2}:80`, '-r', `${RIPS[2]}:8080`]);
    const again = [];
    for (const ip of extra) again.push((await curlMany(client1, `http://${vip2}/`, 1, ip))[0]);
    expect(again).toEqual(before);
    for (const ip of extra) await sh('ip', ['-n', client1, 'addr', 'del', `${ip}/24`, 'dev', 'eth0']);
    await d.ok(['lb', 'del-service', '-t', `${vip2}:80`]);
  });

  it('an established connection survives unrelated server changes; a removed server gets nothing more', async () => {
    const vip = `${P}.104`;
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip })), '-t', 9000, 9000);
    const conn = new LineClient(client1, vip, 9000);
    try {
      const first = await conn.ask('hello');
      expect(first).toMatch(/^b[123]:hello$/);
      const mine = first.split(':')[0];
      const mineIp = RIPS[BACKENDS.indexOf(mine)];
      const others = RIPS.filter((ip) => ip !== mineIp);
      await d.ok(['lb', 'edit-server', '-t', `${vip}:9000`, '-r', `${others[0]}:9000`, '-w', '5']);
      await d.ok(['lb', 'del-server', '-t', `${vip}:9000`, '-r', `${others[1]}:9000`]);
      await d.ok(['lb', 'edit-service', '-t', `${vip}:9000`, '-s', 'wlc']);
      await d.ok(['lb', 'add-server', '-t', `${vip}:9000`, '-r', `${others[1]}:9000`, '-w', '2']);
      expect(await conn.ask('still')).toBe(`${mine}:still`);
      // Now remove the connection's own server: its entry goes with it; nothing reaches it any more.
      await d.ok(['lb', 'del-server', '-t', `${vip}:9000`, '-r', `${mineIp}:9000`]);
      expect(await conn.ask('after')).not.toBe(`${mine}:after`);
      const j = await ls();
      expect(j.services.find((s) => s.vip === vip)!.servers.map((s) => s.ip)).not.toContain(mineIp);
    } finally {
      conn.close();
    }
    await d.ok(['lb', 'del-service', '-t', `${vip}:9000`]);
  });

  it('del-server --graceful drains: no new connections, the open one continues, then the server goes', async () => {
    const vip = `${P}.105`;
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip })), '-t', 9000, 9000);
    const conn = new LineClient(client1, vip, 9000);
    try {
      const first = await conn.ask('x');
      const mine = first.split(':')[0];
      const mineIp = RIPS[BACKENDS.indexOf(mine)];
      const del = d.cli(['lb', 'del-server', '-t', `${vip}:9000`, '-r', `${mineIp}:9000`, '--graceful']);
      await new Promise((r) => setTimeout(r, 800));
      const j = await ls();
      expect(j.services.find((s) => s.vip === vip)!.servers.find((s) => s.ip === mineIp)!.draining).toBe(true);
      expect(await conn.ask('y')).toBe(`${mine}:y`);
      const others = await Promise.all([0, 1, 2, 3].map(async () => (await new LineClientOnce(client2, vip).ask()).split(':')[0]));
      expect(others).not.toContain(mine);
      conn.close();
      const r = await del;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/drained and removed/);
      expect(r.stderr).toMatch(/draining .*: 1 active/);
    } finally {
      conn.close();
    }
    await d.ok(['lb', 'del-service', '-t', `${vip}:9000`]);
  });

  it('an address reused by another container does not inherit the old server\'s connections', async () => {
    const vip = `${P}.113`;
    const rip = `${P}.14`;
    const [s1, s2] = [`tsnt-${uniqueTag()}-s1`, `tsnt-${uniqueTag()}-s2`];
    let b1: ChildProcess | undefined;
    let b2: ChildProcess | undefined;
    const conn = { c: null as LineClient | null };
    try {
      await addNetns(s1);
      await addNetns(s2);
      await d.ok(['connect', NET, '--netns', s1, '--ip', rip]);
      b1 = await startBackend(s1, 'old');
      await addService(vip, 'rr', [{ ip: rip }], '-t', 9000, 9000);
      conn.c = new LineClient(client1, vip, 9000);
      expect(await conn.c.ask('hi')).toBe('old:hi');
      await d.ok(['disconnect', NET, s1]);
      await d.ok(['connect', NET, '--netns', s2, '--ip', rip, '--mac', '02:42:0a:ab:00:e1']);
      b2 = await startBackend(s2, 'new');
      // The old flow's entry went with the old MAC: its next segment reaches nobody, least of all "new".
      const late = await conn.c.ask('late');
      expect(late).not.toMatch(/^new:/);
      expect(await new LineClientOnce(client2, vip).ask()).toBe('new:q');
      expect(d.log).toMatch(/real server 10\.171\.0\.14:9000: MAC 02:42:0a:ab:00:0e -> unknown; its connections are flushed/);
    } finally {
      conn.c?.close();
      kill(b1);
      kill(b2);
      await d.cli(['lb', 'del-service', '-t', `${vip}:9000`]);
      await d.cli(['disconnect', NET, s2]);
      await delNetns(s1);
      await delNetns(s2);
    }
  });

  it('UDP service: datagrams spread round robin and answers come back from the VIP', async () => {
    const vip = `${P}.106`;
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip })), '-u', 53, 5353);
    expect(tally(await udpMany(client1, vip, 53, 6))).toEqual({ b1: 2, b2: 2, b3: 2 });
    const j = await ls(['-c']);
    expect(j.connections!.filter((c) => c.protocol === 'udp' && c.virtual === `${vip}:53`).every((c) => c.state === 'UDP')).toBe(true);
    await d.ok(['lb', 'del-service', '-u', `${vip}:53`]);
  });

  it('DR: only the MAC changes; real servers hold the VIP on lo and answer the client directly', async () => {
    const vip = `${P}.107`;
    for (const n of ns.slice(0, 3)) {
      await nsExec(n, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
      await sh('ip', ['-n', n, 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
    }
    try {
      await d.ok(['lb', 'add-service', '-t', `${vip}:80`, '-s', 'rr', NET]);
      for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `${vip}:80`, '-r', ip, '-g']);
      expect(tally(await curlMany(client1, `http://${vip}/`, 9))).toEqual({ b1: 3, b2: 3, b3: 3 });
      const svc = (await ls()).services.find((s) => s.vip === vip)!;
      expect(svc.servers.every((s) => s.forward === 'Route')).toBe(true);
      expect(svc.stats.inPkts).toBeGreaterThan(0);
      expect(svc.stats.outPkts).toBe(0); // replies bypass the switch's LB
      await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
    } finally {
      for (const n of ns.slice(0, 3)) await sh('ip', ['-n', n, 'addr', 'del', `${vip}/32`, 'dev', 'lo']).catch(() => undefined);
    }
  });

  it('TUN: the real server receives IP-in-IP, outer VIP -> RIP, inner the client\'s SYN to the VIP', async () => {
    const vip = `${P}.108`;
    await d.ok(['lb', 'add-service', '-t', `${vip}:80`, '-s', 'rr', NET]);
    await d.ok(['lb', 'add-server', '-t', `${vip}:80`, '-r', RIPS[0], '-i']);
    const listen = nsExec(ns[0], 'python3', ['-c', 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_RAW,4);s.settimeout(8);print(s.recv(4000)[:60].hex())'], { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    await curlMany(client1, `http://${vip}/`, 1).catch(() => undefined);
    const hex = (await listen).trim();
    const b = Buffer.from(hex, 'hex');
    expect(b[9]).toBe(4); // outer protocol: IP-in-IP
    expect([...b.subarray(12, 20)].join('.')).toBe(`${vip}.${RIPS[0]}`.split('.').join('.'));
    expect(b[20] >> 4).toBe(4);
    expect(b[29]).toBe(6);
    expect([...b.subarray(32, 40)].join('.')).toBe(`${C1}.${vip}`);
    expect(b.readUInt16BE(42)).toBe(80);
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('health checks: a backend that stops answering gets no new connections until it is back', async () => {
    const vip = `${P}.109`;
    const check = ['-o', 'check=tcp,interval=200ms,timeout=200ms,fall=2,rise=2'];
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip, extra: check })));
    kill(backends[2]);
    backends[2] = undefined;
    const deadline = Date.now() + 8000;
    let down = false;
    while (!down && Date.now() < deadline) {
      down = (await ls()).services.find((s) => s.vip === vip)!.servers[2].healthy === false;
      if (!down) await new Promise((r) => setTimeout(r, 200));
    }
    expect(down).toBe(true);
    expect(await d.ok(['lb', 'ls'])).toMatch(/10\.171\.0\.13:8080.*down/);
    expect(tally(await curlMany(client1, `http://${vip}/`, 6))).toEqual({ b1: 3, b2: 3 });
    backends[2] = await startBackend(ns[2], 'b3');
    let up = false;
    while (!up && Date.now() < deadline + 8000) {
      up = (await ls()).services.find((s) => s.vip === vip)!.servers[2].healthy;
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    expect(up).toBe(true);
    expect(tally(await curlMany(client1, `http://${vip}/`, 6))).toEqual({ b1: 2, b2: 2, b3: 2 });
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('persistence (-p) keeps a client on one server across connections', async () => {
    const vip = `${P}.110`;
    await d.ok(['lb', 'add-service', '-t', `${vip}:80`, '-s', 'rr', '-p', '60', NET]);
    for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `${vip}:80`, '-r', `${ip}:8080`]);
    expect(new Set(await curlMany(client1, `http://${vip}/`, 6)).size).toBe(1);
    expect(await d.ok(['lb', 'ls'])).toMatch(/rr persistent 60/);
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('refuses bad input with clear errors and makes nothing', async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    const vip = `${P}.111`;
    await bad(['lb', 'add-service', '-t', '10.99.0.5:80', NET], /VIP 10\.99\.0\.5 is outside network lbnet's subnet 10\.171\.0\.0\/24/);
    await bad(['lb', 'add-service', '-t', `${vip}:80`, '-s', 'fastest', NET], /scheduler "fastest" is unknown: expected one of rr, wrr, lc, wlc, sh, mh/);
    await bad(['lb', 'add-service', '-t', `${vip}:99999`, NET], /service "10\.171\.0\.111:99999": expected an address and a port 1-65535/);
    await bad(['lb', 'add-service', '-t', `${vip}`, NET], /expected an address and a port/);
    await bad(['lb', 'add-service', '-t', `${vip}:80`, 'nonet'], /network "nonet" does not exist/);
    await bad(['lb', 'add-service', '-t', `${C1}:80`, NET], /VIP 10\.171\.0\.2 is endpoint .*'s address/);
    await bad(['lb', 'add-service', '-t', `${P}.1:80`, NET], /VIP 10\.171\.0\.1 is .*gateway/);
    await bad(['lb', 'add-service', NET], /a service is required: -t VIP:PORT \(TCP\) or -u VIP:PORT \(UDP\)/);
    await d.ok(['lb', 'add-service', '-t', `${vip}:80`, '-s', 'rr', NET]);
    await bad(['lb', 'add-service', '-t', `${vip}:80`, NET], /service TCP 10\.171\.0\.111:80 exists already/);
    await bad(['lb', 'add-server', '-t', `${vip}:80`, '-r', RIPS[0], '-w', '70000'], /weight 70000: expected a whole number from 0 to 65535/);
    await bad(['lb', 'add-server', '-t', `${vip}:80`, '-r', RIPS[0], '-w', 'heavy'], /weight "heavy": expected a whole number/);
    await bad(['lb', 'add-server', '-t', `${vip}:80`, '-r', `${P}.77`], /10\.171\.0\.77 is not an endpoint of network lbnet/);
    await bad(['lb', 'add-server', '-t', `${vip}:80`, '-r', `${RIPS[0]}:8080`, '-g'], /direct routing \(-g\) delivers to the VIP's own port 80/);
    await bad(['lb', 'add-server', '-t', `${vip}:80`, '-r', RIPS[0], '-o', 'check=icmp'], /check=icmp: expected check=tcp/);
    await bad(['lb', 'add-server', '-t', `${vip}:81`, '-r', RIPS[0]], /no virtual service TCP 10\.171\.0\.111:81/);
    await bad(['lb', 'add-server', '-u', `${vip}:80`, '-r', RIPS[0]], /no virtual service UDP 10\.171\.0\.111:80/);
    await bad(['lb', 'del-server', '-t', `${vip}:80`, '-r', RIPS[1]], /no real server 10\.171\.0\.12:80/);
    await bad(['lb', 'timeout', '0', 'x', '1'], /tcpfin timeout "x"/);
    const spare = `tsnt-${uniqueTag()}-x`;
    await addNetns(spare);
    try {
      await bad(['connect', NET, '--netns', spare, '--ip', vip], /requested IP 10\.171\.0\.111 is already allocated/); // the VIP is reserved
    } finally {
      await delNetns(spare);
    }
    await d.ok(['lb', 'add-service', '-u', `${vip}:53`, NET]);
    await bad(['lb', 'add-server', '-u', `${vip}:53`, '-r', `${RIPS[0]}:5353`, '-o', 'check=tcp'], /UDP 10\.171\.0\.111:53 is UDP: a TCP connect check needs port=N/);
    await d.ok(['lb', 'add-server', '-u', `${vip}:53`, '-r', `${RIPS[0]}:5353`, '-o', 'check=tcp,interval=200ms,port=9000']);
    const j = await ls();
    const svc = j.services.find((s) => s.vip === vip && s.protocol === 'tcp')!;
    expect(svc.servers).toHaveLength(0);
    expect(j.services.find((s) => s.vip === vip && s.protocol === 'udp')!.servers[0].healthy).toBe(true);
    await d.ok(['lb', 'del-service', '-u', `${vip}:53`]);
    expect(j.services.map((s) => s.vip)).not.toContain('10.99.0.5');
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
  });

  it('timeouts are settable; services survive a daemon kill -9 and restart', async () => {
    expect(await d.ok(['lb', 'timeout'])).toMatch(/Timeout \(tcp tcpfin udp\): 900 120 300/);
    expect(await d.ok(['lb', 'timeout', '600', '0', '30'])).toMatch(/600 120 30/);
    const vip = `${P}.112`;
    await addService(vip, 'rr', RIPS.map((ip) => ({ ip })));
    await d.kill('SIGKILL');
    await d.start();
    const j = await ls();
    expect(j.timeouts).toEqual({ tcp: 600, tcpfin: 120, udp: 30 });
    expect(j.services.find((s) => s.vip === vip)!.servers.map((s) => s.ip)).toEqual(RIPS);
    expect(tally(await curlMany(client1, `http://${vip}/`, 3))).toEqual({ b1: 1, b2: 1, b3: 1 });
    // A client behind the gateway port (the daemon's host namespace) reaches the VIP too.
    expect(tally(await curlMany(d.hostNs, `http://${vip}/`, 3))).toEqual({ b1: 1, b2: 1, b3: 1 });
    await d.ok(['lb', 'del-service', '-t', `${vip}:80`]);
    await d.ok(['lb', 'timeout', '900', '120', '300']);
  });
});

/** One TCP line exchange on a fresh connection. */
class LineClientOnce {
  constructor(
    private readonly ns: string,
    private readonly host: string,
  ) {}
  async ask(): Promise<string> {
    const c = new LineClient(this.ns, this.host, 9000);
    try {
      return await c.ask('q');
    } finally {
      c.close();
    }
  }
}
