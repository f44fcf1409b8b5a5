/**
 * The Docker family's topology: two containers started by a real dockerd (Debian's docker.io) on one
 * Docker network, once with Docker's own bridge driver and once with ours (`-d tsnet`), both paths in
 * the same dockerd of the run's scenario, changing nothing of the host:
 *
 *   - dockerd and a tsnet-switch daemon (serving the Docker plugin) run in a namespace that plays the
 *     host, and in a private mount namespace whose /run is a tmpfs, so the plugin socket dockerd looks
 *     for in the fixed /run/docker/plugins never appears on the host; a `sleep` holds both namespaces
 *     and the daemons join them with nsenter (not `ip netns exec`, which remounts /sys and hides the
 *     cgroup mounts dockerd needs);
 *   - dockerd has its own --data-root, --exec-root, --pidfile and -H socket in a temp dir, and
 *     --iptables=false --ip6tables=false --bridge=none; masquerade is off on both networks;
 *   - the image is `docker import` of a busybox-static tree (no registry); the traffic tools run on the
 *     host's binaries inside each container's network namespace (`ip netns attach`), so both paths
 *     measure the network Docker's driver made, not the image.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_CPU } from '../cpu-meter.js';
import { findOnPath, missingToolMessage, run } from '../host-commands.js';
import { sharedPerScenario, type BenchPath, type BuildContext } from '../scenario.js';
import type { HostPair } from './host-pair.js';

const IMAGE = 'tsnet-bench-busybox:latest';

interface DockerHost {
  tag: string;
  docker(args: string[], timeoutMs?: number): Promise<string>;
  tsnetPid: number;
}

/** Why Docker paths cannot run here, or null. */
function dockerUnavailable(): string | null {
  for (const tool of ['dockerd', 'docker']) if (!findOnPath(tool)) return `Docker paths skipped: ${missingToolMessage(tool)}`;
  if (!existsSync('/bin/busybox')) return `Docker paths skipped: /bin/busybox (the test image) is missing: ${missingToolMessage('busybox')}`;
  return null;
}

/** One dockerd (and tsnet daemon) per scenario, shared by its paths. */
const dockerHost = sharedPerScenario(startDockerHost);

async function startDockerHost(ctx: BuildContext): Promise<DockerHost> {
  const c = ctx.cleanup;
  const hostNs = await c.netns(`tsnb-${ctx.tag}-dk`);
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-bench-docker-'));
  c.defer(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const holder = c.spawn('nsenter', [`--net=/run/netns/${hostNs}`, 'unshare', '--mount', '--propagation', 'private', 'sleep', 'infinity'], { label: 'namespace holder' });
  // Never go on before the holder is in its own mount namespace: the tmpfs would cover the host's /run.
  for (let i = 0; ; i++) {
    const comm = existsSync(`/proc/${holder.child.pid}/comm`) ? readFileSync(`/proc/${holder.child.pid}/comm`, 'utf8').trim() : '';
    if (comm === 'sleep') break;
    if (i > 500 || !holder.running) throw new Error(`the namespace holder did not reach its private mount namespace: ${holder.tail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const enter = ['-t', String(holder.child.pid), '-m', '-n'];
  await run('nsenter', [...enter, 'mount', '-t', 'tmpfs', '-o', 'mode=755', 'tsnet-bench-run', '/run']);
  await run('nsenter', [...enter, 'mkdir', '-p', '/run/docker/plugins']);

  // Our daemon first, serving the plugin at its default path inside that /run.
  const tsnet = c.spawn('nsenter', [...enter, process.execPath, ...process.execArgv, process.argv[1], 'daemon', '--state-dir', join(dir, 'state'), '--socket', join(dir, 'api.sock'), '--docker-api', 'off'], { label: 'tsnet-switch daemon' });
  await tsnet.waitForOutput(/listening on/, 20_000);

  const sock = join(dir, 'docker.sock');
  const dockerd = c.spawn('nsenter', [...enter, 'dockerd', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${sock}`, '--iptables=false', '--ip6tables=false', '--bridge=none'], { label: 'dockerd', stopGraceMs: 30_000 });
  await dockerd.waitForOutput(/API listen on/, 60_000);
  const docker = (args: string[], timeoutMs = 60_000) => run('docker', ['-H', `unix://${sock}`, ...args], { timeoutMs });
  // Containers go before dockerd stops (the stack unwinds newest first).
  c.defer('Docker containers', async () => {
    const ids = (await docker(['ps', '-aq'])).split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids], 120_000);
    const nets = (await docker(['network', 'ls', '-q', '--filter', 'label=tsnet-bench'])).split('\n').filter(Boolean);
    for (const n of nets) await docker(['network', 'rm', n]);
  });

  const root = join(dir, 'image');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  for (const a of ['sh', 'sleep']) symlinkSync('busybox', join(root, 'bin', a));
  await run('tar', ['-C', root, '-cf', join(dir, 'image.tar'), '.']);
  await docker(['import', join(dir, 'image.tar'), IMAGE]);
  return { tag: ctx.tag, docker, tsnetPid: tsnet.child.pid! };
}

/** A Docker network with two containers; their namespaces named for the traffic tools. */
async function containerPair(ctx: BuildContext, h: DockerHost, net: string, create: string[], subnet: string): Promise<Pick<HostPair, 'clientNs' | 'serverNs' | 'clientIp' | 'serverIp'>> {
  await h.docker(['network', 'create', '--label', 'tsnet-bench', '--subnet', `${subnet}.0/24`, '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', ...create, net]);
  const names: string[] = [];
  const ips: string[] = [];
  for (const role of ['c', 's']) {
    const id = await h.docker(['run', '-d', '--network', net, IMAGE, 'sleep', '86400']);
    const pid = (await h.docker(['inspect', '-f', '{{.State.Pid}}', id.trim()])).trim();
    ips.push((await h.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, id.trim()])).trim());
    const ns = `tsnb-${h.tag}-${net}${role}`;
    await run('ip', ['netns', 'attach', ns, pid]);
    ctx.cleanup.defer(`netns name ${ns}`, () => run('ip', ['netns', 'del', ns]).then(() => undefined)); // the name only: the container holds the namespace
    names.push(ns);
  }
  return { clientNs: names[0], serverNs: names[1], clientIp: ips[0], serverIp: ips[1] };
}

/** A path: a Docker network made with `create` (its driver options) and two containers on it. */
function dockerPath(id: string, label: string, net: string, create: string[], subnet: string, cpu: (h: DockerHost) => HostPair['cpu']): BenchPath<HostPair> {
  return {
    id,
    label,
    unavailable: dockerUnavailable,
    async build(ctx) {
      const h = await dockerHost(ctx);
      return { ...(await containerPair(ctx, h, net, create, subnet)), cpu: cpu(h) };
    },
  };
}

export const dockerBridgePath = dockerPath('kernel', "Docker's bridge driver (Linux bridge + veth)", 'kbr', ['-d', 'bridge'], '10.88.0', () => NO_CPU);
export const dockerTsnetPath = dockerPath('tsnet', 'Docker with -d tsnet (tsnet-switch, TAP)', 'tsn', ['-d', 'tsnet', '--ipam-driver', 'tsnet', '-o', 'tsnet.name=bench-docker'], '10.88.1', (h) => ({ pids: [h.tsnetPid] }));
