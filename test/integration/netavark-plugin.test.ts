/**
 * The netavark plugin at its JSON interface (netavark's plugin-API.md; these machines have netavark
 * 1.4, which runs no plugins, so the test plays netavark): the launcher `tsnet-switch netavark
 * install` writes, run as `PLUGIN info|create|setup NETNS|teardown NETNS` with the documented JSON on
 * stdin; two containers set up ping each other through the switch; teardown removes the interface
 * and is idempotent; errors are `{"error": …}` with exit 1. Once through the CLI too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping netavark plugin tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

/** Run a plugin as netavark does: argv, JSON on stdin, the socket from the environment. */
function plugin(file: string[], argv: string[], stdin: unknown, socket: string): Promise<{ code: number; json: Record<string, unknown> | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(file[0], [...file.slice(1), ...argv], { env: { ...process.env, TSNET_SWITCH_SOCKET: socket }, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => {
      let json = null;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : null;
      } catch {
        json = null;
      }
      resolve({ code: code ?? -1, json, stdout });
    });
    child.stdin.end(typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  });
}

const network = {
  name: 'nvnet',
  id: '2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9',
  driver: 'tsnet-switch',
  network_interface: '',
  subnets: [{ subnet: '10.162.0.0/24' }],
  ipv6_enabled: false,
  internal: false,
  dns_enabled: false,
  ipam_options: { driver: 'host-local' },
  options: {},
};

const exec = (id: string, ifname: string, net: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  container_id: id,
  container_name: `ctr-${id.slice(0, 6)}`,
  port_mappings: null,
  network: net,
  network_options: { aliases: [id.slice(0, 12)], interface_name: ifname, ...extra },
});

describe.skipIf(skip !== null)('netavark plugin (JSON interface)', () => {
  it('info, create, setup, ping through the switch, teardown twice', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-netavark-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const inst = await runCli(['netavark', 'install', '--dir', dir], d.socket);
    expect(inst.code, inst.stderr).toBe(0);
    const bin = [inst.stdout.trim()];
    // netavark runs plugins in its own (host) namespace: here, the test's host namespace.
    const inHost = ['ip', 'netns', 'exec', d.hostNs, bin[0]];

    const info = await plugin(bin, ['info'], '', d.socket);
    expect(info).toMatchObject({ code: 0, json: { version: expect.any(String), api_version: '1.0.0' } });

    const created = await plugin(bin, ['create'], network, d.socket);
    expect(created.code).toBe(0);
    expect(created.json).toEqual({ ...network, subnets: [{ subnet: '10.162.0.0/24', gateway: '10.162.0.1' }] }); // name, id, driver unchanged; gateway filled in
    const net = created.json!;

    const s1 = await plugin(inHost, ['setup', `/var/run/netns/${ns[0]}`], exec('aaaa1111bbbb2222', 'eth0', net), d.socket);
    expect(s1.code, s1.stdout).toBe(0);
    expect(s1.json).toEqual({ dns_search_domains: [], dns_server_ips: [], interfaces: { eth0: { mac_address: '02:42:0a:a2:00:02', subnets: [{ ipnet: '10.162.0.2/24', gateway: '10.162.0.1' }] } } });
    // podman's own IPAM (host-local) passes the address it chose as static_ips, and a MAC as static_mac.
    const s2 = await plugin(inHost, ['setup', `/var/run/netns/${ns[1]}`], exec('cccc3333dddd4444', 'eth0', net, { static_ips: ['10.162.0.50'], static_mac: 'aa:bb:cc:dd:aa:00' }), d.socket);
    expect(s2.json).toEqual({ dns_search_domains: [], dns_server_ips: [], interfaces: { eth0: { mac_address: 'aa:bb:cc:dd:aa:00', subnets: [{ ipnet: '10.162.0.50/24', gateway: '10.162.0.1' }] } } });
    expect(await nsExec(ns[0], 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.162.0.50'])).toMatch(/2 received/);

    const again = await plugin(inHost, ['setup', `/var/run/netns/${ns[0]}`], exec('aaaa1111bbbb2222', 'eth0', net), d.socket);
    expect(again.code).toBe(1);
    expect(String(again.json?.error)).toMatch(/aaaa1111bbbb2222 has eth0 on network nvnet already/);

    for (let i = 0; i < 2; i++) {
      const t = await plugin(inHost, ['teardown', `/var/run/netns/${ns[0]}`], exec('aaaa1111bbbb2222', 'eth0', net), d.socket);
      expect(t).toMatchObject({ code: 0, stdout: '' });
    }
    expect(await sh('ip', ['-n', ns[0], 'link'])).not.toMatch(/eth0/);
    // Through the CLI: the same plugin.
    const cli = await plugin([process.execPath, CLI], ['netavark', 'teardown', `/var/run/netns/${ns[1]}`], exec('cccc3333dddd4444', 'eth0', net), d.socket);
    expect(cli).toMatchObject({ code: 0, stdout: '' });
    expect(JSON.parse(await d.ok(['network', 'inspect', 'nvnet']))[0].Endpoints).toEqual({});
  });

  it('refuses what it cannot do with {"error": …} and exit 1, naming the value', async () => {
    const { d, ns } = await daemonWithSandboxes(1, [], (f) => cleanup.push(f));
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-netavark-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const cli = [(await runCli(['netavark', 'install', '--dir', dir], d.socket)).stdout.trim()];
    const cases: [string[], unknown, RegExp][] = [
      [['create'], { ...network, subnets: [{ subnet: 'fd00::/64' }], ipv6_enabled: true }, /IPv6 is not supported/],
      [['create'], { ...network, subnets: [{ subnet: '10.162.0.0/24' }, { subnet: '10.163.0.0/24' }] }, /2 subnets/],
      [['create'], { ...network, subnets: [{ subnet: '10.162.0.7/24' }] }, /10\.162\.0\.7\/24/],
      [['create'], '{"name":', /not JSON/],
      [['setup'], exec('x1', 'eth0', network), /netns path argument is missing/],
      [['setup', `/var/run/netns/${ns[0]}`], { ...exec('x1', 'eth0', network), port_mappings: [{ container_port: 80, host_port: 8080, protocol: 'tcp', range: 1, host_ip: '' }] }, /port_mappings/],
      [['setup', '/var/run/netns/tsnt-not-there'], exec('x1', 'eth0', network), /tsnt-not-there/],
      [['bogus'], {}, /unknown subcommand: bogus/],
    ];
    for (const [argv, stdin, re] of cases) {
      const r = await plugin(cli, argv, stdin, d.socket);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(Object.keys(r.json ?? {})).toEqual(['error']);
      expect(String(r.json?.error)).toMatch(re);
    }
    const viaCli = await plugin([process.execPath, CLI, 'netavark'], ['setup'], exec('x1', 'eth0', network), d.socket);
    expect(viaCli.json).toEqual({ error: 'setup: the container\'s netns path argument is missing' });
    const down = await plugin(cli, ['setup', `/var/run/netns/${ns[0]}`], exec('x1', 'eth0', network), join(d.dir, 'nothing.sock'));
    expect(String(down.json?.error)).toMatch(/ERR_NO_DAEMON/);
    expect(await sh('ip', ['-n', ns[0], 'link'])).not.toMatch(/eth0/);
  });
});
