/**
 * The daemon's live page (--ui-listen) in a real browser: headless Chromium (Debian's) loads it inside
 * the daemon's namespace, the test reads the drawn network and ports and a rate that changes (a ping
 * runs, then stops) from the DOM, takes a screenshot; the actions (trace, capture) work with the token
 * `tsnet-switch ui` prints, from the page and over HTTP (tshark reads the pcapng), and are refused
 * without it; everything else is read-only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { kill, nsExec, privilegedSkipReason } from '../helpers/netns.js';
import { tsharkCount } from '../helpers/tshark.js';

const skip = privilegedSkipReason(['chromium', 'curl', 'tshark']);
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
  it('draws the network with its ports and live rates in Chromium; trace and capture with the token only', async () => {
    const { d, ns } = await daemonWithSandboxes(3, ['--ui-listen', '127.0.0.1:0'], (f) => cleanup.push(f));
    const profile = mkdtempSync(join(tmpdir(), 'tsnet-chromium-'));
    cleanup.push(async () => rmSync(profile, { recursive: true, force: true }));
    expect((await runCli(['network', 'create', '--subnet', '10.98.0.0/24', 'uinet'], d.socket)).code).toBe(0);
    for (const n of ns) expect((await runCli(['connect', 'uinet', '--netns', n], d.socket)).code).toBe(0);
    expect((await runCli(['lb', 'add-service', '-t', '10.98.0.100:80', '-s', 'rr', 'uinet'], d.socket)).code).toBe(0);
    for (const rip of ['10.98.0.3:80', '10.98.0.4:80']) expect((await runCli(['lb', 'add-server', '-t', '10.98.0.100:80', '-r', rip], d.socket)).code).toBe(0);
    const ui = await runCli(['ui', '--json'], d.socket);
    expect(ui.code, ui.stderr).toBe(0);
    const { url, token, open } = JSON.parse(ui.stdout) as { url: string; token: string; open: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(open).toBe(`${url}#token=${token}`);
    expect((await runCli(['ui'], d.socket)).stdout.trim()).toBe(open);

    // ns1 pings ns2 every 10 ms until the test stops it (a fixed-length ping could end before a
    // loaded machine gets Chromium started).
    const ping = spawn('ip', ['netns', 'exec', ns[0], 'ping', '-q', '-i', '0.01', '10.98.0.3'], { stdio: 'ignore' });
    cleanup.push(async () => kill(ping));
    const busyPortRate = async () => {
      const v = JSON.parse(await nsExec(d.hostNs, 'curl', ['-s', `${url}view.json`])) as { networks: { name: string; ports: { port: string; rate: { rxPps: number } | null }[] }[] };
      return v.networks.find((n) => n.name === 'uinet')?.ports.find((p) => p.port.includes(ns[0]))?.rate?.rxPps ?? 0;
    };
    // Wait until the daemon's 1 s rate window lies inside the ping (under load this takes longer).
    for (let i = 0; i < 60 && (await busyPortRate()) <= 20; i++) await sleep(250);
    const page = chromium(d.hostNs, url, '--dump-dom', profile);
    const during = drawnPorts(page, 'uinet');
    // The service is drawn with its real servers.
    expect(page).toMatch(/<g data-service="TCP 10\.98\.0\.100:80" data-servers="10\.98\.0\.3:80 10\.98\.0\.4:80">/i);
    expect(during.map((p) => p.kind).sort()).toEqual(['endpoint', 'endpoint', 'endpoint', 'gateway']);
    const busy = during.find((p) => p.port.includes(ns[0]));
    const idle = during.find((p) => p.port.includes(ns[2]));
    expect(busy?.rxPps).toBeGreaterThan(20); // ~100 echo requests a second
    expect(idle?.rxPps).toBeLessThan(busy!.rxPps! / 4);

    // The actions over HTTP, as the page sends them: refused without the token, done with it.
    const post = (path: string, body: unknown, auth: string | null, out = '-') =>
      nsExec(d.hostNs, 'curl', ['-s', '-o', out, '-w', out === '-' ? '' : '%{http_code}', '-X', 'POST', '-H', 'content-type: application/json', ...(auth ? ['-H', `authorization: Bearer ${auth}`] : []), '--data', JSON.stringify(body), `${url}${path}`]);
    const traceBody = { network: 'uinet', in: busy!.port, frame: 'icmp 10.98.0.2 > 10.98.0.3' };
    expect(JSON.parse(await post('trace', traceBody, null))).toMatchObject({ code: 'ERR_UI_TOKEN' });
    expect(JSON.parse(await post('trace', traceBody, `${token}x`))).toMatchObject({ code: 'ERR_UI_TOKEN' });
    const traced = JSON.parse(await post('trace', traceBody, token)) as { stages: { stage: string }[]; outputs: string[]; dropped: boolean };
    expect(traced.dropped).toBe(false);
    expect(traced.outputs.some((o) => o.includes(ns[1]))).toBe(true);
    const pcap = join(profile, 'http.pcapng');
    expect(await post('capture', { target: 'uinet', count: 6, seconds: 5 }, token, pcap)).toBe('200');
    expect(await tsharkCount(pcap, 'icmp')).toBe(6);
    expect(await post('capture', { target: 'uinet', count: 0 }, token)).toContain('count');

    // The same from the page: a shared link fills the forms and runs them.
    const link = `${open}&trace.network=uinet&trace.in=${encodeURIComponent(busy!.port)}&trace.frame=${encodeURIComponent('icmp 10.98.0.2 > 10.98.0.3')}&capture.target=uinet&capture.count=4&capture.seconds=5`;
    const acted = chromium(d.hostNs, link, '--dump-dom', profile);
    expect(acted).toMatch(/<tr data-stage="[^"]+">/);
    for (const s of traced.stages) expect(acted).toContain(`data-stage="${s.stage}"`);
    const got = /data-capture-bytes="(\d+)" data-capture-format="(\w+)"/.exec(acted);
    expect(got?.[2]).toBe('pcapng');
    expect(Number(got?.[1])).toBeGreaterThan(200);
    // Without the token the page says it is read-only and its buttons are off.
    const plain = chromium(d.hostNs, url, '--dump-dom', profile);
    expect(plain).toContain('Read-only: open the address tsnet-switch ui prints');
    expect(plain).toMatch(/<button disabled="">Run trace<\/button>/);

    const exited = new Promise((r) => ping.once('exit', r));
    kill(ping);
    await exited;
    for (let i = 0; i < 40 && (await busyPortRate()) > 5; i++) await sleep(250);
    const after = drawnPorts(chromium(d.hostNs, url, '--dump-dom', profile), 'uinet');
    expect(after.find((p) => p.port === busy!.port)?.rxPps).toBeLessThan(busy!.rxPps! / 4);

    const shot = join(profile, 'page.png');
    chromium(d.hostNs, url, `--screenshot=${shot}`, profile);
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(5000);

    // Nothing else changes anything.
    const put = await nsExec(d.hostNs, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${url}view.json`]);
    expect(put).toBe('405');
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
