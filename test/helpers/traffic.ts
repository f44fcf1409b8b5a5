/**
 * Traffic the integration tests send between namespaces: a ping that may be retried, one iperf3 TCP
 * run that returns the bytes received, and a tcpdump that listens while something happens.
 */
import type { ChildProcess } from 'node:child_process';
import { kill, nsExec, nsSpawn } from './netns.js';

/** `ping -c count -i 0.2 -W waitS` from `ns`, tried up to `tries` times; true once one run is answered. */
export async function pingOk(ns: string, ip: string, opts: { count?: number; waitS?: number; tries?: number; extra?: string[] } = {}): Promise<boolean> {
  const { count = 2, waitS = 2, tries = 1, extra = [] } = opts;
  for (let i = 0; i < tries; i++) {
    const ok = await nsExec(ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', String(waitS), ...extra, ip]).then(
      () => true,
      () => false,
    );
    if (ok) return true;
  }
  return false;
}

/** iperf3 TCP for `seconds` from `clientNs` to a one-shot server in `serverNs` bound to `ip`; bytes received. */
export async function iperfTcpBytes(serverNs: string, clientNs: string, ip: string, seconds = 1): Promise<number> {
  let s: ChildProcess | undefined;
  try {
    s = nsSpawn(serverNs, 'iperf3', ['-s', '-1', '-B', ip]);
    await new Promise((r) => setTimeout(r, 400));
    const j = JSON.parse(await nsExec(clientNs, 'iperf3', ['-c', ip, '-t', String(seconds), '-J'], { timeoutMs: 30_000 + seconds * 1000 }));
    return j.end.sum_received.bytes as number;
  } finally {
    kill(s);
  }
}

/** tcpdump (`-nn -e -l`, so VXLAN is decoded and lines come as they happen) on `dev` in `ns` while `during` runs; its text. */
export async function tcpdumpWhile(ns: string, dev: string, filter: string[], during: () => Promise<unknown>): Promise<string> {
  const p = nsSpawn(ns, 'tcpdump', ['-i', dev, '-nn', '-e', '-l', ...filter]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  try {
    const end = Date.now() + 10_000;
    while (!err.includes('listening on')) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`tcpdump did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await during();
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    kill(p);
  }
  return out;
}
