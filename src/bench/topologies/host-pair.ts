/**
 * The topology most scenarios share: two hosts (network namespaces) that reach each other through
 * the switch under test — client in one, server in the other, one subnet, addresses from 10.88.0.0/24.
 * Each path builds its own pair in its own namespaces, so all paths of a scenario exist side by side
 * and the runner alternates between them without rebuilding.
 */
import { run } from '../host-commands.js';
import type { BuiltPath } from '../scenario.js';

export interface HostPair extends BuiltPath {
  clientNs: string;
  serverNs: string;
  clientIp: string;
  serverIp: string;
}

export const PAIR_PREFIX_LEN = 24;
export const CLIENT = { ip: '10.88.0.2', mac: '02:42:0a:58:00:02' } as const;
export const SERVER = { ip: '10.88.0.3', mac: '02:42:0a:58:00:03' } as const;

/** Give `ifname` inside `ns` a MAC and an address, and bring it up. */
export async function configureLink(ns: string, ifname: string, mac: string, ip: string, mtu?: number): Promise<void> {
  await run('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'address', mac, ...(mtu ? ['mtu', String(mtu)] : [])]);
  await run('ip', ['-n', ns, 'addr', 'add', `${ip}/${PAIR_PREFIX_LEN}`, 'dev', ifname]);
  await run('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'up']);
}
