/**
 * The daemon's live page (--ui-listen) in a real browser: headless Chromium (Debian's) loads it inside
 * the daemon's namespace, the test reads the drawn network and ports and a rate that changes (a ping
 * runs, then stops) from the DOM, takes a screenshot, and checks the page is read-only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { kill, nsExec, privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason(['chromium', 'curl']);
if (skip) console.warn(`skipping UI page tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Chromium in the namespace `ns`, with a profile of its own; `what` is --dump-dom or --screenshot=FILE. */
function chromium(ns: string, url: string, what: string, profile: string): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'chromium', '--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--window-size=1000,900', '--virtual-time-budget=2500', what, url], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`chromium ${what} ${url} failed (${r.status}): ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** Each drawn port of a network: its name, kind and rx packets/s as the page shows them. */
function drawnPorts(dom: string, network: string): { port: string; kind: string; rxPps: number | null }[] {
  const start = dom.indexOf(`data-network="${network}"`);
  expect(start, 'the network is drawn').toBeGreaterThan(-1);
  const section = dom.slice(start, dom.indexOf('</section>', start));
  return [...section.matchAll(/<g data-port="([^"]+)" data-kind="(\w+)" data-rx-pps="([^"]*)"/g)].map((m) => ({ port: m[1], kind: m[2], rxPps: m[3] === '' ? null : Number(m[3]) }));
}

describe.skipIf(skip !== null)('the live page (daemon --ui-listen)', () => {
  it('draws the network with its ports and live rates in Chromium; read-only', async () => {
    const { d, ns } = await daemonWithSandboxes(3, ['--ui-listen', '127.0.0.1:0'], (f) => cleanup.push(f));
    const profile = mkdtempSync(join(tmpdir(), 'tsnet-chromium-'));
    cleanup.push(async () => rmSync(profile, { recursive: true, force: true }));
    expect((await runCli(['network', 'create', '--subnet', '10.98.0.0/24', 'uinet'], d.socket)).code).toBe(0);
    for (const n of ns) expect((await runCli(['connect', 'uinet', '--netns', n], d.socket)).code).toBe(0);
    const ui = await runCli(['ui'], d.socket);
    expect(ui.code, ui.stderr).toBe(0);
    const url = ui.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const ping = spawn('ip', ['netns', 'exec', ns[0], 'ping', '-q', '-i', '0.01', '-w', '5', '10.98.0.3'], { stdio: 'ignore' });
    cleanup.push(async () => kill(ping));
    await sleep(2500); // two samples of the daemon's 1 s rate window inside the ping
    const during = drawnPorts(chromium(d.hostNs, url, '--dump-dom', profile), 'uinet');
    expect(during.map((p) => p.kind).sort()).toEqual(['endpoint', 'endpoint', 'endpoint', 'gateway']);
    const busy = during.find((p) => p.port.includes(ns[0]));
    const idle = during.find((p) => p.port.includes(ns[2]));
    expect(busy?.rxPps).toBeGreaterThan(20); // ~100 echo requests a second
    expect(idle?.rxPps).toBeLessThan(busy!.rxPps! / 4);

    await new Promise((r) => ping.once('exit', r));
    await sleep(2200);
    const after = drawnPorts(chromium(d.hostNs, url, '--dump-dom', profile), 'uinet');
    expect(after.find((p) => p.port === busy!.port)?.rxPps).toBeLessThan(busy!.rxPps! / 4);

    const shot = join(profile, 'page.png');
    chromium(d.hostNs, url, `--screenshot=${shot}`, profile);
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(5000);

    // Read-only: nothing but GET of the page and its data.
    const post = await nsExec(d.hostNs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${url}view.json`]);
    expect(post).toBe('405');
    const other = await nsExec(d.hostNs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}v1/networks`]);
    expect(other).toBe('404');
  });

  it('refuses an --ui-listen it cannot use, naming it; `ui` says when there is no page', async () => {
    const bad = await runCli(['daemon', '--ui-listen', 'example.com:80'], '/tmp/none.sock');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--ui-listen "example.com:80"');
    const { d } = await daemonWithSandboxes(0, [], (f) => cleanup.push(f));
    const r = await runCli(['ui'], d.socket);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('start it with --ui-listen');
  });
});
