/**
 * Traffic from real tools, and the parsing of what they print.
 *
 *   - iperf3 (TCP bulk, N streams; UDP with small datagrams): one-off server (`-s -1`, --forceflush so
 *     "Server listening" reaches the pipe at once and the client starts without a guessed sleep);
 *     client with `-J`, whose JSON gives the receiver's view: end.sum_received.bits_per_second for
 *     TCP, packets − lost_packets over seconds for UDP (iperf3 counts a UDP receiver's "packets" by
 *     sequence number, so the lost ones are included in it).
 *   - ping (round trips): `-i 0.002` (root may go below 0.2 s), one line per reply with time=X ms;
 *     percentiles over the replies. ICMP echo is answered by the peer's kernel in softirq, so the
 *     round trip is the path's latency twice plus the stacks, without a user-space server's wake-up.
 *
 * Every process starts through the caller's CleanupStack, so Ctrl-C or a failure stops it.
 */
import type { CleanupStack } from './cleanup-stack.js';
import { run } from './host-commands.js';
import { percentile } from './statistics.js';

export const IPERF_PORT = 5201;

export interface IperfClientOptions {
  /** Parallel streams (-P). */
  streams?: number;
  /** UDP with this payload size, unlimited rate (-u -b 0 -l N). */
  udpPayload?: number;
  port?: number;
  /** Connect here instead of the server's address (a VIP that NATs to it). */
  connectTo?: string;
  /** -R: the server sends, the client receives. */
  reverse?: boolean;
}

/** The parts of iperf3's -J output the bench reads. */
export interface IperfJson {
  error?: string;
  end?: {
    sum?: { seconds?: number; packets?: number; lost_packets?: number; bits_per_second?: number };
    sum_received?: { seconds?: number; packets?: number; lost_packets?: number; bits_per_second?: number };
  };
}

export function parseIperfJson(text: string): IperfJson {
  let j: IperfJson;
  try {
    j = JSON.parse(text) as IperfJson;
  } catch {
    throw new Error(`iperf3 printed no JSON: ${text.trim().slice(0, 300) || '(nothing)'}`);
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  return j;
}

/** TCP: bits/s the receiver got (all streams). */
export function tcpReceivedBitsPerSecond(j: IperfJson): number {
  const bps = j.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number' || !(bps >= 0)) throw new Error('iperf3 JSON has no end.sum_received.bits_per_second');
  return bps;
}

/** UDP: datagrams/s the receiver got. */
export function udpReceivedPacketsPerSecond(j: IperfJson): number {
  const s = j.end?.sum_received ?? j.end?.sum;
  if (!s || typeof s.packets !== 'number' || typeof s.lost_packets !== 'number' || !(Number(s.seconds) > 0)) {
    throw new Error('iperf3 JSON has no end.sum_received packets/lost_packets/seconds');
  }
  return Math.max(0, s.packets - s.lost_packets) / Number(s.seconds);
}

/** Round-trip times in microseconds, one per reply line (`time=0.045 ms`). */
export function parsePingRtts(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/ time=([\d.]+) ms/g)) out.push(Number(m[1]) * 1000);
  return out;
}

/** One ping until the peer answers (ARP resolved, links up) so timing never includes the first resolution. */
export async function warmUp(ns: string, ip: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      await run('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '1', '-W', '1', ip], { timeoutMs: 5000 });
      return;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no answer from ${ip} in ${ns} before timing: ${last instanceof Error ? last.message : String(last)}`);
}

/** Run one iperf3 test from `clientNs` to a one-off server at `serverIp` in `serverNs`; returns the client's JSON. */
export async function runIperf(
  cleanup: CleanupStack,
  clientNs: string,
  serverNs: string,
  serverIp: string,
  durationS: number,
  opts: IperfClientOptions = {},
): Promise<IperfJson> {
  const port = String(opts.port ?? IPERF_PORT);
  const server = cleanup.spawn('iperf3', ['-s', '-1', '-B', serverIp, '-p', port, '--forceflush'], { netns: serverNs });
  await server.waitForOutput(/Server listening/, 10_000);
  const args = ['-c', opts.connectTo ?? serverIp, '-p', port, '-t', String(durationS), '-J'];
  if (opts.streams && opts.streams > 1) args.push('-P', String(opts.streams));
  if (opts.udpPayload) args.push('-u', '-b', '0', '-l', String(opts.udpPayload));
  if (opts.reverse) args.push('-R');
  const client = cleanup.spawn('iperf3', args, { netns: clientNs });
  const failure = await client.finish((durationS + 30) * 1000).then(
    () => null,
    (err: Error) => err,
  );
  // iperf3 -J prints its own error inside the JSON: that sentence says more than the exit code.
  const jsonError = /"error":\s*"([^"]*)"/.exec(client.output);
  if (jsonError) throw new Error(`iperf3 ${serverIp}: ${jsonError[1]}`);
  if (failure) throw failure;
  return parseIperfJson(client.output);
}

/** `count` pings at `intervalS` from `ns` to `ip`; the round-trip times in µs (at least half must come back). */
export async function pingRtts(cleanup: CleanupStack, ns: string, ip: string, count: number, intervalS: number): Promise<number[]> {
  const p = cleanup.spawn('ping', ['-n', '-c', String(count), '-i', String(intervalS), '-W', '2', ip], { netns: ns });
  await p.exited;
  const rtts = parsePingRtts(p.output);
  if (rtts.length < count / 2) throw new Error(`ping ${ip}: ${rtts.length} of ${count} replies; ${p.tail(200)}`);
  return rtts;
}

/** p50 and p99 of round-trip times, in µs. */
export function latencySample(rttsUs: readonly number[]): { p50: number; p99: number } {
  return { p50: percentile(rttsUs, 50), p99: percentile(rttsUs, 99) };
}
