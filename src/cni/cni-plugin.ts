/**
 * The tsnet-switch CNI plugin (spec 1.1; versions 0.4.0, 1.0.0, 1.1.0): a thin client of the
 * daemon's API socket, as Multus's thick plugin and Antrea's CNI binary are of theirs. The runtime
 * gives the command and the attachment in the environment and the configuration on stdin; the
 * result, or a CNI error object, goes to stdout.
 *
 *   ADD      (delegate to the IPAM plugin, if one is named) → POST /v1/attachments → result
 *   DEL      POST /v1/attachments/delete (unknown: fine), then the IPAM plugin's DEL
 *   CHECK    POST /v1/attachments/check, compared with prevResult; then the IPAM plugin's CHECK
 *   STATUS   GET /v1/ping: 50 when the daemon is not there
 *   GC       POST /v1/attachments/gc with cni.dev/valid-attachments; then the IPAM plugin's GC
 *   VERSION  the versions above
 * The daemon's refusals map onto the spec's codes (cniErrorFrom); a daemon that is down is 11 (try
 * again later) for ADD/DEL/CHECK/GC.
 */
import { ApiClient, DEFAULT_SOCKET } from '../control/api-client.js';
import { parseCidr } from '../control/cidr.js';
import { TsnError } from '../errors.js';
import { parsePluginConfig, parseStdinJson, SUPPORTED_VERSIONS, type PluginConfig } from './cni-config.js';
import { CNI_ERR, CniError } from './cni-error.js';
import { readCniEnv, type CniEnv } from './cni-env.js';
import { addResult, type AttachmentAnswer } from './cni-result.js';
import { delegateSupports, execDelegate, readIpamResult } from './ipam-delegate.js';

export interface PluginRun {
  stdout: string;
  exitCode: number;
}

/** CNI_ARGS keys this plugin reads, and those of the Kubernetes convention that it may ignore. */
const KNOWN_ARGS = new Set(['IgnoreUnknown', 'IP', 'MAC', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);

/** A daemon refusal as a CNI error: bad input 7 (4 for the namespace), conflicts 100, daemon down 11. */
export function cniErrorFrom(err: unknown, command: string): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof TsnError) {
    const details = `${err.code}: ${err.message}`;
    if (err.code === 'ERR_NO_DAEMON') {
      return new CniError(command === 'STATUS' ? CNI_ERR.NOT_AVAILABLE : CNI_ERR.TRY_AGAIN_LATER, 'the tsnet-switch daemon is not reachable', details);
    }
    if (err.code === 'ERR_NO_SUCH_SANDBOX' || err.code === 'ERR_BAD_SANDBOX') return new CniError(CNI_ERR.INVALID_ENV, 'invalid CNI_NETNS', details);
    if (err.code === 'ERR_BAD_CONTAINER_ID') return new CniError(CNI_ERR.INVALID_ENV, 'invalid CNI_CONTAINERID', details);
    if (err.code === 'ERR_NETWORK_MISMATCH') return new CniError(CNI_ERR.INVALID_CONFIG, 'the configuration does not match the existing network', details);
    if (err.code === 'ERR_NO_SUCH_ATTACHMENT' || err.code === 'ERR_ATTACHMENT_BROKEN') return new CniError(CNI_ERR.CHECK_FAILED, 'the attachment is not as it was made', details);
    if (err.status === 400) return new CniError(CNI_ERR.INVALID_CONFIG, 'invalid network configuration', details);
    if (err.status === 404 || err.status === 409 || err.status === 410) return new CniError(CNI_ERR.CONFLICT, 'refused by the tsnet-switch daemon', details);
    if (err.status === 503) return new CniError(CNI_ERR.TRY_AGAIN_LATER, 'the tsnet-switch daemon cannot do this now', details);
    return new CniError(CNI_ERR.DAEMON_FAILED, 'the tsnet-switch daemon failed', details);
  }
  return new CniError(CNI_ERR.DAEMON_FAILED, 'tsnet-switch plugin failure', (err as Error)?.message ?? String(err));
}

function client(cfg: PluginConfig | null, env: NodeJS.ProcessEnv): ApiClient {
  return new ApiClient(cfg?.socket ?? env.TSNET_SWITCH_SOCKET ?? DEFAULT_SOCKET);
}

