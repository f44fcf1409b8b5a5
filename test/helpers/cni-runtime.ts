/**
 * A CNI runtime for tests, doing what libcni does (SPEC.md, section 3): run each plugin of a conflist
 * with CNI_* in the environment and the derived request configuration on stdin (cniVersion and name
 * from the list, runtimeConfig from the capabilities the plugin declares and the runtime provides,
 * prevResult from the previous plugin on ADD and from the cached ADD result on CHECK/DEL, DEL in
 * reverse order, GC with cni.dev/valid-attachments). Plugins run inside the namespace that plays the
 * host (`ip netns exec`), as a runtime runs them in its own.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const SYSTEM_CNI_DIR = '/usr/lib/cni';

export interface PluginAnswer {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | null;
}

export interface Attachment {
  containerId: string;
  netns: string;
  ifname: string;
  args?: string;
  /** Capability arguments the runtime provides (portMappings, ips, mac…). */
  capabilityArgs?: Record<string, unknown>;
}

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
  disableCheck?: boolean;
}

export class CniRuntime {
  /** `binDirs`: CNI_PATH, searched in order for each plugin's type. */
  constructor(
    readonly hostNs: string,
    readonly binDirs: string[],
  ) {}

  /** Run one plugin binary, as a runtime does. `env` values override the attachment's. */
  exec(type: string, command: string, config: unknown, at: Partial<Attachment> = {}, env: Record<string, string | undefined> = {}): Promise<PluginAnswer> {
    const file = this.find(type);
    const stdin = typeof config === 'string' ? config : JSON.stringify(config);
    const cniEnv: Record<string, string> = { CNI_COMMAND: command, CNI_PATH: this.binDirs.join(':') };
    if (at.containerId !== undefined) cniEnv.CNI_CONTAINERID = at.containerId;
    if (at.netns !== undefined) cniEnv.CNI_NETNS = at.netns;
    if (at.ifname !== undefined) cniEnv.CNI_IFNAME = at.ifname;
    if (at.args !== undefined) cniEnv.CNI_ARGS = at.args;
    const full: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...cniEnv };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete full[k];
      else full[k] = v;
    }
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', this.hostNs, file], { env: full, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(t);
        let json: Record<string, unknown> | null = null;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : null;
        } catch {
          json = null;
        }
        resolve({ code: code ?? -1, stdout, stderr, json });
      });
      child.stdin.end(stdin);
    });
  }

  private find(type: string): string {
    // libcni's FindInPath: the first directory of CNI_PATH that holds an executable of that name.
    for (const d of this.binDirs) {
      const f = join(d, type);
      try {
        accessSync(f, constants.X_OK);
        return f;
      } catch {
        // next
      }
    }
    throw new Error(`plugin ${type} not in ${this.binDirs.join(':')}`);
  }

  /** The request configuration of plugin `i` (SPEC.md "Deriving request configuration"). */
  derive(list: ConfList, i: number, at: Attachment, prevResult: unknown, command: string): Record<string, unknown> {
    const { capabilities, ...plugin } = list.plugins[i] as { capabilities?: Record<string, boolean> } & Record<string, unknown>;
    const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
    if (command === 'GC') return conf;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(capabilities ?? {})) {
      if (on && at.capabilityArgs && cap in at.capabilityArgs) runtimeConfig[cap] = at.capabilityArgs[cap];
    }
    if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return conf;
  }

  /** ADD the list; throws with the failing plugin's answer. Returns the final result (what a runtime caches). */
  async add(list: ConfList, at: Attachment): Promise<Record<string, unknown>> {
    let prev: unknown;
    for (let i = 0; i < list.plugins.length; i++) {
      const r = await this.exec(String(list.plugins[i].type), 'ADD', this.derive(list, i, at, prev, 'ADD'), at);
      if (r.code !== 0) throw new PluginFailure(String(list.plugins[i].type), 'ADD', r);
      prev = r.json;
    }
    return prev as Record<string, unknown>;
  }

  async check(list: ConfList, at: Attachment, cached: unknown): Promise<void> {
    for (let i = 0; i < list.plugins.length; i++) {
      const r = await this.exec(String(list.plugins[i].type), 'CHECK', this.derive(list, i, at, cached, 'CHECK'), at);
      if (r.code !== 0) throw new PluginFailure(String(list.plugins[i].type), 'CHECK', r);
    }
  }

  async del(list: ConfList, at: Attachment, cached: unknown): Promise<void> {
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      const r = await this.exec(String(list.plugins[i].type), 'DEL', this.derive(list, i, at, cached, 'DEL'), at);
      if (r.code !== 0) throw new PluginFailure(String(list.plugins[i].type), 'DEL', r);
    }
  }

  /** GC every plugin of the list; errors are collected (the spec: continue, return all). */
  async gc(list: ConfList, valid: { containerID: string; ifname: string }[]): Promise<PluginAnswer[]> {
    const failures: PluginAnswer[] = [];
    for (let i = 0; i < list.plugins.length; i++) {
      const conf = { ...this.derive(list, i, { containerId: '', netns: '', ifname: '' }, undefined, 'GC'), 'cni.dev/valid-attachments': valid };
      const r = await this.exec(String(list.plugins[i].type), 'GC', conf);
      if (r.code !== 0) failures.push(r);
    }
    return failures;
  }
}

export class PluginFailure extends Error {
  constructor(
    readonly type: string,
    readonly command: string,
    readonly answer: PluginAnswer,
  ) {
    super(`${type} ${command} exited ${answer.code}: ${answer.stdout.trim()} ${answer.stderr.trim()}`);
  }
}
