/**
 * A real WireGuard peer for interop tests: Debian's wireguard-go in a test namespace, configured with
 * `wg set`. wireguard-go refuses to start on kernels with WireGuard built in unless
 * WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1. It would daemonize (and leave an orphan for PID 1,
 * which reaps nothing here), so it runs in the foreground (-f) as our child; it is stopped by deleting
 * its interface (`ip link del wg0`), and stop() waits for it to exit (SIGKILL after 5 s).
 *
 * The peer's VTEP address is its underlay address, so the namespace routes that one address through
 * wg0 by policy, as wg-quick does: packets without wg0's fwmark look up table 51820 first.
 */
import { spawn } from 'node:child_process';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nsExec, sh } from './netns.js';

export interface WireguardGoPeer {
  publicKey: Uint8Array;
  /** The peer's VTEP (inner) address, routed through wg0. */
  vtep: string;
  endpoint: string;
}

export interface WireguardGo {
  publicKey: Uint8Array;
  stop(): Promise<void>;
}

/** `wg pubkey` of a private key (on its standard input): the peer's key as wireguard-tools derive it. */
function wgPubkey(priv: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('wg', ['pubkey'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`wg pubkey exited ${code}`))));
    c.stdin!.end(priv + '\n');
  });
}

export async function startWireguardGo(ns: string, opts: { listenPort: number; address: string; mtu: number; peer: WireguardGoPeer; ifname?: string }): Promise<WireguardGo> {
  const ifname = opts.ifname ?? 'wg0';
  const dir = await mkdtemp(join(tmpdir(), 'tsnet-wg-'));
  const keyFile = join(dir, 'private.key');
  const priv = (await sh('wg', ['genkey'])).trim();
  await writeFile(keyFile, priv + '\n', { mode: 0o600 });
  const pub = await wgPubkey(priv);
  const child = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifname], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    await nsExec(ns, 'ip', ['link', 'del', ifname]).catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const links = await nsExec(ns, 'ip', ['-o', 'link', 'show']).catch(() => '');
    if (links.includes(` ${ifname}:`)) break;
    if (child.exitCode !== null || i > 100) {
      await stop();
      throw new Error(`wireguard-go did not create ${ifname} in ${ns}: ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    const peerKey = Buffer.from(opts.peer.publicKey).toString('base64');
    await nsExec(ns, 'wg', ['set', ifname, 'listen-port', String(opts.listenPort), 'private-key', keyFile, 'fwmark', '51820', 'peer', peerKey, 'allowed-ips', `${opts.peer.vtep}/32`, 'endpoint', opts.peer.endpoint]);
    await nsExec(ns, 'ip', ['addr', 'add', `${opts.address}/32`, 'dev', ifname]);
    await nsExec(ns, 'ip', ['link', 'set', ifname, 'mtu', String(opts.mtu), 'up']);
    await nsExec(ns, 'ip', ['route', 'add', `${opts.peer.vtep}/32`, 'dev', ifname, 'table', '51820']);
    await nsExec(ns, 'ip', ['rule', 'add', 'not', 'fwmark', '51820', 'table', '51820']);
  } catch (err) {
    await stop();
    throw err;
  }
  return { publicKey: Uint8Array.from(Buffer.from(pub, 'base64')), stop };
}
