/**
 * podman end to end with its CNI backend (Debian's podman 4.3): `podman network create`'s conflist
 * replaced by ours (tsnet-switch, then the standard portmap and tuning), two containers that get
 * their addresses from the daemon and ping each other through the switch (the frames counted in
 * `stats`), and `podman run -p` through the chained portmap.
 *
 * podman gets storage, run and config directories of its own in a temp dir (containers.conf via
 * CONTAINERS_CONF: network_backend "cni", our network_config_dir and plugin dirs, no default
 * ulimits, since runc cannot raise rlimits in these VMs) and runs in the test's "host" namespace
 * (nsenter --net, keeping the host's mount namespace so the daemon sees the namespace files podman
 * mounts under /run/netns). The image is Debian's busybox-static, `podman import`ed from a tar.
 * Everything goes at the end: containers, their namespaces and conmon processes, the iptables rules
 * (in the test namespace), the temp dir.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { nsExec, privilegedSkipReason, sh, which } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping podman CNI tests: ${skip}`);

const BUSYBOX = '/bin/busybox';
const NET = 'tsnet-net';

let d: TestDaemon;
let dir: string;
let hostNsPath: string;

function podmanArgs(args: string[]): string[] {
  return [
    `--net=${hostNsPath}`,
    'podman',
    '--root', join(dir, 'root'),
    '--runroot', join(dir, 'runroot'),
    '--tmpdir', join(dir, 'tmp'),
    '--storage-driver', 'vfs',
    '--cgroup-manager=cgroupfs',
    '--events-backend=file',
    ...args,
  ];
}

/** Run podman in the test's host namespace with our containers.conf; resolves to stdout. */
async function podman(args: string[], timeoutMs = 90_000): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile('nsenter', podmanArgs(args), { env: { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`podman ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Pids of conmon processes that belong to this test's podman (their command line names our dir). */
async function ourConmons(): Promise<number[]> {
  const out = await sh('ps', ['-eo', 'pid=,args=']);
  return out
    .split('\n')
    .filter((l) => /conmon/.test(l) && l.includes(dir))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Mount points under our temp dir (a container's shm, should podman leave one). */
function ourMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && m.startsWith(dir));
}

async function endpointsOfNet(): Promise<{ SandboxPath: string; IPv4Address: string }[]> {
  return Object.values(JSON.parse(await d.ok(['network', 'inspect', NET]))[0].Endpoints) as { SandboxPath: string; IPv4Address: string }[];
}

const skipReason = skip ?? ((await which('podman')) && existsSync(BUSYBOX) && existsSync('/usr/lib/cni/portmap') ? null : 'podman, busybox-static or containernetworking-plugins is not installed');
if (!skip && skipReason && process.env.CI) throw new Error(`CI=true but ${skipReason}`);

describe.skipIf(skipReason !== null)('podman 4.3 with the CNI backend and tsnet-switch', () => {
  beforeAll(async () => {
    d = new TestDaemon();
    await d.setup();
    hostNsPath = `/var/run/netns/${d.hostNs}`;
    dir = mkdtempSync(join(tmpdir(), 'tsnet-podman-'));
    for (const sub of ['root', 'runroot', 'tmp', 'net.d', 'bin', 'rootfs/bin', 'rootfs/www']) mkdirSync(join(dir, sub), { recursive: true });
    const inst = await runCli(['cni', 'install', '--dir', join(dir, 'bin')], d.socket);
    expect(inst.code, inst.stderr).toBe(0);
    writeFileSync(
      join(dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = []',
        '[network]',
        'network_backend = "cni"',
        `network_config_dir = "${join(dir, 'net.d')}"`,
        `cni_plugin_dirs = ["${join(dir, 'bin')}", "/usr/lib/cni"]`,
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        '',
      ].join('\n'),
    );
    // The image: busybox-static and its applets, a page for httpd.
    copyFileSync(BUSYBOX, join(dir, 'rootfs/bin/busybox'));
    for (const applet of ['sh', 'ping', 'sleep', 'ip', 'httpd']) symlinkSync('busybox', join(dir, 'rootfs/bin', applet));
    writeFileSync(join(dir, 'rootfs/www/index.html'), 'hello from a podman container on tsnet\n');
    await sh('tar', ['-C', join(dir, 'rootfs'), '-cf', join(dir, 'rootfs.tar'), '.']);
    await podman(['import', join(dir, 'rootfs.tar'), 'localhost/tsnbox:latest']);
    // podman writes its bridge conflist; ours replaces it under the same name.
    await podman(['network', 'create', NET]);
    const conflist = join(dir, 'net.d', `${NET}.conflist`);
    expect(JSON.parse(readFileSync(conflist, 'utf8')).plugins[0].type).toBe('bridge');
    writeFileSync(
      conflist,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: NET,
        plugins: [
          { type: 'tsnet-switch', subnet: '10.161.0.0/24', gateway: '10.161.0.1', capabilities: { ips: true, mac: true } },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'tuning' },
        ],
      }),
    );
  }, 180_000);

  afterAll(async () => {
    if (!dir) return;
    await podman(['rm', '-a', '-f', '-t', '0']).catch(() => undefined);
    for (const pid of await ourConmons().catch(() => [])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const m of ourMounts().reverse()) await sh('umount', ['-l', m]).catch(() => undefined);
    await d.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('two podman containers get addresses from the daemon and ping each other through the switch; -p works through portmap; nothing is left', async () => {
    const run = (name: string, extra: string[], cmd: string[]) => podman(['run', '-d', '--name', name, '--network', NET, '--ulimit', 'host', ...extra, 'localhost/tsnbox', ...cmd]);
    await run('c1', ['--cap-add', 'NET_RAW'], ['sleep', '600']);
    await run('c2', ['--cap-add', 'NET_RAW', '--ip', '10.161.0.50'], ['sleep', '600']);
    const addrOf = async (c: string) => /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(await podman(['exec', c, 'ip', '-4', 'addr', 'show', 'eth0']))?.[1];
    expect(await addrOf('c1')).toBe('10.161.0.2');
    expect(await addrOf('c2')).toBe('10.161.0.50'); // --ip: podman passes it as runtimeConfig.ips
    const eps = await endpointsOfNet();
    expect(eps.map((e) => e.IPv4Address).sort()).toEqual(['10.161.0.2/24', '10.161.0.50/24']);
    const sandboxes = eps.map((e) => e.SandboxPath);
    for (const s of sandboxes) expect(s).toMatch(/^\/run\/netns\//);

    const rx = async () => {
      const st = JSON.parse(await d.ok(['stats', '--json']));
      return (st.ports as { endpoint: string | null; rxPackets: number }[]).filter((p) => p.endpoint !== null).reduce((n, p) => n + p.rxPackets, 0);
    };
    const before = await rx();
    const out = await podman(['exec', 'c1', 'ping', '-c', '3', '-W', '2', '10.161.0.50']);
    expect(out).toMatch(/3 packets transmitted, 3 packets received/);
    expect((await rx()) - before).toBeGreaterThanOrEqual(6); // 3 requests from c1, 3 replies from c2, through the switch's ports

    await run('web', ['-p', '18091:80'], ['httpd', '-f', '-p', '80', '-h', '/www']);
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      body = await nsExec(d.hostNs, 'curl', ['-sS', '--max-time', '3', 'http://10.161.0.1:18091/']).catch(() => '');
      if (!body) await new Promise((r) => setTimeout(r, 200));
    }
    expect(body).toBe('hello from a podman container on tsnet\n');
    const webEp = (await endpointsOfNet()).find((e) => !sandboxes.includes(e.SandboxPath))!;
    expect(await nsExec(d.hostNs, 'iptables-save', [])).toContain(`--to-destination ${webEp.IPv4Address.split('/')[0]}:80`);

    await podman(['rm', '-f', '-t', '0', 'c1', 'c2', 'web']);
    expect(await endpointsOfNet()).toEqual([]); // podman ran our DEL for each
    for (const s of [...sandboxes, webEp.SandboxPath]) expect(existsSync(s)).toBe(false);
    expect(await nsExec(d.hostNs, 'iptables-save', [])).not.toMatch(/10\.161\.0\./); // portmap's rules went with DEL
    expect(await ourConmons()).toEqual([]);
    expect((await podman(['ps', '-a', '-q'])).trim()).toBe('');
  }, 240_000);
});
