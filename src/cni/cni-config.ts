/**
 * The plugin's configuration as a runtime passes it on stdin (SPEC.md, sections 1 and 3):
 *
 *   { "cniVersion": "1.0.0", "name": "tsnet-net", "type": "tsnet-switch",
 *     "network": "tsnet-net",            the tsnet network (default: the conflist's name)
 *     "subnet": "10.89.0.0/24", "gateway": "10.89.0.1", "ipRange": …, "mtu": 1500,
 *     "driver": "bridge", "options": { "icc": "true" },   used when the network is made on first use
 *     "socket": "/run/tsnet-switch/api.sock",             the daemon's API socket
 *     "ipam": { "type": "host-local", … },                optional: a standard IPAM plugin (CNI_PATH)
 *     "dns": { "nameservers": […] } }                     copied into the result
 * plus what the runtime adds: runtimeConfig (capabilities `ips`, `mac`), prevResult, args and
 * `cni.dev/valid-attachments` (GC). Hand-checked, no schema library: the plugin runs once per
 * container and must start fast. Bad JSON is error 6, a bad field 7, an unsupported value 2, an
 * unsupported cniVersion 1; each names the key and value.
 */
import { CNI_ERR, CniError } from './cni-error.js';
import { isIpv4, parseCidr } from '../control/cidr.js';

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
const DRIVERS = ['bridge', 'null', 'overlay', 'macvlan', 'ipvlan'];
const NETWORK_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export interface DnsConfig {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface PluginConfig {
  cniVersion: CniVersion;
  name: string;
  network: string;
  socket?: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  mtu?: number;
  options?: Record<string, string>;
  /** A delegated IPAM plugin's section; null: the daemon's own IPAM. */
  ipam: ({ type: string } & Record<string, unknown>) | null;
  dns?: DnsConfig;
  runtimeConfig: { ips?: string[]; mac?: string };
  prevResult?: Record<string, unknown>;
  validAttachments?: { containerID: string; ifname: string }[];
  /** The text as received, passed unchanged to a delegated plugin. */
  raw: string;
}

const bad = (key: string, value: unknown, expected: string) => new CniError(CNI_ERR.INVALID_CONFIG, `invalid network configuration: ${key}`, `${key}=${JSON.stringify(value)}: ${expected}`);

function optString(obj: Record<string, unknown>, key: string, what = 'a string'): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw bad(key, v, `expected ${what}`);
  return v;
}

function stringList(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(key, v, 'expected a list of strings');
  return v as string[];
}