function checkArgs(e: CniEnv): void {
  if (e.args.get('IgnoreUnknown') === '1' || e.args.get('IgnoreUnknown') === 'true') return;
  for (const k of e.args.keys()) {
    if (!KNOWN_ARGS.has(k)) throw new CniError(CNI_ERR.INVALID_ENV, 'invalid CNI_ARGS', `CNI_ARGS key ${JSON.stringify(k)} is not known: accepted IP, MAC (and IgnoreUnknown=1 to pass others)`);
  }
}

/** A fixed address for the daemon's own IPAM: runtimeConfig.ips (capability "ips") or CNI_ARGS IP. */
function requestedIp(cfg: PluginConfig, e: CniEnv): string | undefined {
  const ips = cfg.runtimeConfig.ips ?? (e.args.get('IP') ? e.args.get('IP')!.split(',') : []);
  const v4 = ips.map((x) => x.split('/')[0]).filter((x) => !x.includes(':'));
  if (v4.length > 1) throw new CniError(CNI_ERR.INVALID_CONFIG, 'more than one IPv4 address requested', `ips=${JSON.stringify(ips)}: an attachment has one IPv4 address`);
  return v4[0];
}

async function add(cfg: PluginConfig, e: CniEnv, env: NodeJS.ProcessEnv): Promise<string> {
  checkArgs(e);
  const mac = cfg.runtimeConfig.mac ?? e.args.get('MAC');
  const body: Record<string, unknown> = {
    network: cfg.network,
    containerId: e.containerId,
    ifname: e.ifname,
    netns: e.netns,
    ...(mac !== undefined ? { mac } : {}),
    create: {
      ...(cfg.driver !== undefined ? { driver: cfg.driver } : {}),
      ...(cfg.subnet !== undefined ? { subnet: cfg.subnet } : {}),
      ...(cfg.gateway !== undefined ? { gateway: cfg.gateway } : {}),
      ...(cfg.ipRange !== undefined ? { ipRange: cfg.ipRange } : {}),
      ...(cfg.mtu !== undefined ? { mtu: cfg.mtu } : {}),
      ...(cfg.options !== undefined ? { options: cfg.options } : {}),
    },
  };
  let dns: Record<string, unknown> | undefined = cfg.dns as Record<string, unknown> | undefined;
  if (cfg.ipam) {
    // The IPAM plugin chooses; the daemon takes its address as fixed (and makes the network from it on first use).
    const r = readIpamResult(cfg.ipam.type, await execDelegate(cfg.ipam.type, 'ADD', env, e.path, cfg.raw));
    try {
      const create = body.create as Record<string, unknown>;
      create.subnet ??= parseCidr(`${r.address.ip}/${r.address.prefixLen}`, { allowHostBits: true, what: `IPAM plugin ${cfg.ipam.type}'s address` }).text;
      if (r.address.gateway !== undefined) create.gateway ??= r.address.gateway;
      Object.assign(body, { ip: r.address.ip, prefixLen: r.address.prefixLen, routes: r.routes });
      if (dns === undefined && r.dns && Object.keys(r.dns).length) dns = r.dns;
      const answer = await client(cfg, env).call<AttachmentAnswer>('POST', '/v1/attachments', body);
      return JSON.stringify(addResult(cfg.cniVersion, answer, e.netns, dns, cfg.prevResult));
    } catch (err) {
      // The spec: a failed ADD after the delegate's ADD runs the delegate's DEL before failing.
      await execDelegate(cfg.ipam.type, 'DEL', env, e.path, cfg.raw).catch(() => undefined);
      throw err;
    }
  }
  const ip = requestedIp(cfg, e);
  if (ip !== undefined) body.ip = ip;
  const answer = await client(cfg, env).call<AttachmentAnswer>('POST', '/v1/attachments', body);
  return JSON.stringify(addResult(cfg.cniVersion, answer, e.netns, dns, cfg.prevResult));
}

async function del(cfg: PluginConfig, e: CniEnv, env: NodeJS.ProcessEnv): Promise<void> {
  await client(cfg, env).call('POST', '/v1/attachments/delete', { containerId: e.containerId, ifname: e.ifname });
  if (cfg.ipam) await execDelegate(cfg.ipam.type, 'DEL', env, e.path, cfg.raw);
}

