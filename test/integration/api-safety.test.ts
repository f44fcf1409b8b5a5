/**
 * The API's edge: the socket is root-only, and malformed, oversized or unknown requests get a 4xx
 * with a message while the daemon keeps serving. Product code never runs a shell.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping API safety tests: ${skip}`);

let daemon: TestDaemon | null = null;
afterEach(async () => {
  await daemon?.teardown();
  daemon = null;
});

function raw(socket: string, method: string, path: string, body?: string | Buffer): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: socket, method, path, headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (r) => {
      let text = '';
      r.on('data', (d) => (text += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, json: text ? JSON.parse(text) : {} }));
    });
    req.on('error', rej);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe.skipIf(skip !== null)('API safety', () => {
  it('serves on a root-only socket and answers bad requests with 4xx and a message', async () => {
    daemon = new TestDaemon();
    await daemon.setup();
    const s = daemon.socket;
    expect(statSync(s).mode & 0o777).toBe(0o600);

    const badJson = await raw(s, 'POST', '/v1/networks', '{"name": "x",');
    expect(badJson.status).toBe(400);
    expect(badJson.json.error?.code).toBe('ERR_BAD_JSON');

    const huge = await raw(s, 'POST', '/v1/networks', JSON.stringify({ name: 'x', pad: 'y'.repeat(100_000) }));
    expect(huge.status).toBe(413);

    const unknownField = await raw(s, 'POST', '/v1/networks', JSON.stringify({ name: 'x', subnett: '10.0.0.0/24' }));
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.error?.message).toMatch(/subnett/);

    const wrongType = await raw(s, 'POST', '/v1/networks', JSON.stringify({ name: 'x', mtu: 'big' }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error?.message).toMatch(/mtu/);

    const notObject = await raw(s, 'POST', '/v1/networks', '[1,2,3]');
    expect(notObject.status).toBe(400);

    const badConnect = await raw(s, 'POST', '/v1/networks/none/connect', JSON.stringify({ netns: 'a', pid: 'b' }));
    expect(badConnect.status).toBe(400);

    expect((await raw(s, 'GET', '/v1/nothing-here')).status).toBe(404);
    expect((await raw(s, 'GET', '/nope')).status).toBe(404);
    expect((await raw(s, 'DELETE', `/v1/networks/${'z'.repeat(300)}`)).status).toBe(404);

    // Still serving, and nothing was created by any of it.
    const ls = await raw(s, 'GET', '/v1/networks');
    expect(ls.status).toBe(200);
    expect(ls.json).toEqual([]);
  });
});

describe('product code runs no shell', () => {
  it('spawns processes only without a shell, and only in the bench harness, CNI IPAM delegation and nft', () => {
    const root = resolve(import.meta.dirname, '../../src');
    const shells: string[] = [];
    const spawners: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          const text = readFileSync(p, 'utf8');
          // A shell: exec()/execSync() of child_process, or spawn/execFile with shell: true.
          if (/\b(?:cp|child_process)\.exec(?:Sync)?\(|import\s*\{[^}]*\bexec(?:Sync)?\b[^}]*\}\s*from\s*'node:child_process'|shell:\s*true/.test(text)) shells.push(p);
          if (/node:child_process|'child_process'/.test(text)) spawners.push(p.slice(root.length + 1));
        }
      }
    };
    walk(root);
    expect(shells).toEqual([]);
    // The daemon and CLI start no processes but these, each by design: `tsnet-switch bench` runs
    // iperf3/ping/ovs; the CNI plugin runs a delegated IPAM plugin as the CNI spec says; the daemon
    // runs nft (its NAT table, `nft -f -`), sysctl and `ip route get` (doctor) in its host namespace
    // through one module.
    const allowed = ['cni/ipam-delegate.ts', 'control/host-command.ts'];
    expect(spawners.filter((p) => !p.startsWith('bench/') && !allowed.includes(p))).toEqual([]);
  });
});
