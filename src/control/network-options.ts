/**
 * `network create` options common to every driver, checked before anything is made:
 *
 *   --mtu N, -o mtu=N                68..65535 (default 1500; a driver may derive its own default)
 *   -o icc=true|false                inter-container traffic (Docker: com.docker.network.bridge.enable_icc)
 *   -o internal=true|false           no gateway port, no default route
 *   -o bridge.name=IFACE             the host-side gateway TAP (Docker: com.docker.network.bridge.name)
 *   -o port_security=mac|ip          what a container's source must match
 *
 * Keys a driver declares in `optionKeys` (drivers/network-driver.ts) are kept raw in the network's
 * options for that driver's `plan` to check; they are known to every driver, so a network of another
 * driver refuses them by name ("option of the macvlan and ipvlan drivers, not of bridge"). Keys in a
 * driver's `ownOptionKeys` are passed over here and read by its `plan` from the request. Anything else
 * is an unknown option.
 */
import { TsnError } from '../errors.js';
import type { DriverName, NetworkOptions } from './model.js';

/** What `network create` asks for (the API's body; the CLI builds it from its flags). */
export interface CreateNetworkRequest {
  name: string;
  /** A network id chosen by the caller (the cluster store: the same network on every host); default random. */
  id?: string;
  driver?: DriverName;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  /** Dual stack (Docker's --ipv6): the network also has an IPv6 subnet (ipam6.ts). */
  ipv6?: boolean;
  subnet6?: string;
  gateway6?: string;
  ipRange6?: string;
  /** name -> address; IPv6 values (and DefaultGatewayIPv6) go to the IPv6 pool. */
  auxAddresses?: Record<string, string>;
  mtu?: number;
  options?: Record<string, string>;
  /** Made through Docker's remote driver (src/docker/). */
  docker?: { networkId: string };
  /** Create it even if a host device holds or routes the subnet (host-subnet-clash.ts). */
  force?: boolean;
}

/** The option keys of one driver, as network-options.ts needs them (a NetworkDriver has these). */
export interface DriverOptionKeys {
  readonly name: DriverName;
  /** `-o` key -> the NetworkOptions field its raw value is kept in; the first key of a field is its name in errors. */
  readonly optionKeys?: Readonly<Record<string, keyof NetworkOptions>>;
  /** `-o` keys only this driver knows, read by its `plan` from the request's options. */
  readonly ownOptionKeys?: readonly string[];
}

/** The options every driver takes, and their Docker long forms. */
const COMMON_OPTION_KEYS: Record<string, keyof NetworkOptions> = {
  icc: 'icc',
  'com.docker.network.bridge.enable_icc': 'icc',
  internal: 'internal',
  'bridge.name': 'bridgeName',
  'com.docker.network.bridge.name': 'bridgeName',
  mtu: 'mtu',
  'com.docker.network.driver.mtu': 'mtu',
  port_security: 'portSecurity',
  masquerade: 'masquerade',
  'com.docker.network.bridge.enable_ip_masquerade': 'masquerade',
};

export interface ParsedNetworkOptions {
  options: NetworkOptions;
  /** The fields the request set explicitly (`--mtu` counts as mtu): a driver's default applies to the others. */
  given: ReadonlySet<keyof NetworkOptions>;
}

/** An interface name the kernel takes (IFNAMSIZ), or ERR_BAD_NAME naming `what`. */
export function checkIfname(name: string, what: string): string {
  if (Buffer.byteLength(name) < 1 || Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:%\s]/.test(name)) {
    throw new TsnError('ERR_BAD_NAME', `${what} ${JSON.stringify(name)} is not a valid interface name: 1 to 15 bytes, no '/', ':', '%' or spaces`);
  }
  return name;
}

function parseBool(key: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new TsnError('ERR_BAD_OPTION', `-o ${key}=${v}: expected true or false`);
}

function parseMtu(v: number | string, what: string): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 68 || n > 65535) throw new TsnError('ERR_BAD_OPTION', `${what} ${v}: expected an integer from 68 to 65535`);
  return n;
}

/**
 * Parse the common options of `req` for a network of `driver`; `drivers` are all drivers, whose
 * declared keys are known (and refused by name when they are another driver's). Nothing is made.
 */
export function parseNetworkOptions(req: CreateNetworkRequest, driver: DriverName, drivers: readonly DriverOptionKeys[]): ParsedNetworkOptions {
  const driverKeys: Record<string, keyof NetworkOptions> = {};
  for (const d of drivers) for (const [k, f] of Object.entries(d.optionKeys ?? {})) driverKeys[k] ??= f;
  const known: Record<string, keyof NetworkOptions> = { ...COMMON_OPTION_KEYS, ...driverKeys };
  const own = drivers.find((d) => d.name === driver)?.ownOptionKeys ?? [];
  const options: NetworkOptions = { mtu: req.mtu !== undefined ? parseMtu(req.mtu, '--mtu') : 1500, icc: true, internal: false, bridgeName: null };
  const given = new Set<keyof NetworkOptions>(req.mtu !== undefined ? ['mtu'] : []);
  for (const [key, value] of Object.entries(req.options ?? {})) {
    const field = known[key];
    if (!field && own.includes(key)) continue; // the driver's plan reads it
    if (!field) throw new TsnError('ERR_BAD_OPTION', `-o ${key}=${value}: unknown option; accepted: ${Object.keys(known).join(', ')}`);
    given.add(field);
    if (field === 'icc' || field === 'internal' || field === 'masquerade') options[field] = parseBool(key, value);
    else if (field === 'mtu') options.mtu = parseMtu(value, `-o ${key}`);
    else if (field === 'portSecurity') {
      if (value !== 'mac' && value !== 'ip') throw new TsnError('ERR_BAD_OPTION', `-o ${key}=${value}: expected mac or ip`);
      options.portSecurity = value;
    } else if (field === 'bridgeName') options.bridgeName = checkIfname(value, `-o ${key}`);
    else (options as unknown as Record<string, string>)[field] = value; // a driver's own field: its plan checks it
  }
  refuseOtherDriversOptions(driver, options, drivers);
  return { options, given };
}

/** Options kept for one driver given to a network of another: refused, naming whose they are. */
function refuseOtherDriversOptions(driver: DriverName, options: NetworkOptions, drivers: readonly DriverOptionKeys[]): void {
  const mine = new Set(Object.values(drivers.find((d) => d.name === driver)?.optionKeys ?? {}));
  const names: string[] = [];
  const owners: DriverName[] = [];
  const seen = new Set<keyof NetworkOptions>();
  for (const d of drivers) {
    for (const [key, field] of Object.entries(d.optionKeys ?? {})) {
      if (mine.has(field) || COMMON_OPTION_KEYS[key] !== undefined || options[field] === undefined) continue;
      if (!seen.has(field)) {
        seen.add(field);
        names.push(key); // the field's first key is its name
      }
      if (!owners.includes(d.name)) owners.push(d.name);
    }
  }
  if (names.length) {
    const whose = owners.length > 1 ? `the ${owners.slice(0, -1).join(', ')} and ${owners[owners.length - 1]} drivers` : `the ${owners[0]} driver`;
    throw new TsnError('ERR_BAD_OPTION', `-o ${names.join(', -o ')}: option${names.length > 1 ? 's' : ''} of ${whose}, not of ${driver}`);
  }
}
