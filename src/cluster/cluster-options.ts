/**
 * The daemon's cluster flags, checked before anything starts:
 *
 *   --cluster-store etcd://HOST:PORT[,HOST:PORT…]   (etcds:// or --cluster-ca/cert/key for TLS)
 *   --cluster-prefix /tsnet      key prefix (several clusters can share one etcd)
 *   --host-id ID                 default: an id made once and kept in the state dir (cluster-host-id)
 *   --advertise-addr IP          this host's VTEP; default: its only non-loopback, non-TAP IPv4 address
 *   --cluster-ttl SECONDS        the host lease; default 15
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsnError } from '../errors.js';
import { checkVtepAddress, vtepFamily } from '../control/overlay-options.js';
import { Rtnetlink } from '../control/rtnetlink.js';
import type { EtcdClientOptions } from './etcd-client.js';

export interface ClusterFlags {
  clusterStore: string;
  clusterPrefix?: string;
  hostId?: string;
  advertiseAddr?: string;
  clusterTtl?: string;
  clusterCa?: string;
  clusterCert?: string;
  clusterKey?: string;
}

export interface ClusterConfig {
  client: EtcdClientOptions;
  prefix: string;
  hostId: string;
  vtep: string;
  ttlSeconds: number;
}

const bad = (msg: string) => new TsnError('ERR_BAD_OPTION', msg);
const HOST_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** `etcd://h1:2379,h2:2379` -> http URLs (etcds:// or TLS files: https). */
export function parseStoreUrl(text: string, tls: boolean): string[] {
  const m = /^(etcd|etcds):\/\/(.+)$/.exec(text);
  if (!m) throw bad(`--cluster-store ${JSON.stringify(text)}: expected etcd://HOST:PORT[,HOST:PORT...] (or etcds:// for TLS)`);
  const scheme = m[1] === 'etcds' || tls ? 'https' : 'http';
  return m[2].split(',').map((hp) => {
    const h = /^(\[[0-9a-fA-F:]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/.exec(hp.trim());
    if (!h || Number(h[2]) < 1 || Number(h[2]) > 65535) throw bad(`--cluster-store: ${JSON.stringify(hp)} is not HOST:PORT (e.g. 10.0.0.1:2379)`);
    return `${scheme}://${h[1]}:${h[2]}`;
  });
}

function readPem(path: string | undefined, flag: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw bad(`${flag} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The host id kept in the state dir, made on first use. */
function stableHostId(stateDir: string): string {
  const file = join(stateDir, 'cluster-host-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const id = `host-${randomBytes(4).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/**
 * A cluster host's VTEP (or a static entry's, `fdb add --vtep` on a cluster network): IPv4 only, since
 * the store's host and endpoint records and the agents that follow them carry IPv4 VTEPs so far.
 */
export function checkClusterVtep(text: string, what: string): string {
  if (vtepFamily(text) === 6) {
    throw bad(`${what} ${text}: cluster hosts' VTEPs are IPv4 only so far (an IPv6 underlay works on a daemon without --cluster-store, with -o vtep= and -o peers=); expected an IPv4 address, e.g. 198.18.0.1`);
  }
  return checkVtepAddress(text, what, 4);
}

/** The host namespace's only non-loopback, non-TAP IPv4 address. */
function defaultVtep(hostNetns: string | null): string {
  const nl = Rtnetlink.open(hostNetns ?? undefined);
  try {
    const addrs = nl
      .addrList()
      .filter((a) => !a.address.startsWith('127.') && nl.linkInfo(a.index).kind !== 'tun')
      .map((a) => a.address);
    if (addrs.length === 1) return addrs[0];
    throw bad(addrs.length === 0 ? '--cluster-store needs this host\'s VTEP address and it has no IPv4 address besides loopback: give the underlay interface one, or pass --advertise-addr IP' : `this host has several IPv4 addresses (${addrs.join(', ')}): choose the underlay one with --advertise-addr IP`);
  } finally {
    nl.close();
  }
}

export function parseClusterFlags(f: ClusterFlags, stateDir: string, hostNetns: string | null): ClusterConfig {
  const tlsFiles = f.clusterCa !== undefined || f.clusterCert !== undefined || f.clusterKey !== undefined;
  if ((f.clusterCert === undefined) !== (f.clusterKey === undefined)) throw bad('--cluster-cert and --cluster-key go together (a client certificate and its key)');
  const endpoints = parseStoreUrl(f.clusterStore, tlsFiles);
  const prefix = f.clusterPrefix ?? '/tsnet';
  if (!/^\/[\x21-\x7e]*[^/]$/.test(prefix) || prefix.includes('//')) throw bad(`--cluster-prefix ${JSON.stringify(prefix)}: expected an absolute key prefix of printable ASCII without a trailing '/', e.g. /tsnet`);
  const hostId = f.hostId ?? stableHostId(stateDir);
  if (!HOST_ID_RE.test(hostId)) throw bad(`--host-id ${JSON.stringify(hostId)}: expected 1-64 characters [a-zA-Z0-9_.-], starting with a letter or digit`);
  let ttlSeconds = 15;
  if (f.clusterTtl !== undefined) {
    if (!/^\d+$/.test(f.clusterTtl) || Number(f.clusterTtl) < 2 || Number(f.clusterTtl) > 3600) throw bad(`--cluster-ttl ${JSON.stringify(f.clusterTtl)}: expected whole seconds from 2 to 3600`);
    ttlSeconds = Number(f.clusterTtl);
  }
  const vtep = f.advertiseAddr !== undefined ? checkClusterVtep(f.advertiseAddr, '--advertise-addr') : defaultVtep(hostNetns);
  const tls = tlsFiles ? { ca: readPem(f.clusterCa, '--cluster-ca'), cert: readPem(f.clusterCert, '--cluster-cert'), key: readPem(f.clusterKey, '--cluster-key') } : undefined;
  return { client: { endpoints, tls }, prefix, hostId, vtep, ttlSeconds };
}
