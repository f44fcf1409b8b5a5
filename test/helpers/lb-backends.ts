/**
 * Real backends and clients for load-balancer tests, run inside network namespaces:
 * - `startBackend(ns, name)`: one node process serving HTTP on 8080 and 80 (body: its name), a TCP line
 *   echo on 9000 (`name:line`), both on IPv4 and IPv6 (`::`), and UDP on 5353 (IPv4; answers its
 *   name). Killing it is a backend failure.
 * - `curlMany(ns, url, n)`: n sequential HTTP requests, each a new TCP connection; returns the bodies
 *   (`http://[fd00::1]/` works: no URL globbing).
 * - `LineClient`: one long-lived TCP connection from a namespace, to send lines and read answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { nsExec } from './netns.js';

const BACKEND = `
const [name] = process.argv.slice(1);
const http = require('http'), net = require('net'), dgram = require('dgram');
for (const port of [8080, 80]) http.createServer((q, s) => { s.setHeader('connection', 'close'); s.end(name); }).listen(port, '::');
net.createServer((c) => { let buf = ''; c.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { c.write(name + ':' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); } }); c.on('error', () => {}); }).listen(9000, '::');
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(name, r.port, r.address)); u.bind(5353, '0.0.0.0');
setTimeout(() => console.log('ready'), 100);
`;

export async function startBackend(ns: string, name: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', BACKEND, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`backend ${name} in ${ns} did not start`)), 10_000);
    child.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`backend ${name} exited ${code}`)));
  });
  return child;
}

/** n sequential requests (each a new connection); failures come back as ''. */
export async function curlMany(ns: string, url: string, n: number, srcIp?: string): Promise<string[]> {
  const iface = srcIp ? `--interface ${srcIp}` : '';
  const out = await nsExec(ns, 'sh', ['-c', `for i in $(seq ${n}); do curl -s -g --max-time 3 ${iface} ${url}; echo; done`], { timeoutMs: n * 4000 + 10_000 });
  return out.split('\n').slice(0, n);
}

export function tally(xs: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of xs) t[x] = (t[x] ?? 0) + 1;
  return t;
}

/** UDP: n datagrams from fresh sockets (new source ports); returns the answers ('' on timeout). */
export async function udpMany(ns: string, host: string, port: number, n: number): Promise<string[]> {
  const script = `
const dgram = require('dgram');
(async () => {
  for (let i = 0; i < ${n}; i++) {
    const s = dgram.createSocket('udp4');
    const got = await new Promise((res) => { const t = setTimeout(() => res(''), 2000); s.on('message', (m) => { clearTimeout(t); res(String(m)); }); s.send('q', ${port}, '${host}'); });
    s.close();
    console.log(got);
  }
})();`;
  const out = await nsExec(ns, process.execPath, ['-e', script], { timeoutMs: n * 3000 + 10_000 });
  return out.split('\n').slice(0, n);
}

/** A long-lived TCP connection from a namespace to host:port, one line at a time. */
export class LineClient {
  private readonly child: ChildProcess;
  private buf = '';
  private waiters: ((line: string) => void)[] = [];

  constructor(ns: string, host: string, port: number) {
    const script = `
const c = require('net').connect(${port}, '${host}');
c.on('data', (d) => process.stdout.write(d));
c.on('error', (e) => { console.log('ERROR ' + e.code); });
c.on('close', () => { console.log('CLOSED'); process.exit(0); });
process.stdin.on('data', (d) => { const s = String(d); if (s.startsWith('QUIT')) c.end(); else c.write(s); });`;
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.waiters.shift()?.(line);
      }
    });
  }

  /** Send a line, resolve with the answer line ('TIMEOUT' after 3 s). */
  ask(line: string): Promise<string> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve('TIMEOUT'), 3000);
      this.waiters.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
      this.child.stdin!.write(`${line}\n`);
    });
  }

  close(): void {
    if (this.child.exitCode === null) {
      this.child.stdin!.write('QUIT\n');
      setTimeout(() => this.child.kill('SIGKILL'), 1000).unref();
    }
  }
}
