/**
 * `tsnet-switch doctor` against a live daemon: a healthy setup reports nothing of its own, and each
 * broken setup (an orphaned device, an endpoint larger than its overlay carries, forwarding off under
 * masquerade, a promiscuous macvlan parent, a host shim's route gone or elsewhere, strict rp_filter
 * against an overlay peer's route back, no daemon) is reported with its check, a fix and exit code 1; doctor changes nothing.
 *
 * Other tests run beside this one and may leave devices of their own daemons in named namespaces;
 * doctor rightly reports those too, so the healthy case looks only at findings about this test's things.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes, runCli } from '../helpers/daemon.js';
import { linkNames, nsExec, privilegedSkipReason } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping doctor tests: ${skip}`);

interface Finding { check: string; severity: 'problem' | 'note'; subject: string; problem: string; fix: string }

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function doctor(socket: string): Promise<{ code: number | null; ok: boolean; findings: Finding[]; text: string }> {
  const j = await runCli(['doctor', '--json'], socket);
  const t = await runCli(['doctor'], socket);
  const parsed = JSON.parse(j.stdout) as { ok: boolean; findings: Finding[] };
  expect(t.code).toBe(j.code);
  return { code: j.code, ...parsed, text: t.stdout };
}

describe.skipIf(skip !== null)('tsnet-switch doctor', () => {
  it('reports nothing about a healthy setup, then each broken one with a fix and exit 1', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const mine = (f: Finding) => f.subject.includes(d.hostNs) || ns.some((n) => f.subject.includes(n)) || /network (ov|front|lan)\b/.test(f.subject) || f.subject.includes('tsndoc') || f.check === 'offloads';
    // An underlay for the overlay's VTEP, and a bridge network that masquerades.
    await nsExec(d.hostNs, 'ip', ['link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul1']);
    await nsExec(d.hostNs, 'ip', ['addr', 'add', '10.94.0.1/24', 'dev', 'ul0']);
    await nsExec(d.hostNs, 'ip', ['link', 'set', 'ul0', 'up']);
    let r = await runCli(['network', 'create', '-d', 'overlay', '--subnet', '10.95.0.0/24', '-o', 'vtep=10.94.0.1', '-o', 'peers=10.94.0.9', 'ov'], d.socket);
    expect(r.code, r.stderr).toBe(0);
    r = await runCli(['connect', 'ov', '--netns', ns[0]], d.socket);
    expect(r.code, r.stderr).toBe(0);
    r = await runCli(['network', 'create', '--subnet', '10.96.0.0/24', '-o', 'masquerade=true', 'front'], d.socket);
    expect(r.code, r.stderr).toBe(0);
    const healthy = await doctor(d.socket);
    expect(healthy.findings.filter(mine)).toEqual([]);
    expect(healthy.ok).toBe(!healthy.findings.some((f) => f.severity === 'problem'));
    expect(healthy.code).toBe(healthy.ok ? 0 : 1);
    if (healthy.findings.length === 0) expect(healthy.text.trim()).toBe('no problems found');

    // Broken 1: the endpoint's MTU raised past what the overlay carries (1500 underlay - 50).
    await nsExec(ns[0], 'ip', ['link', 'set', 'eth0', 'mtu', '1500']);
    // Broken 2: forwarding turned off under a masquerading network.
    await nsExec(d.hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    // Broken 3: a device marked as made by a daemon whose state dir is gone.
    await nsExec(d.hostNs, 'ip', ['tuntap', 'add', 'tsndoc0', 'mode', 'tap']);
    await nsExec(d.hostNs, 'ip', ['link', 'set', 'tsndoc0', 'alias', `tsnet-switch/1 owner=${encodeURIComponent(`/tmp/tsnet-gone-${d.tag}`)} net=feedface role=gateway`]);

    // Broken 4: a macvlan network on a veth parent (veth has no unicast filter: the kernel makes it
    // promiscuous for the endpoint's MAC), with a host shim whose route to the endpoint is deleted.
    await nsExec(d.hostNs, 'ip', ['link', 'add', 'par0', 'type', 'veth', 'peer', 'name', 'par1']);
    for (const l of ['par0', 'par1']) await nsExec(d.hostNs, 'ip', ['link', 'set', l, 'up']);
    r = await runCli(['network', 'create', '-d', 'macvlan', '--subnet', '10.100.0.0/24', '-o', 'parent=par0', '-o', 'host_shim=10.100.0.250', 'lan'], d.socket);
    expect(r.code, r.stderr).toBe(0);
    r = await runCli(['connect', 'lan', '--netns', ns[1], '--ip', '10.100.0.7'], d.socket);
    expect(r.code, r.stderr).toBe(0);
    const shim = (JSON.parse((await runCli(['network', 'inspect', 'lan'], d.socket)).stdout) as { HostShim: { Interface: string } }[])[0].HostShim.Interface;

    await nsExec(d.hostNs, 'ip', ['route', 'del', '10.100.0.7/32']);

    // Broken 5: the route back to the overlay's peer VTEP leaves by another device, under strict
    // reverse-path filtering: the kernel drops the peer's datagrams arriving on the underlay.
    await nsExec(d.hostNs, 'ip', ['link', 'add', 'dc0', 'type', 'veth', 'peer', 'name', 'dc1']);
    await nsExec(d.hostNs, 'ip', ['addr', 'add', '10.93.0.1/24', 'dev', 'dc0']);
    for (const l of ['dc0', 'dc1', 'ul1']) await nsExec(d.hostNs, 'ip', ['link', 'set', l, 'up']);
    await nsExec(d.hostNs, 'ip', ['route', 'add', '10.94.0.9/32', 'via', '10.93.0.2', 'dev', 'dc0']);
    await nsExec(d.hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.rp_filter=1']);

    const broken = await doctor(d.socket);
    expect(broken.code).toBe(1);
    expect(broken.ok).toBe(false);
    const ofMine = broken.findings.filter(mine);
    const mtu = ofMine.find((f) => f.check === 'mtu');
    expect(mtu?.severity).toBe('problem');
    expect(mtu?.problem).toMatch(/MTU is 1500 but the overlay carries at most 1450/);
    expect(mtu?.fix).toContain('mtu 1450');
    const fwd = ofMine.find((f) => f.check === 'forwarding');
    expect(fwd?.subject).toBe('network front');
    expect(fwd?.problem).toContain('net.ipv4.ip_forward is 0');
    const orphan = ofMine.find((f) => f.check === 'orphans' && f.subject.includes('tsndoc0'));
    expect(orphan?.severity).toBe('problem');
    expect(orphan?.problem).toContain('is gone');
    const gone = ofMine.find((f) => f.check === 'shim-routes');
    expect(gone?.subject).toContain('network lan');
    expect(gone?.problem).toContain(`through the shim ${shim} is gone`);
    expect(gone?.fix).toBe(`ip route replace 10.100.0.7/32 dev ${shim}`);
    const promisc = ofMine.find((f) => f.check === 'promiscuous');
    expect(promisc?.subject).toBe('network lan, parent par0');
    expect(promisc?.problem).toMatch(/promiscuity [1-9]/);
    const rp = ofMine.find((f) => f.check === 'rp-filter');
    expect(rp?.subject).toBe('network ov, remote VTEP 10.94.0.9');
    expect(rp?.problem).toContain('the route back to 10.94.0.9 goes through dc0 and rp_filter is 1 (strict) on ul0');
    expect(rp?.fix).toContain('ip route replace 10.94.0.9/32 dev ul0');
    expect(broken.text).toMatch(/PROBLEM \[mtu\] network ov, endpoint/);
    expect(broken.text).toContain('fix: sysctl -w net.ipv4.ip_forward=1');
    // Doctor only reports: the orphan is still there, the MTU and the sysctl unchanged.
    expect(await linkNames(d.hostNs)).toContain('tsndoc0');
    expect((await nsExec(d.hostNs, 'sysctl', ['-n', 'net.ipv4.ip_forward'])).trim()).toBe('0');

    // The route put back through another device: reported as pointing elsewhere.
    await nsExec(d.hostNs, 'ip', ['route', 'replace', '10.100.0.7/32', 'dev', 'ul0']);
    expect((await doctor(d.socket)).findings.find((f) => f.check === 'shim-routes')?.problem).toContain(`goes through ul0, not the shim ${shim}`);

    // Fixed again: nothing of ours is reported.
    await nsExec(d.hostNs, 'ip', ['route', 'replace', '10.100.0.7/32', 'dev', shim]);
    expect((await doctor(d.socket)).findings.filter((f) => f.check === 'shim-routes')).toEqual([]);
    expect((await runCli(['network', 'rm', '--force', 'lan'], d.socket)).code).toBe(0); // the veth parent stays promiscuous
    // Loose mode takes any route back: the detour through dc0 is fine then.
    await nsExec(d.hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.rp_filter=2']);
    expect((await doctor(d.socket)).findings.filter((f) => f.check === 'rp-filter')).toEqual([]);
    await nsExec(d.hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.rp_filter=1']);
    await nsExec(d.hostNs, 'ip', ['route', 'del', '10.94.0.9/32']);
    await nsExec(ns[0], 'ip', ['link', 'set', 'eth0', 'mtu', '1450']);
    await nsExec(d.hostNs, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await nsExec(d.hostNs, 'ip', ['link', 'del', 'tsndoc0']);
    expect((await doctor(d.socket)).findings.filter(mine)).toEqual([]);
  });

  it('says the daemon is not reachable, naming the socket, with exit 1', async () => {
    const socket = `/tmp/tsnet-doctor-none-${process.pid}.sock`;
    const r = await runCli(['doctor', '--json'], socket);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { ok: boolean; findings: Finding[] };
    expect(out.ok).toBe(false);
    expect(out.findings).toContainEqual(expect.objectContaining({ check: 'daemon', severity: 'problem', subject: socket }));
    expect(out.findings.find((f) => f.check === 'daemon')?.problem).toContain(`cannot reach the daemon at ${socket}`);
  });
});
