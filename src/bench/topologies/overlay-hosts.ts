/**
 * The overlay family's topology: two "hosts" (namespaces hA, hB) joined by a veth underlay
 * (198.18.0.1/24 and 198.18.0.2/24, MTU 1500), one container on each (cA, cB, 10.88.0.2 and .3 on one
 * VXLAN segment, VNI 4789, UDP port 4789, inner MTU 1450). Each host's side is one of
 *
 *   kernel: what Docker's overlay driver builds per host — a vxlan device (`remote` = the other VTEP)
 *           enslaved to a Linux bridge, a veth to the container; switching in softirq (CPU n/a);
 *   tsnet:  a tsnet-switch daemon in the host namespace, `network create -d overlay -o vni= -o vtep=
 *           -o peers=` and `connect --netns cA --ip` through its API; its CPU from /proc/PID/stat
 *           (both daemons summed when both hosts run one).
 *
 * With `-o encrypted=true` (tsnet on both hosts) each daemon names the other's WireGuard public key
 * (`encrypted.peers=KEY@VTEP`, the key from GET /v1/overlay/key) and the inner MTU is 1390.
 *
 * Mixed pairs (tsnet on one host, the kernel on the other) measure interop at speed. The client is
 * always in cA, so "tsnet-kernel" is tsnet-switch encapsulating and the kernel decapsulating.
 * Every device is made inside the namespaces (`ip -n … link add … peer … netns …`): nothing in the
 * real host namespace.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_CPU } from '../cpu-meter.js';
import { findOnPath, missingToolMessage, run } from '../host-commands.js';
import type { BenchPath, BuildContext } from '../scenario.js';
import { CLIENT, PAIR_PREFIX_LEN, SERVER, configureLink, type HostPair } from './host-pair.js';
import { startDaemon } from './tsnet-daemon.js';

export type OverlaySide = 'kernel' | 'tsnet';

const VNI = 4789;
const VXLAN_PORT = 4789;
const OVERLAY_MTU = 1450;
const VTEP = ['198.18.0.1', '198.18.0.2'] as const;

async function kernelSide(host: string, container: string, local: string, remote: string, addr: { ip: string; mac: string }, mtu = OVERLAY_MTU): Promise<void> {
  await run('ip', ['-n', host, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', local, 'remote', remote, 'dstport', String(VXLAN_PORT)]);
  await run('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await run('ip', ['-n', host, 'link', 'set', 'vx0', 'mtu', String(mtu), 'master', 'br0', 'up']);
  await run('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
  await run('ip', ['-n', container, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', host]);
  await run('ip', ['-n', host, 'link', 'set', 'c0', 'mtu', String(mtu), 'master', 'br0', 'up']);
  await configureLink(container, 'eth0', addr.mac, addr.ip, mtu);
}

/** Inner addresses of the WireGuard interfaces of the two hosts (the kernel VXLAN's VTEPs on the wireguard-go path). */
const WG_ADDR = ['10.87.0.1', '10.87.0.2'] as const;
const WG_PORT = 51820;
/** The WireGuard interface's MTU (wg-quick's default), and what is left inside it for the VXLAN's inner frames. */
const WG_MTU = 1420;

/**
 * Debian's wireguard-go as each host's WireGuard (the kernel here has none), the kernel's VXLAN over
 * its WireGuard interface addresses: what a user without our encryption would build. wireguard-go runs in the
 * foreground as our child (it would daemonize otherwise, and PID 1 here reaps nothing); deleting its
 * interface makes it exit.
 */
