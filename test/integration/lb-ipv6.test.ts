/**
 * IPv6 virtual services end to end (#17): a daemon (built CLI), a dual-stack bridge network, three real
 * HTTP backends and a client in namespaces. curl -6 to the VIP gets the scheduler's exact spread (NAT),
 * ping6 to the VIP is answered by the switch, `lb ls` prints IPv6 as ipvsadm does ([addr]:port), DR
 * with the VIP on the servers' lo, IPv6 health checks take a dead backend out, a kill -9 and restart
 * keep the service, and bad input is refused by name with nothing made.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, type TestDaemon } from '../helpers/daemon.js';
import { curlMany, startBackend, tally } from '../helpers/lb-backends.js';
import { addNetns, delNetns, kill, nsExec, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason(['curl']);
if (skip) console.warn(`skipping IPv6 load balancer integration tests: ${skip}`);

const NET = 'lb6net';
const P4 = '10.173.0';
const P6 = 'fd00:173:';
const RIPS = [`${P6}:11`, `${P6}:12`, `${P6}:13`];
const CLIENT = `${P6}:2`;

let d: TestDaemon;
let ns: string[] = [];
const backends: (ChildProcess | undefined)[] = [];
const teardowns: (() => Promise<void>)[] = [];
let client: string;

interface LsJson {
  services: { protocol: string; family: number; vip: string; port: number; vipMac: string; stats: { conns: number; inPkts: number; outPkts: number }; servers: { ip: string; port: number; healthy: boolean; forward: string }[] }[];
  connections?: { protocol: string; state: string; client: string; virtual: string; server: string }[];
}

async function ls(extra: string[] = []): Promise<LsJson> {
  return JSON.parse(await d.ok(['lb', 'ls', '--json', ...extra]));
}

const esc = (s: string) => s.replace(/[.[\]]/g, '\\$&');

describe.skipIf(skip !== null)('IPv6 load balancer through the daemon', () => {
  beforeAll(async () => {
    const r = await daemonWithSandboxes(4, [], (f) => teardowns.push(f));
    d = r.d;
    ns = r.ns;
    client = ns[3];
    await d.ok(['network', 'create', '--ipv6', '--subnet', `${P4}.0/24`, '--subnet', `${P6}:/64`, NET]);
    for (let i = 0; i < 3; i++) await d.ok(['connect', NET, '--netns', ns[i], '--ip', `${P4}.${11 + i}`, '--ip6', RIPS[i]]);
    await d.ok(['connect', NET, '--netns', client, '--ip', `${P4}.2`, '--ip6', CLIENT]);
    for (let i = 0; i < 3; i++) backends[i] = await startBackend(ns[i], `b${i + 1}`);
  }, 120_000);

  afterAll(async () => {
    for (const b of backends) kill(b);
    for (const f of teardowns.reverse()) await f().catch(() => undefined);
  });

  it('NAT, rr: curl -6 to the VIP gets an exact spread; ping6 to the VIP answers; lb ls prints [addr]:port', async () => {
    const vip = `${P6}:100`;
    await d.ok(['lb', 'add-service', '-t', `[${vip}]:80`, '-s', 'rr', NET]);
    for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', `[${ip}]:8080`, '-m']);
    expect(tally(await curlMany(client, `http://[${vip}]/`, 30))).toEqual({ b1: 10, b2: 10, b3: 10 });
    expect(await nsExec(client, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', vip])).toContain('2 received');
    // The client resolved the VIP by ND to its switch-owned MAC (0e:6c + the low 32 bits).
    const neigh = await sh('ip', ['-n', client, '-6', 'neigh', 'show', vip]);
    expect(neigh).toMatch(/lladdr 0e:6c:00:00:01:00/);
    const text = await d.ok(['lb', 'ls']);
    expect(text).toMatch(new RegExp(`TCP  ${esc(`[${vip}]`)}:80 rr \\(network ${NET}\\)`));
    expect(text).toMatch(new RegExp(`-> ${esc(`[${RIPS[0]}]`)}:8080\\s+Masq\\s+1\\s+0\\s+10`));
    const j = await ls(['-c']);
    const svc = j.services.find((s) => s.vip === vip)!;
    expect(svc.family).toBe(6);
    expect(svc.vipMac).toBe('0e:6c:00:00:01:00');
    expect(svc.stats.conns).toBe(30);
    expect(svc.stats.outPkts).toBeGreaterThanOrEqual(30 * 3); // the replies came back through the switch
    const rows = j.connections!.filter((c) => c.virtual === `[${vip}]:80`);
    expect(rows).toHaveLength(30);
    expect(rows.every((c) => c.client.startsWith(`[${CLIENT}]:`) && RIPS.some((r) => c.server === `[${r}]:8080`))).toBe(true);
    // An IPv4 service on the same network works alongside.
    await d.ok(['lb', 'add-service', '-t', `${P4}.100:80`, '-s', 'rr', NET]);
    for (let i = 0; i < 3; i++) await d.ok(['lb', 'add-server', '-t', `${P4}.100:80`, '-r', `${P4}.${11 + i}:8080`]);
    expect(tally(await curlMany(client, `http://${P4}.100/`, 3))).toEqual({ b1: 1, b2: 1, b3: 1 });
    await d.ok(['lb', 'del-service', '-t', `${P4}.100:80`]);
    await d.ok(['lb', 'del-service', '-t', `[${vip}]:80`]);
    expect((await ls()).services).toHaveLength(0);
  });

  it('DR: only the MAC changes; the servers hold the VIP on lo and answer the client directly', async () => {
    const vip = `${P6}:107`;
    for (const n of ns.slice(0, 3)) await sh('ip', ['-n', n, '-6', 'addr', 'add', `${vip}/128`, 'dev', 'lo', 'nodad']);
    try {
      await d.ok(['lb', 'add-service', '-t', `[${vip}]:80`, '-s', 'rr', NET]);
      for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', ip, '-g']);
      expect(tally(await curlMany(client, `http://[${vip}]/`, 9))).toEqual({ b1: 3, b2: 3, b3: 3 });
      const svc = (await ls()).services.find((s) => s.vip === vip)!;
      expect(svc.servers.every((s) => s.forward === 'Route')).toBe(true);
      expect(svc.stats.inPkts).toBeGreaterThan(0);
      expect(svc.stats.outPkts).toBe(0); // replies bypass the switch's LB
      await d.ok(['lb', 'del-service', '-t', `[${vip}]:80`]);
    } finally {
      for (const n of ns.slice(0, 3)) await sh('ip', ['-n', n, '-6', 'addr', 'del', `${vip}/128`, 'dev', 'lo']).catch(() => undefined);
    }
  });

  it('IPv6 health checks: a backend that stops answering gets no new connections until it is back', async () => {
    const vip = `${P6}:109`;
    await d.ok(['lb', 'add-service', '-t', `[${vip}]:80`, '-s', 'rr', NET]);
    for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', `[${ip}]:8080`, '-o', 'check=tcp,interval=200ms,timeout=200ms,fall=2,rise=2']);
    const healthOf = async (i: number) => (await ls()).services.find((s) => s.vip === vip)!.servers[i].healthy;
    const waitFor = async (i: number, want: boolean) => {
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && (await healthOf(i)) !== want) await new Promise((r) => setTimeout(r, 200));
      return healthOf(i);
    };
    expect(await waitFor(2, true)).toBe(true);
    kill(backends[2]);
    backends[2] = undefined;
    expect(await waitFor(2, false)).toBe(false);
    expect(await d.ok(['lb', 'ls'])).toMatch(new RegExp(`${esc(`[${RIPS[2]}]`)}:8080.*down`));
    expect(tally(await curlMany(client, `http://[${vip}]/`, 6))).toEqual({ b1: 3, b2: 3 });
    backends[2] = await startBackend(ns[2], 'b3');
    expect(await waitFor(2, true)).toBe(true);
    expect(tally(await curlMany(client, `http://[${vip}]/`, 6))).toEqual({ b1: 2, b2: 2, b3: 2 });
    await d.ok(['lb', 'del-service', '-t', `[${vip}]:80`]);
  });

  it('refuses bad input by name and makes nothing; an IPv6 service survives kill -9 and restart', async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await d.cli(args);
      expect(r.code, `${args.join(' ')} should fail`).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    await d.ok(['network', 'create', '--subnet', '10.174.0.0/24', 'v4only']);
    await bad(['lb', 'add-service', '-t', '[fd00:174::100]:80', 'v4only'], /VIP fd00:174::100 is IPv6 and network v4only has no IPv6 subnet: create it dual-stack/);
    await d.ok(['network', 'rm', 'v4only']);
    await bad(['lb', 'add-service', '-t', 'fd00:173::100:80', NET], /an IPv6 address with a port goes in brackets/);
    await bad(['lb', 'add-service', '-t', '[fd00:999::100]:80', NET], /VIP fd00:999::100 is outside network lb6net's IPv6 subnet fd00:173::\/64/);
    await bad(['lb', 'add-service', '-t', `[${P6}:1]:80`, NET], /VIP fd00:173::1 is the IPv6 gateway of fd00:173::\/64/);
    await bad(['lb', 'add-service', '-t', `[${CLIENT}]:80`, NET], /VIP fd00:173::2 is endpoint .*'s address/);
    const vip = `${P6}:111`;
    await d.ok(['lb', 'add-service', '-t', `[${vip}]:80`, '-s', 'rr', NET]);
    await bad(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', `${P4}.11:8080`], /real server 10\.173\.0\.11 is IPv4 and TCP \[fd00:173::111\]:80 is IPv6/);
    await bad(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', RIPS[0], '-i'], /tunneling \(-i\) is IPv4 only here/);
    await bad(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', `${P6}:77`], /fd00:173::77 is not an endpoint of network lb6net: connect it first \(tsnet-switch connect lb6net --ip6/);
    await bad(['lb', 'del-server', '-t', `[${vip}]:80`, '-r', RIPS[1]], /no real server \[fd00:173::12\]:80/);
    expect((await ls()).services.find((s) => s.vip === vip)!.servers).toHaveLength(0);
    // The VIP is reserved in the IPv6 pool: a container cannot be given it.
    const spare = `tsnt-${uniqueTag()}-x`;
    await addNetns(spare);
    try {
      await bad(['connect', NET, '--netns', spare, '--ip6', vip], /--ip6 fd00:173::111 is in use on this network/);
    } finally {
      await delNetns(spare);
    }
    for (const ip of RIPS) await d.ok(['lb', 'add-server', '-t', `[${vip}]:80`, '-r', `[${ip}]:8080`]);
    await d.kill('SIGKILL');
    await d.start();
    const svc = (await ls()).services.find((s) => s.vip === vip)!;
    expect(svc.servers.map((s) => s.ip)).toEqual(RIPS);
    expect(tally(await curlMany(client, `http://[${vip}]/`, 3))).toEqual({ b1: 1, b2: 1, b3: 1 });
    // A client behind the gateway port (the daemon's host namespace) reaches the IPv6 VIP too.
    expect(tally(await curlMany(d.hostNs, `http://[${vip}]/`, 3))).toEqual({ b1: 1, b2: 1, b3: 1 });
    await d.ok(['lb', 'del-service', '-t', `[${vip}]:80`]);
  });
});
