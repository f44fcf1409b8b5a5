/**
 * Delegation to a standard IPAM plugin (SPEC.md, section 4): look its `type` up in the CNI_PATH
 * directories, run it with the same environment and the same stdin the runtime gave us, let its
 * stderr through to ours, and read its result (or its error object) from its stdout.
 */
import { isIpv4 } from '../control/cidr.js';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CNI_ERR, CniError } from './cni-error.js';

export function findPlugin(type: string, path: string[]): string {
  for (const dir of path) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CNI_ERR.INVALID_CONFIG, `IPAM plugin ${type} not found`, `ipam.type=${JSON.stringify(type)}: no executable ${type} in CNI_PATH ${JSON.stringify(path.join(':'))}`);
}

/** Run a delegated plugin with `command`; resolves to its parsed stdout (null when it printed nothing). */
export function execDelegate(type: string, command: string, env: NodeJS.ProcessEnv, path: string[], stdin: string): Promise<Record<string, unknown> | null> {
  const file = findPlugin(type, path);
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { ...env, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', (err) => reject(new CniError(CNI_ERR.DELEGATE_FAILED, `IPAM plugin ${type} could not be run`, `${file}: ${err.message}`)));
    child.on('close', (code, signal) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      let json: Record<string, unknown> | null = null;
      if (text) {
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = null;
        }
      }
      if (code === 0) {
        if (text && json === null) return reject(new CniError(CNI_ERR.DECODE, `IPAM plugin ${type} printed no JSON`, `${file} ${command}: ${text.slice(0, 200)}`));
        return resolve(json);
      }
      if (json && typeof json.code === 'number') {
        return reject(new CniError(json.code, `IPAM plugin ${type}: ${String(json.msg ?? 'failed')}`, json.details !== undefined ? String(json.details) : undefined));
      }
      reject(new CniError(CNI_ERR.DELEGATE_FAILED, `IPAM plugin ${type} failed`, `${file} ${command} exited ${code ?? signal}${text ? `: ${text.slice(0, 200)}` : ''}`));
    });
    child.stdin.on('error', () => undefined); // a plugin that exits without reading stdin
    child.stdin.end(stdin);
  });
}

/** Whether a delegated plugin speaks `version` (VERSION command): STATUS and GC exist from 1.1.0 on. */
export async function delegateSupports(type: string, env: NodeJS.ProcessEnv, path: string[], version: string): Promise<boolean> {
  const r = await execDelegate(type, 'VERSION', env, path, JSON.stringify({ cniVersion: version }));
  return Array.isArray(r?.supportedVersions) && (r.supportedVersions as unknown[]).includes(version);
}

export interface IpamAddress {
  ip: string;
  prefixLen: number;
  gateway?: string;
}

/** The one IPv4 address, the routes and DNS of an IPAM plugin's ADD result (SPEC.md: "Delegated plugins (IPAM)"). */
export function readIpamResult(type: string, r: Record<string, unknown> | null): { address: IpamAddress; routes: { dst: string; gw?: string }[]; dns?: Record<string, unknown> } {
  const ips = Array.isArray(r?.ips) ? (r!.ips as Record<string, unknown>[]) : [];
  const v4 = ips.filter((x) => typeof x?.address === 'string' && !(x.address as string).includes(':'));
  if (v4.length !== 1) {
    throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, `IPAM plugin ${type} returned ${v4.length} IPv4 addresses`, `ips=${JSON.stringify(ips)}: tsnet-switch gives an attachment exactly one IPv4 address (IPv6 is not supported yet)`);
  }
  const m = /^([^/]+)\/(\d{1,2})$/.exec(v4[0].address as string);
  if (!m || !isIpv4(m[1]) || Number(m[2]) > 32) throw new CniError(CNI_ERR.DECODE, `IPAM plugin ${type} returned a bad address`, `address=${JSON.stringify(v4[0].address)}: expected IPv4 CIDR`);
  const gateway = typeof v4[0].gateway === 'string' ? (v4[0].gateway as string) : undefined;
  const routes = (Array.isArray(r?.routes) ? (r!.routes as Record<string, unknown>[]) : [])
    .filter((x) => typeof x?.dst === 'string' && !(x.dst as string).includes(':'))
    .map((x) => ({ dst: x.dst as string, ...(typeof x.gw === 'string' ? { gw: x.gw as string } : {}) }));
  const dns = r?.dns && typeof r.dns === 'object' ? (r.dns as Record<string, unknown>) : undefined;
  return { address: { ip: m[1], prefixLen: Number(m[2]), gateway }, routes, dns };
}