/** Parse stdin. `command` relaxes what VERSION needs (only cniVersion, and any version). */
export function parseStdinJson(text: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new CniError(CNI_ERR.DECODE, 'failed to decode the network configuration', `stdin is not JSON: ${(err as Error).message}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new CniError(CNI_ERR.DECODE, 'failed to decode the network configuration', 'stdin is not a JSON object');
  return obj as Record<string, unknown>;
}

export function checkVersion(v: unknown): CniVersion {
  if (typeof v !== 'string' || v === '') throw bad('cniVersion', v, `expected one of ${SUPPORTED_VERSIONS.join(', ')}`);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, 'incompatible CNI version', `cniVersion ${JSON.stringify(v)} is not supported: this plugin speaks ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v as CniVersion;
}

export function parsePluginConfig(raw: string): PluginConfig {
  const c = parseStdinJson(raw);
  const cniVersion = checkVersion(c.cniVersion);
  const name = optString(c, 'name');
  if (name === undefined) throw bad('name', c.name, 'expected the network name (the runtime sets it from the conflist)');
  if (c.type !== 'tsnet-switch') throw bad('type', c.type, 'expected "tsnet-switch"');
  const network = optString(c, 'network') ?? name;
  if (!NETWORK_RE.test(network)) throw bad(c.network !== undefined ? 'network' : 'name', network, 'expected 1-64 characters [a-zA-Z0-9_.-] starting with a letter or digit (a tsnet network name)');
  const driver = optString(c, 'driver');
  if (driver !== undefined && !DRIVERS.includes(driver)) {
    throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, 'unsupported field in the network configuration', `driver=${JSON.stringify(driver)}: expected one of ${DRIVERS.join(', ')}`);
  }
  const subnet = optString(c, 'subnet', 'an IPv4 CIDR such as 10.89.0.0/24');
  if (subnet !== undefined && subnet.includes(':')) {
    throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, 'unsupported field in the network configuration', `subnet=${JSON.stringify(subnet)}: IPv6 subnets are not supported yet; expected an IPv4 CIDR`);
  }
  if (subnet !== undefined) {
    try {
      parseCidr(subnet, { what: 'subnet' }); // the project's one reading of a CIDR (host bits refused, with the fix)
    } catch (err) {
      throw bad('subnet', subnet, `${(err as Error).message}; expected an IPv4 CIDR such as 10.89.0.0/24`);
    }
  }
  const gateway = optString(c, 'gateway', 'an IPv4 address');
  if (gateway !== undefined && !isIpv4(gateway)) throw bad('gateway', gateway, 'expected an IPv4 address such as 10.89.0.1');
  const ipRange = optString(c, 'ipRange', 'an IPv4 CIDR inside the subnet');
  let mtu: number | undefined;
  if (c.mtu !== undefined) {
    if (typeof c.mtu !== 'number' || !Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu > 65535) throw bad('mtu', c.mtu, 'expected an integer from 68 to 65535');
    mtu = c.mtu;
  }
  let options: Record<string, string> | undefined;
  if (c.options !== undefined) {
    if (c.options === null || typeof c.options !== 'object' || Array.isArray(c.options) || Object.values(c.options).some((v) => typeof v !== 'string')) {
      throw bad('options', c.options, 'expected an object of string values, e.g. {"icc": "false"}');
    }
    options = c.options as Record<string, string>;
  }
  let ipam: PluginConfig['ipam'] = null;
  if (c.ipam !== undefined) {
    if (c.ipam === null || typeof c.ipam !== 'object' || Array.isArray(c.ipam)) throw bad('ipam', c.ipam, 'expected an object, e.g. {"type": "host-local", ...}, or none for the daemon\'s own IPAM');
    const t = (c.ipam as Record<string, unknown>).type;
    if (t !== undefined) {
      if (typeof t !== 'string' || t === '' || t.includes('/') || t.includes('\\') || t === '.' || t === '..') throw bad('ipam.type', t, 'expected the file name of an IPAM plugin in CNI_PATH, e.g. host-local or static');
      ipam = c.ipam as PluginConfig['ipam'];
    } else if (Object.keys(c.ipam as object).length > 0) {
      throw bad('ipam', c.ipam, 'without a type the daemon\'s own IPAM is used: put subnet/gateway at the top level, or name an IPAM plugin with "type"');
    }
  }
  let dns: DnsConfig | undefined;
  if (c.dns !== undefined) {
    const d = c.dns as Record<string, unknown>;
    if (d === null || typeof d !== 'object' || Array.isArray(d)) throw bad('dns', c.dns, 'expected an object {nameservers, domain, search, options}');
    dns = {};
    if (d.nameservers !== undefined) dns.nameservers = stringList(d.nameservers, 'dns.nameservers');
    if (d.domain !== undefined) dns.domain = optString(d, 'domain');
    if (d.search !== undefined) dns.search = stringList(d.search, 'dns.search');
    if (d.options !== undefined) dns.options = stringList(d.options, 'dns.options');
  }
  const runtimeConfig: PluginConfig['runtimeConfig'] = {};
  const rc = c.runtimeConfig as Record<string, unknown> | undefined;
  if (rc !== undefined && rc !== null && typeof rc === 'object') {
    if (rc.ips !== undefined) runtimeConfig.ips = stringList(rc.ips, 'runtimeConfig.ips');
    if (rc.mac !== undefined) runtimeConfig.mac = optString(rc, 'mac', 'a MAC address');
  }
  let prevResult: Record<string, unknown> | undefined;
  if (c.prevResult !== undefined && c.prevResult !== null) {
    if (typeof c.prevResult !== 'object' || Array.isArray(c.prevResult)) throw bad('prevResult', c.prevResult, 'expected a result object');
    prevResult = c.prevResult as Record<string, unknown>;
  }
  let validAttachments: PluginConfig['validAttachments'];
  const va = c['cni.dev/valid-attachments'];
  if (va !== undefined) {
    if (!Array.isArray(va) || va.some((a) => a === null || typeof a !== 'object' || typeof a.containerID !== 'string' || typeof a.ifname !== 'string')) {
      throw bad('cni.dev/valid-attachments', va, 'expected a list of {"containerID": ID, "ifname": NAME}');
    }
    validAttachments = va as PluginConfig['validAttachments'];
  }
  return {
    cniVersion,
    name,
    network,
    socket: optString(c, 'socket', 'the path of the daemon\'s API socket'),
    driver,
    subnet,
    gateway,
    ipRange,
    mtu,
    options,
    ipam,
    dns,
    runtimeConfig,
    prevResult,
    validAttachments,
    raw,
  };
}
