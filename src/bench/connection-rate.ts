/**
 * New TCP connections per second, for the load-balancer scenarios. No Debian tool measures plain TCP
 * connection rate (ab/wrk speak HTTP and measure the server as much as the path), so both ends are a
 * few lines of Node run with this process's own node binary inside the namespaces:
 *
 *   acceptor (each backend): accept, write one byte, close;
 *   load generator (client): C connections in flight, each connect → read the byte → close → start
 *     the next, for the duration; prints {cps, done, failed} as one JSON line. A connection counts
 *     only when its byte arrived, so a refused or reset connect is a failure, not a success.
 *
 * Both are spawned through the CleanupStack and stopped with the scenario.
 */
import type { CleanupStack, TrackedProcess } from './cleanup-stack.js';

export const ACCEPTOR_PORT = 7000;
/** Connections in flight from the load generator. */
export const CONCURRENCY = 32;

const ACCEPTOR = `
require('net').createServer((c) => { c.on('error', () => {}); c.end('x'); })
  .listen(${ACCEPTOR_PORT}, '0.0.0.0', () => console.log('ready'));
`;

const LOADGEN = `
const net = require('net');
const [host, port, conc, secs] = process.argv.slice(1);
let done = 0, failed = 0, stop = false;
const start = Date.now();
function one() {
  if (stop) return;
  const c = net.connect(+port, host);
  let ok = false;
  c.on('data', () => { ok = true; });
  c.on('error', () => {});
  c.on('close', () => { if (ok) done++; else failed++; one(); });
}
for (let i = 0; i < +conc; i++) one();
setTimeout(() => {
  stop = true;
  const s = (Date.now() - start) / 1000;
  console.log(JSON.stringify({ cps: done / s, done, failed }));
  process.exit(0);
}, +secs * 1000);
`;

export async function startAcceptor(cleanup: CleanupStack, ns: string): Promise<TrackedProcess> {
  const p = cleanup.spawn(process.execPath, ['-e', ACCEPTOR], { netns: ns, label: 'acceptor' });
  await p.waitForOutput(/ready/, 10_000);
  return p;
}

export interface ConnectionRate {
  cps: number;
  done: number;
  failed: number;
}

export function parseLoadgenOutput(text: string): ConnectionRate {
  const last = text.trim().split('\n').pop() ?? '';
  let r: ConnectionRate;
  try {
    r = JSON.parse(last) as ConnectionRate;
  } catch {
    throw new Error(`load generator printed no result: ${text.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (typeof r.cps !== 'number' || typeof r.done !== 'number' || typeof r.failed !== 'number') throw new Error(`load generator result without cps/done/failed: ${last}`);
  return r;
}

/** Run the load generator from `ns` against ip:port for `seconds`. */
export async function connectionRate(cleanup: CleanupStack, ns: string, ip: string, port: number, seconds: number): Promise<ConnectionRate> {
  const p = cleanup.spawn(process.execPath, ['-e', LOADGEN, ip, String(port), String(CONCURRENCY), String(seconds)], { netns: ns, label: 'load generator' });
  await p.finish((seconds + 20) * 1000);
  const r = parseLoadgenOutput(p.output);
  if (r.done === 0) throw new Error(`no connection to ${ip}:${port} completed (${r.failed} failed)`);
  return r;
}