async function check(cfg: PluginConfig, e: CniEnv, env: NodeJS.ProcessEnv): Promise<void> {
  const prev = cfg.prevResult;
  if (!prev) throw new CniError(CNI_ERR.INVALID_CONFIG, 'CHECK needs prevResult', 'prevResult is missing: the runtime must pass the result of the ADD');
  const a = await client(cfg, env).call<AttachmentAnswer & { endpoint: { sandboxPath: string } }>('POST', '/v1/attachments/check', { containerId: e.containerId, ifname: e.ifname });
  const fail = (why: string) => new CniError(CNI_ERR.CHECK_FAILED, 'the attachment is not as it was made', why);
  if (a.endpoint.sandboxPath !== e.netns) throw fail(`${e.ifname} of container ${e.containerId} is in ${a.endpoint.sandboxPath}, not CNI_NETNS ${e.netns}`);
  const ifaces = Array.isArray(prev.interfaces) ? (prev.interfaces as Record<string, unknown>[]) : [];
  const index = ifaces.findIndex((i) => i?.name === e.ifname && i?.sandbox === e.netns);
  if (index < 0) throw fail(`prevResult lists no interface ${e.ifname} in ${e.netns}`);
  if (ifaces[index].mac !== undefined && ifaces[index].mac !== a.endpoint.mac) throw fail(`prevResult says ${e.ifname} has MAC ${String(ifaces[index].mac)}, the switch has ${a.endpoint.mac}`);
  if (a.endpoint.ip !== null) {
    const want = `${a.endpoint.ip}/${a.endpoint.prefixLen}`;
    const ips = Array.isArray(prev.ips) ? (prev.ips as Record<string, unknown>[]) : [];
    if (!ips.some((x) => x?.address === want && (x.interface === undefined || x.interface === index))) throw fail(`prevResult does not list ${want} on ${e.ifname}`);
  }
  if (cfg.ipam) await execDelegate(cfg.ipam.type, 'CHECK', env, e.path, cfg.raw);
}

async function status(cfg: PluginConfig, e: CniEnv, env: NodeJS.ProcessEnv): Promise<void> {
  await client(cfg, env).call('GET', '/v1/ping');
  // A delegated plugin is asked too, when it knows STATUS (from spec 1.1.0 on).
  if (cfg.ipam && (await delegateSupports(cfg.ipam.type, env, e.path, '1.1.0'))) await execDelegate(cfg.ipam.type, 'STATUS', env, e.path, cfg.raw);
}

async function gc(cfg: PluginConfig, e: CniEnv, env: NodeJS.ProcessEnv): Promise<void> {
  const valid = (cfg.validAttachments ?? []).map((a) => ({ containerId: a.containerID, ifname: a.ifname }));
  const r = await client(cfg, env).call<{ errors: string[] }>('POST', '/v1/attachments/gc', { network: cfg.network, valid });
  let delegateError: CniError | null = null;
  if (cfg.ipam && (await delegateSupports(cfg.ipam.type, env, e.path, '1.1.0'))) {
    await execDelegate(cfg.ipam.type, 'GC', env, e.path, cfg.raw).catch((err: unknown) => (delegateError = cniErrorFrom(err, 'GC')));
  }
  if (r.errors.length) throw new CniError(CNI_ERR.DAEMON_FAILED, 'GC could not remove every stale attachment', r.errors.join('; '));
  if (delegateError) throw delegateError;
}

/** The cniVersion to answer an error with: the input's if it is readable, else the newest. */
function errorVersion(stdin: string): string {
  try {
    const v = JSON.parse(stdin)?.cniVersion;
    return typeof v === 'string' && v ? v : SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];
  } catch {
    return SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];
  }
}

export async function runCniPlugin(env: NodeJS.ProcessEnv, stdin: string): Promise<PluginRun> {
  let command = env.CNI_COMMAND ?? '';
  try {
    const e = readCniEnv(env);
    command = e.command;
    if (e.command === 'VERSION') {
      const input = stdin.trim() ? parseStdinJson(stdin) : {};
      const v = typeof input.cniVersion === 'string' && input.cniVersion ? input.cniVersion : SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1];
      return { stdout: JSON.stringify({ cniVersion: v, supportedVersions: SUPPORTED_VERSIONS }), exitCode: 0 };
    }
    const cfg = parsePluginConfig(stdin);
    if (e.command === 'ADD') return { stdout: await add(cfg, e, env), exitCode: 0 };
    // The other verbs print nothing on success.
    await { DEL: del, CHECK: check, STATUS: status, GC: gc }[e.command](cfg, e, env);
    return { stdout: '', exitCode: 0 };
  } catch (err) {
    return { stdout: JSON.stringify(cniErrorFrom(err, command).toJSON(errorVersion(stdin))), exitCode: 1 };
  }
}
