/**
 * The marker on every device the daemon makes: its interface alias (IFLA_IFALIAS, `ip link show`
 * prints it as `alias ...`), set before the device is made persistent, so that reconcile and doctor
 * tell the daemon's devices from anyone else's exactly, never from a name alone. The alias stays with
 * the device across namespace moves and daemon restarts.
 *
 *   tsnet-switch/1 owner=/var/lib/tsnet-switch net=<network id> role=gateway|shim|endpoint [ep=<endpoint id>]
 *
 * owner is the state directory of the daemon that made it (URI-encoded): two daemons on one host
 * (two state dirs) never take each other's devices.
 */
import { resolve } from 'node:path';
import { TsnError } from '../errors.js';

const PREFIX = 'tsnet-switch/1';
/** IFALIASZ - 1: the kernel refuses longer aliases. */
const MAX_ALIAS = 255;

export type DeviceRole = 'gateway' | 'shim' | 'endpoint';

export interface DeviceMarker {
  /** The state directory of the daemon that made the device (absolute). */
  owner: string;
  network: string;
  role: DeviceRole;
  /** role endpoint: the endpoint's id. */
  endpoint?: string;
}

export function formatMarker(m: DeviceMarker): string {
  const text = `${PREFIX} owner=${encodeURIComponent(m.owner)} net=${m.network} role=${m.role}${m.endpoint ? ` ep=${m.endpoint}` : ''}`;
  if (Buffer.byteLength(text) > MAX_ALIAS) {
    throw new TsnError('ERR_STATE_DIR', `state directory ${m.owner}: its path is too long for the device marker (an interface alias of at most ${MAX_ALIAS} bytes); use a shorter --state-dir`);
  }
  return text;
}

/** The marker in an alias, or null if the alias is not one of ours (or is malformed). */
export function parseMarker(alias: string): DeviceMarker | null {
  const words = alias.split(' ');
  if (words[0] !== PREFIX) return null;
  const kv = new Map(words.slice(1).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] as const));
  const owner = kv.get('owner');
  const network = kv.get('net');
  const role = kv.get('role');
  if (!owner || !network || (role !== 'gateway' && role !== 'shim' && role !== 'endpoint')) return null;
  if (role === 'endpoint' && !kv.get('ep')) return null;
  let dir: string;
  try {
    dir = decodeURIComponent(owner);
  } catch {
    return null;
  }
  return { owner: dir, network, role, ...(role === 'endpoint' ? { endpoint: kv.get('ep') } : {}) };
}

/** The owner string for a state directory: its absolute path. */
export function markerOwner(stateDir: string): string {
  return resolve(stateDir);
}

/** The alias for a device a driver makes, or undefined when the daemon has no owner (drivers in unit tests). */
export function deviceAlias(owner: string | undefined, network: string, role: DeviceRole, endpoint?: string): string | undefined {
  return owner === undefined ? undefined : formatMarker({ owner, network, role, endpoint });
}
