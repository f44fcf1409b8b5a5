/**
 * `HOST:PORT` for the daemon's TCP listeners (`--metrics-listen`): an IPv4 address, `[IPv6]`, or
 * `localhost`, and a port 0-65535 (0: the kernel picks one; the daemon logs which). A name other than
 * localhost is refused rather than resolved: what a listener binds to should be read off the flag.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { isIPv6, type AddressInfo } from 'node:net';
import { isIpv4 } from '../packet/ipv4.js';
import { TsnError } from '../errors.js';

export interface TcpListenAddress {
  host: string;
  port: number;
}

export function parseTcpListenAddress(text: string, flag: string): TcpListenAddress {
  const bad = (why: string) =>
    new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(text)}: ${why}; expected HOST:PORT with an IPv4 address, [IPv6] or localhost, e.g. 127.0.0.1:9477`);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw bad('not HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) throw bad(`port ${port} is over 65535`);
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) throw bad(`${JSON.stringify(m[1])} is not an IPv6 address`);
    return { host: m[1], port };
  }
  const host = m[2];
  if (host === 'localhost') return { host: '127.0.0.1', port };
  if (!isIpv4(host)) throw bad(host === '' ? 'no host' : `${JSON.stringify(host)} is not an IPv4 address (write an IPv6 one in brackets)`);
  return { host, port };
}

/** How to print an address in a URL or a log line. */
export function formatTcpListenAddress(a: TcpListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Listen on `a`; an address that cannot be bound is a TsnError naming the flag and why. */
async function listenTcp(server: Server, a: TcpListenAddress, flag: string): Promise<TcpListenAddress> {
  const where = formatTcpListenAddress(a);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : err.code === 'EACCES' ? 'permission denied' : (err.message ?? String(err));
      reject(new TsnError('ERR_BAD_OPTION', `${flag} ${where}: cannot listen there (${err.code ?? 'error'}: ${why})`));
    });
    server.listen(a.port, a.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return { host: bound.address, port: bound.port };
}

/**
 * One HTTP listener on TCP for a front door (metrics, the page): bounded header and request times,
 * and a close that does not wait for a client's keep-alive connection.
 */
export class TcpFrontDoor {
  private server: Server | null = null;
  /** Where it listens (the kernel's port when asked for port 0); null until listen() returned. */
  address: TcpListenAddress | null = null;

  constructor(
    private readonly listenOn: TcpListenAddress,
    /** The daemon flag that asked for it, named in errors. */
    private readonly flag: string,
    private readonly handler: RequestListener,
  ) {}

  async listen(): Promise<TcpListenAddress> {
    const server = createServer(this.handler);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    this.address = await listenTcp(server, this.listenOn, this.flag);
    this.server = server;
    return this.address;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections(); // a keep-alive connection would hold close() open
    await closed;
  }
}
