/**
 * OvsUserspace: a private Open vSwitch for one bench run — the C userspace switch to beat. Never the
 * system's: its database, sockets, pid files and logs live in a temp dir (OVS_RUNDIR/OVS_DBDIR/
 * OVS_LOGDIR/OVS_SYSCONFDIR point there, every ovs-vsctl names the db socket), and ovs-vswitchd runs
 * inside a network namespace of its own, so the TAPs and the bridge's internal port it creates never
 * appear in the host namespace — and so that, when it deletes the datapaths its database does not
 * name (as ovs-vswitchd does at start), it can only see the kernel datapaths of that namespace (they
 * are per namespace): a system OVS on the same machine keeps its own.
 *
 * Start: `ovsdb-tool create` with the installed vswitch.ovsschema, ovsdb-server on a unix socket,
 * `ovs-vsctl --no-wait init` and other_config:userspace-tso-enable=true (read by ovs-vswitchd at start),
 * then ovs-vswitchd; an ovs-vsctl without --no-wait returns once ovs-vswitchd has applied the
 * database, which is the readiness check. Both daemons are this process's children (no --detach), so
 * teardown stops them and reaps them; PID 1 here does not reap orphans.
 *
 * Bridges use datapath_type=netdev (dpif-netdev: the userspace datapath, not the kernel module) and
 * ports of type=tap, whose fds OVS reads and writes with virtio-net headers, so TSO super-frames
 * cross it whole, as they cross tsnet-switch.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupStack, TrackedProcess } from '../cleanup-stack.js';
import { findOnPath, missingToolMessage, run } from '../host-commands.js';

export const OVS_TOOLS = ['ovs-vswitchd', 'ovsdb-server', 'ovsdb-tool', 'ovs-vsctl'];
const SCHEMA_CANDIDATES = ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema'];

function schemaPath(): string | null {
  return SCHEMA_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** null if Open vSwitch can run here, else why not. */
export function ovsUnavailable(): string | null {
  for (const tool of OVS_TOOLS) if (!findOnPath(tool)) return missingToolMessage(tool);
  if (!schemaPath()) return `Open vSwitch's vswitch.ovsschema not found (looked in ${SCHEMA_CANDIDATES.join(', ')}): reinstall openvswitch-common`;
  return null;
}

async function waitForFile(path: string, proc: TrackedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (!proc.running) throw new Error(`${proc.label} exited (${proc.exitCode ?? proc.exitSignal}) before creating ${path}: ${proc.tail()}`);
    if (Date.now() > deadline) throw new Error(`${proc.label} did not create ${path} within ${timeoutMs} ms: ${proc.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class OvsUserspace {
  private bridges = 0;

  private constructor(
    readonly dir: string,
    readonly netns: string,
    private readonly vswitchd: TrackedProcess,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Start ovsdb-server and ovs-vswitchd; everything is registered on `cleanup`. */
  static async start(cleanup: CleanupStack, tag: string): Promise<OvsUserspace> {
    const why = ovsUnavailable();
    if (why) throw new Error(why);
    const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-ovs-'));
    cleanup.defer(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    const env = { OVS_RUNDIR: dir, OVS_DBDIR: dir, OVS_LOGDIR: dir, OVS_SYSCONFDIR: dir };
    const db = join(dir, 'conf.db');
    const sock = join(dir, 'db.sock');
    await run('ovsdb-tool', ['create', db, schemaPath()!], { env: { ...process.env, ...env } });
    const ovsdb = cleanup.spawn('ovsdb-server', [db, `--remote=punix:${sock}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--log-file=${join(dir, 'ovsdb-server.log')}`], { env });
    await waitForFile(sock, ovsdb, 10_000);
    const vsctlEnv = { ...process.env, ...env };
    await run('ovs-vsctl', [`--db=unix:${sock}`, '--no-wait', 'init'], { env: vsctlEnv });
    await run('ovs-vsctl', [`--db=unix:${sock}`, '--no-wait', 'set', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true'], { env: vsctlEnv });
    const netns = await cleanup.netns(`tsnb-${tag}-ovs`);
    const vswitchd = cleanup.spawn('ovs-vswitchd', [`unix:${sock}`, `--unixctl=${join(dir, 'ovs-vswitchd.ctl')}`, `--log-file=${join(dir, 'ovs-vswitchd.log')}`], { netns, env });
    const ovs = new OvsUserspace(dir, netns, vswitchd, vsctlEnv);
    // Without --no-wait, ovs-vsctl returns once ovs-vswitchd has caught up with the database.
    await ovs.vsctl(['set', 'Open_vSwitch', '.', `external_ids:tsnet-bench-run=${tag}`]);
    return ovs;
  }

  /** ovs-vswitchd's pid, for its CPU. */
  get pid(): number {
    return this.vswitchd.pid!;
  }

  /** A new bridge name, short enough for a device name. */
  nextBridgeName(): string {
    return `ovb${this.bridges++}`;
  }

  vsctl(args: string[]): Promise<string> {
    if (!this.vswitchd.running) return Promise.reject(new Error(`ovs-vswitchd is not running: ${this.vswitchd.tail()}`));
    return run('ovs-vsctl', [`--db=unix:${join(this.dir, 'db.sock')}`, '--timeout=20', ...args], { env: this.env, timeoutMs: 30_000 });
  }
}
