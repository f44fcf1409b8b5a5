/**
 * `HOST:PORT` for the daemon's TCP listeners (`--metrics-listen`): an IPv4 address, `[IPv6]`, or
 * `localhost`, and a port 0-65535 (0: the kernel picks one; the daemon logs which). A name other than
 * localhost is refused rather than resolved: what a listener binds to should be read off the flag.
 */
import type { Server } from 'node:http';
import { isIPv4, isIPv6, type AddressInfo } from 'node:net';
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
  if (!isIPv4(host)) throw bad(host === '' ? 'no host' : `${JSON.stringify(host)} is not an IPv4 address (write an IPv6 one in brackets)`);
  return { host, port };
}

/** How to print an address in a URL or a log line. */
export function formatTcpListenAddress(a: TcpListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Listen on `a`; an address that cannot be bound is a TsnError naming the flag and why. */
export async function listenTcp(server: Server, a: TcpListenAddress, flag: string): Promise<TcpListenAddress> {
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
