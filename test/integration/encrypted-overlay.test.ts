/**
 * `-o encrypted=true` end to end through the CLI and a daemon, against a real WireGuard peer: host A
 * runs tsnet-switch with an encrypted overlay and container c1; host B runs Debian's wireguard-go
 * (wg0, configured with `wg set`) carrying the kernel's own vxlan device and a Linux bridge with
 * container c2 (test/helpers/wireguard-go.ts). Checked: ping and TCP both ways; rekeying (A's
 * REKEY_AFTER_TIME shortened to 4 s through TSNET_WG_REKEY_AFTER_SECONDS) during a longer TCP run
 * without losing the connection; `network inspect` per peer (handshake age, transfer, endpoint);
 * the key file 0600 and the private key in no output; `overlay key show`; bad options named.
 */
import { iperfTcpBytes, pingOk } from '../helpers/traffic.js';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';
import { addNetns, delNetns, nsExec, plumb, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';
import { startWireguardGo } from '../helpers/wireguard-go.js';

const skip = privilegedSkipReason(['wireguard-go', 'wg', 'iperf3']);
if (skip) console.warn(`skipping encrypted overlay tests: ${skip}`);

const VTEP_A = '198.18.0.1';
const VTEP_B = '198.18.0.2';
const MTU = 1390; // 1500 - VXLAN 50 - WireGuard 60

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function netns(name: string): Promise<string> {
  cleanup.push(() => delNetns(name));
  await addNetns(name);
  return name;
}

const json = <T = any>(text: string): T => JSON.parse(text) as T;

describe.skipIf(skip !== null)('encrypted overlay (WireGuard between VTEPs)', () => {
  it('interoperates with wireguard-go carrying the kernel vxlan: ping and TCP both ways, rekey under load, per-peer inspect', async () => {
    const tag = uniqueTag();
    process.env.TSNET_WG_REKEY_AFTER_SECONDS = '4';
    const dA = new TestDaemon();
    cleanup.push(() => dA.teardown());
    await dA.setup();
    delete process.env.TSNET_WG_REKEY_AFTER_SECONDS;
    const hostB = await netns(`tsnt-${tag}-wb`);
    const c1 = await netns(`tsnt-${tag}-c1`);
    const c2 = await netns(`tsnt-${tag}-c2`);
    // No IPv6 chatter (router solicitations, MLD) from B's side: A must send first, so that A is the
    // initiator and its shortened REKEY_AFTER_TIME applies (wireguard-go's is fixed at 120 s).
    for (const ns of [hostB, c2]) await nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    const devA = `tu${tag}a`;
    await sh('ip', ['link', 'add', devA, 'type', 'veth', 'peer', 'name', `tu${tag}b`]);
    await plumb(dA.hostNs, devA, '02:00:c6:12:00:01', `${VTEP_A}/24`);
    await plumb(hostB, `tu${tag}b`, '02:00:c6:12:00:02', `${VTEP_B}/24`);

    const pubA = (await dA.ok(['overlay', 'key', 'show'])).trim();
    expect(pubA).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const keyFile = join(dA.stateDir, 'wireguard', 'private.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const privA = readFileSync(keyFile, 'utf8').trim();

    const b = await startWireguardGo(hostB, { listenPort: 51820, address: VTEP_B, mtu: 1440, peer: { publicKey: Uint8Array.from(Buffer.from(pubA, 'base64')), vtep: VTEP_A, endpoint: `${VTEP_A}:51820` } });
    cleanup.push(() => b.stop());
    const pubB = Buffer.from(b.publicKey).toString('base64');
    await dA.ok(['network', 'create', '-d', 'overlay', '--subnet', '10.82.0.0/24', '-o', 'vni=4243', '-o', `vtep=${VTEP_A}`, '-o', 'encrypted=true', '-o', `encrypted.peers=${pubB}@${VTEP_B}`, 'sec']);
    await dA.ok(['connect', 'sec', '--netns', c1, '--ip', '10.82.0.2']);
    const link = json(await sh('ip', ['-n', c1, '-j', 'link', 'show', 'dev', 'eth0']))[0];
    expect(link.mtu).toBe(MTU);
    // A makes the first session (so A is the initiator and its shortened REKEY_AFTER_TIME applies;
    // wireguard-go's is fixed at 120 s): a ping from c1 starts the handshake before B's side has
    // anything to send.
    void nsExec(c1, 'ping', ['-c', '3', '-i', '0.3', '-W', '1', '10.82.0.3']).catch(() => undefined);
    const hsEnd = Date.now() + 15_000;
    while (json(await dA.ok(['network', 'inspect', 'sec']))[0].Overlay.Encryption.Peers[0].Session !== 'established') {
      if (Date.now() > hsEnd) throw new Error(`no handshake with wireguard-go: ${dA.log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // B: the kernel's vxlan over wg0, a bridge, container c2.
    await sh('ip', ['-n', hostB, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '4243', 'local', VTEP_B, 'remote', VTEP_A, 'dstport', '4789']);
    await sh('ip', ['-n', hostB, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', hostB, 'link', 'set', 'vx0', 'mtu', String(MTU), 'master', 'br0', 'up']);
    await sh('ip', ['-n', hostB, 'link', 'set', 'br0', 'up']);
    await sh('ip', ['link', 'add', `kc${tag}`, 'type', 'veth', 'peer', 'name', `kp${tag}`]);
    await sh('ip', ['link', 'set', `kp${tag}`, 'netns', hostB]);
    await sh('ip', ['-n', hostB, 'link', 'set', `kp${tag}`, 'mtu', String(MTU), 'master', 'br0', 'up']);
    await plumb(c2, `kc${tag}`, '02:42:0a:52:00:03', '10.82.0.3/24', MTU);


    expect(await pingOk(c1, '10.82.0.3', { tries: 5 })).toBe(true); // A initiates: A rekeys by time
    expect(await pingOk(c2, '10.82.0.2', { tries: 5 })).toBe(true);
    expect(await iperfTcpBytes(c2, c1, '10.82.0.3')).toBeGreaterThan(2e6);
    expect(await iperfTcpBytes(c1, c2, '10.82.0.2')).toBeGreaterThan(2e6);

    const before = json(await dA.ok(['network', 'inspect', 'sec']))[0].Overlay.Encryption;
    expect(before.PublicKey).toBe(pubA);
    expect(before.Peers).toHaveLength(1);
    const p = before.Peers[0];
    expect(p).toMatchObject({ PublicKey: pubB, VTEP: VTEP_B, Endpoint: `${VTEP_B}:51820`, Session: 'established' });
    expect(p.LatestHandshakeAgeSeconds).toBeLessThan(30);
    expect(p.TransferRx).toBeGreaterThan(2e6);
    expect(p.TransferTx).toBeGreaterThan(2e6);
    // wireguard-go agrees it has a session with us.
    const wgShow = await nsExec(hostB, 'wg', ['show', 'wg0', 'transfer']);
    expect(Number(wgShow.trim().split(/\s+/)[1])).toBeGreaterThan(2e6);

    // A longer TCP run across at least two of A's rekeys (every 4 s): the connection survives.
    const got = await iperfTcpBytes(c2, c1, '10.82.0.3', 10);
    expect(got).toBeGreaterThan(5e6);
    const after = json(await dA.ok(['network', 'inspect', 'sec']))[0].Overlay.Encryption.Peers[0];
    expect(after.Handshakes, dA.log).toBeGreaterThanOrEqual(before.Peers[0].Handshakes + 2);
    expect(after.Session).toBe('established');

    // The private key is in no output: inspect, stats, the daemon's log.
    const everything = [await dA.ok(['network', 'inspect', 'sec']), await dA.ok(['stats', '--json']), dA.log].join('\n');
    expect(everything).not.toContain(privA);
    expect(everything).toContain(pubA);

    await dA.ok(['network', 'rm', '--force', 'sec']);
    const left = await nsExec(dA.hostNs, 'ss', ['-uanp']);
    expect(left).not.toMatch(/:51820\b/); // the WireGuard socket went with the last encrypted network
  }, 120_000);

  it('refuses bad encryption options, naming the value', async () => {
    const dA = new TestDaemon();
    cleanup.push(() => dA.teardown());
    await dA.setup();
    const tag = uniqueTag();
    const other = await netns(`tsnt-${tag}-o`);
    await sh('ip', ['link', 'add', `tv${tag}a`, 'type', 'veth', 'peer', 'name', `tv${tag}b`]);
    await plumb(dA.hostNs, `tv${tag}a`, '02:00:c6:12:00:01', `${VTEP_A}/24`);
    await plumb(other, `tv${tag}b`, '02:00:c6:12:00:02', `${VTEP_B}/24`);
    const bad = async (opts: string[], re: RegExp) => {
      const r = await dA.cli(['network', 'create', '-d', 'overlay', '--subnet', '10.88.0.0/24', '-o', `vtep=${VTEP_A}`, ...opts.flatMap((o) => ['-o', o]), 'x']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(re);
    };
    const key = Buffer.alloc(32, 7).toString('base64');
    await bad(['encrypted=maybe'], /-o encrypted=maybe: expected true or false/);
    await bad(['encrypted=true'], /needs the peers' public keys/);
    await bad(['encrypted=true', 'encrypted.peers=nokey@198.18.0.2'], /"nokey" is not a WireGuard public key/);
    await bad(['encrypted=true', `encrypted.peers=${key}@198.18.0.1`], /198\.18\.0\.1 is the local VTEP itself/);
    await bad(['encrypted=true', `encrypted.peers=${key}@198.18.0.2:70000`], /expected a UDP port 1\.\.65535/);
    await bad(['encrypted.port=5000'], /-o encrypted\.port needs -o encrypted=true/);
    expect(json(await dA.ok(['network', 'ls', '--json']))).toHaveLength(0); // nothing half-made
  });
});