async function wireguardGoHosts(ctx: BuildContext, hosts: string[]): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-wg-'));
  ctx.cleanup.defer(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const pubs: string[] = [];
  for (const i of [0, 1]) {
    const priv = `${(await run('wg', ['genkey'])).trim()}\n`;
    writeFileSync(join(dir, `host${i}.key`), priv, { mode: 0o600 });
    pubs.push((await run('wg', ['pubkey'], { input: priv })).trim());
  }
  // wireguard-go's control socket is /var/run/wireguard/IFNAME.sock, one directory for every
  // namespace: each interface needs a name of its own (this run's, this host's).
  const wgName = (i: number) => `wg${createHash('sha256').update(ctx.tag).digest('hex').slice(0, 8)}${i}`;
  const pids: number[] = [];
  for (const i of [0, 1]) {
    const wg = wgName(i);
    const p = ctx.cleanup.spawn('wireguard-go', ['-f', wg], { netns: hosts[i], env: { WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' }, label: 'wireguard-go', stopGraceMs: 5000 });
    for (let t = 0; !(await run('ip', ['-n', hosts[i], '-o', 'link', 'show']).catch(() => '')).includes(` ${wg}:`); t++) {
      if (!p.running || t > 100) throw new Error(`wireguard-go did not make ${wg} in ${hosts[i]}: ${p.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    ctx.cleanup.defer(`${wg} in ${hosts[i]}`, () => run('ip', ['-n', hosts[i], 'link', 'del', wg]).then(() => undefined));
    pids.push(p.child.pid!);
    await run('ip', ['netns', 'exec', hosts[i], 'wg', 'set', wg, 'private-key', join(dir, `host${i}.key`), 'listen-port', String(WG_PORT), 'peer', pubs[1 - i], 'endpoint', `${VTEP[1 - i]}:${WG_PORT}`, 'allowed-ips', `${WG_ADDR[1 - i]}/32`]);
    await run('ip', ['-n', hosts[i], 'addr', 'add', `${WG_ADDR[i]}/24`, 'dev', wg]);
    await run('ip', ['-n', hosts[i], 'link', 'set', wg, 'mtu', String(WG_MTU), 'up']);
  }
  return pids;
}

async function buildWireguardGoOverlay(ctx: BuildContext): Promise<HostPair> {
  const { hosts, containers } = await underlay(ctx);
  const pids = await wireguardGoHosts(ctx, hosts);
  for (const i of [0, 1]) await kernelSide(hosts[i], containers[i], WG_ADDR[i], WG_ADDR[1 - i], i === 0 ? CLIENT : SERVER, WG_MTU - 50);
  return { clientNs: containers[0], serverNs: containers[1], clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: { pids } };
}

/** wireguard-go on both hosts carrying the kernel's VXLAN (its CPU: both wireguard-go processes). */
export const wireguardGoOverlayPath: BenchPath<HostPair> = {
  id: 'wireguard-go',
  label: 'wireguard-go + kernel VXLAN',
  unavailable: () => (['wireguard-go', 'wg'].map((t) => (findOnPath(t) ? null : `wireguard-go path skipped: ${missingToolMessage(t)}`)).find((m) => m) ?? null),
  build: buildWireguardGoOverlay,
};

/** The two hosts with their veth underlay, and the two containers' namespaces. */
async function underlay(ctx: BuildContext): Promise<{ hosts: string[]; containers: string[] }> {
  const hosts = [await ctx.cleanup.netns(`tsnb-${ctx.tag}-ha`), await ctx.cleanup.netns(`tsnb-${ctx.tag}-hb`)];
  const containers = [await ctx.cleanup.netns(`tsnb-${ctx.tag}-ca`), await ctx.cleanup.netns(`tsnb-${ctx.tag}-cb`)];
  await run('ip', ['-n', hosts[0], 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', hosts[1]]);
  for (const i of [0, 1]) {
    await run('ip', ['-n', hosts[i], 'addr', 'add', `${VTEP[i]}/24`, 'dev', 'u0']);
    await run('ip', ['-n', hosts[i], 'link', 'set', 'u0', 'up']);
  }
  return { hosts, containers };
}

/** WireGuard between the VTEPs (`-o encrypted=true`): 60 bytes of the underlay's 1500 go to it. */
const ENCRYPTED_MTU = OVERLAY_MTU - 60;

async function buildOverlay(ctx: BuildContext, sides: [OverlaySide, OverlaySide], encrypted = false): Promise<HostPair> {
  const { hosts, containers } = await underlay(ctx);
  const pids: number[] = [];
  const daemons = [];
  for (const i of [0, 1]) {
    if (sides[i] === 'kernel') {
      await kernelSide(hosts[i], containers[i], VTEP[i], VTEP[1 - i], i === 0 ? CLIENT : SERVER);
      daemons.push(null);
      continue;
    }
    const d = await startDaemon(ctx.cleanup, hosts[i]);
    pids.push(d.pid);
    daemons.push(d);
  }
  // Encrypted: each side names the other's public key (GET /v1/overlay/key, what `overlay key show` prints).
  const keys = encrypted ? await Promise.all(daemons.map((d) => d!.api.call<{ PublicKey: string }>('GET', '/v1/overlay/key').then((k) => k.PublicKey))) : [];
  for (const i of [0, 1]) {
    const d = daemons[i];
    if (!d) continue;
    const crypt = encrypted ? { encrypted: 'true', 'encrypted.peers': `${keys[1 - i]}@${VTEP[1 - i]}` } : {};
    await d.api.call('POST', '/v1/networks', {
      name: 'ov',
      driver: 'overlay',
      subnet: `10.88.0.0/${PAIR_PREFIX_LEN}`,
      ...(encrypted ? { mtu: ENCRYPTED_MTU } : {}),
      options: { vni: String(VNI), vtep: VTEP[i], peers: VTEP[1 - i], port: String(VXLAN_PORT), ...crypt },
    });
    await d.api.call('POST', '/v1/networks/ov/connect', { netns: containers[i], ip: (i === 0 ? CLIENT : SERVER).ip, mac: (i === 0 ? CLIENT : SERVER).mac });
  }
  return { clientNs: containers[0], serverNs: containers[1], clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: pids.length ? { pids } : NO_CPU };
}

const SIDE_LABEL: Record<OverlaySide, string> = { kernel: 'kernel VXLAN', tsnet: 'tsnet-switch' };

/** A path with host A's and host B's side; the id is 'kernel' / 'tsnet' when both agree, else 'a-b'. */
export function overlayPath(a: OverlaySide, b: OverlaySide): BenchPath<HostPair> {
  return {
    id: a === b ? a : `${a}-${b}`,
    label: a === b ? (a === 'kernel' ? 'Linux VXLAN + bridge + veth' : 'tsnet-switch daemons, TAP') : `${SIDE_LABEL[a]} → ${SIDE_LABEL[b]}`,
    build: (ctx) => buildOverlay(ctx, [a, b]),
  };
}

/** Both hosts tsnet-switch with `-o encrypted=true`: the VXLAN datagrams inside WireGuard between the VTEPs. */
export const tsnetEncryptedOverlayPath: BenchPath<HostPair> = {
  id: 'tsnet-wg',
  label: 'tsnet-switch daemons, -o encrypted (WireGuard)',
  build: (ctx) => buildOverlay(ctx, ['tsnet', 'tsnet'], true),
};
