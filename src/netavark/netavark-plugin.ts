/**
 * The tsnet-switch netavark plugin (netavark's plugin-API.md; netavark 1.6+ runs external plugins
 * for podman networks whose driver names one): four subcommands, JSON on stdin, JSON on stdout,
 * `{"error": "message"}` on stdout and exit 1 on failure.
 *
 *   info                 {"version", "api_version": "1.0.0"}
 *   create               the network config podman made (name, id, driver fixed), checked and
 *                        completed: one IPv4 subnet at most, its gateway filled in. No daemon call:
 *                        the tsnet network is made on the first setup, as the CNI plugin does.
 *   setup NETNS          NetworkPluginExec in → POST /v1/attachments (identity: container_id +
 *                        interface_name; podman's static_ips/static_mac as fixed) → StatusBlock out
 *   teardown NETNS       POST /v1/attachments/delete; an unknown attachment is no error
 * Port mappings are refused rather than ignored: the plugin does not forward ports (yet).
 */
import { ApiClient, DEFAULT_SOCKET } from '../control/api-client.js';
import { formatIpv4, parseCidr } from '../control/cidr.js';
import { TsnError } from '../errors.js';

export const NETAVARK_API_VERSION = '1.0.0';
export const PLUGIN_VERSION = '0.1.0';

type Json = Record<string, unknown>;

export class NetavarkError extends Error {}

function fail(msg: string): never {
  throw new NetavarkError(msg);
}

function parseJson(text: string, what: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    fail(`${what} on stdin is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} on stdin is not a JSON object`);
  return v as Json;
}

/** The one IPv4 subnet of a network config (none: the daemon picks one from its pools on first setup). */
function ipv4Subnet(net: Json): { subnet: string; gateway?: string } | null {
  const subnets = (net.subnets ?? []) as Json[];
  if (!Array.isArray(subnets)) fail(`subnets ${JSON.stringify(net.subnets)}: expected a list of {subnet, gateway}`);
  if (net.ipv6_enabled === true || subnets.some((s) => String(s?.subnet).includes(':'))) fail('IPv6 is not supported by tsnet-switch yet: drop --ipv6 and IPv6 subnets');
  if (subnets.length > 1) fail(`${subnets.length} subnets given: a tsnet network has one IPv4 subnet`);
  if (subnets.length === 0) return null;
  const s = subnets[0];
  try {
    const c = parseCidr(String(s.subnet), { what: 'subnet' });
    return { subnet: c.text, ...(typeof s.gateway === 'string' ? { gateway: s.gateway } : {}) };
  } catch (err) {
    return fail((err as Error).message);
  }
}

/** `create`: the config podman made, checked, with the gateway filled in (the first host, as the daemon would choose). */
export function createNetwork(net: Json): Json {
  for (const k of ['name', 'id', 'driver']) if (typeof net[k] !== 'string' || net[k] === '') fail(`${k} ${JSON.stringify(net[k])}: podman sets it; expected a string`);
  const s = ipv4Subnet(net);
  const options = (net.options ?? {}) as Record<string, unknown>;
  if (typeof options !== 'object' || Object.values(options).some((v) => typeof v !== 'string')) fail(`options ${JSON.stringify(net.options)}: expected string values`);
  if (options.mtu !== undefined && !/^\d+$/.test(options.mtu as string)) fail(`option mtu=${String(options.mtu)}: expected an integer from 68 to 65535`);
  const out: Json = { ...net, dns_enabled: net.dns_enabled === true, internal: net.internal === true, ipv6_enabled: false };
  if (s) {
    const c = parseCidr(s.subnet);
    out.subnets = [{ ...(net.subnets as Json[])[0], subnet: s.subnet, gateway: s.gateway ?? formatIpv4(c.network + 1) }];
  }
  return out;
}

interface Answer {
  endpoint: { mac: string; ip: string | null; prefixLen: number | null };
  network: { gateway: string | null };
}

function client(env: NodeJS.ProcessEnv): ApiClient {
  return new ApiClient(env.TSNET_SWITCH_SOCKET ?? DEFAULT_SOCKET);
}

function execOf(input: Json): { containerId: string; ifname: string; net: Json; opts: Json } {
  const net = input.network as Json;
  const opts = input.network_options as Json;
  if (typeof input.container_id !== 'string' || input.container_id === '') fail('container_id: missing; expected the container id podman sets');
  if (!net || typeof net !== 'object' || typeof net.name !== 'string') fail('network: missing; expected the network config');
  if (!opts || typeof opts !== 'object' || typeof opts.interface_name !== 'string') fail('network_options.interface_name: missing; expected the interface name in the container');
  return { containerId: input.container_id as string, ifname: opts.interface_name as string, net, opts };
}

export async function setup(netns: string, input: Json, env: NodeJS.ProcessEnv): Promise<Json> {
  const { containerId, ifname, net, opts } = execOf(input);
  const ports = input.port_mappings as unknown[] | null | undefined;
  if (Array.isArray(ports) && ports.length > 0) fail(`port_mappings ${JSON.stringify(ports)}: the tsnet-switch netavark plugin does not forward ports yet; run without -p (the CNI plugin does it with the chained portmap)`);
  const s = ipv4Subnet(net);
  const staticIps = ((opts.static_ips ?? []) as string[]).filter((ip) => !ip.includes(':'));
  if (staticIps.length > 1) fail(`static_ips ${JSON.stringify(opts.static_ips)}: an attachment has one IPv4 address`);
  const options = { ...((net.options ?? {}) as Record<string, string>) };
  const mtu = options.mtu !== undefined ? Number(options.mtu) : undefined;
  delete options.mtu;
  if (net.internal === true) options.internal = 'true';
  const body = {
    network: net.name,
    containerId,
    ifname,
    netns,
    ...(staticIps.length ? { ip: staticIps[0] } : {}),
    ...(typeof opts.static_mac === 'string' && opts.static_mac ? { mac: opts.static_mac } : {}),
    create: { ...(s ? { subnet: s.subnet, ...(s.gateway ? { gateway: s.gateway } : {}) } : {}), ...(mtu !== undefined ? { mtu } : {}), ...(Object.keys(options).length ? { options } : {}) },
  };
  const a = await client(env).call<Answer>('POST', '/v1/attachments', body);
  const subnets = a.endpoint.ip !== null ? [{ ipnet: `${a.endpoint.ip}/${a.endpoint.prefixLen}`, ...(a.network.gateway ? { gateway: a.network.gateway } : {}) }] : [];
  return { dns_search_domains: [], dns_server_ips: [], interfaces: { [ifname]: { mac_address: a.endpoint.mac, subnets } } };
}

export async function teardown(input: Json, env: NodeJS.ProcessEnv): Promise<void> {
  const { containerId, ifname } = execOf(input);
  await client(env).call('POST', '/v1/attachments/delete', { containerId, ifname });
}

/** Run one subcommand as netavark does: argv after the binary, stdin text → stdout text and exit code. */
export async function runNetavarkPlugin(argv: string[], stdin: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; exitCode: number }> {
  try {
    const [cmd, netns] = argv;
    const needNetns = () => (netns ? netns : fail(`${cmd}: the container's netns path argument is missing`));
    switch (cmd) {
      case undefined:
      case 'info':
        return { stdout: JSON.stringify({ version: PLUGIN_VERSION, api_version: NETAVARK_API_VERSION, description: 'tsnet-switch: a userspace virtual switch (thin client of its daemon)' }), exitCode: 0 };
      case 'create':
        return { stdout: JSON.stringify(createNetwork(parseJson(stdin, 'the network config'))), exitCode: 0 };
      case 'setup': {
        const ns = needNetns();
        return { stdout: JSON.stringify(await setup(ns, parseJson(stdin, 'the setup options'), env)), exitCode: 0 };
      }
      case 'teardown':
        needNetns();
        await teardown(parseJson(stdin, 'the teardown options'), env);
        return { stdout: '', exitCode: 0 };
      default:
        return fail(`unknown subcommand: ${cmd}; expected create, setup, teardown or info`);
    }
  } catch (err) {
    const msg = err instanceof TsnError ? `${err.code}: ${err.message}` : (err as Error).message;
    return { stdout: JSON.stringify({ error: msg }), exitCode: 1 };
  }
}
