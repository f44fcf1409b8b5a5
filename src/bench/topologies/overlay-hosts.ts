/**
 * The overlay family's topology: two "hosts" (namespaces hA, hB) joined by a veth underlay
 * (198.18.0.1/24 and 198.18.0.2/24, MTU 1500), one container on each (cA, cB, 10.88.0.2 and .3 on one
 * VXLAN segment, VNI 4789, UDP port 4789, inner MTU 1450). Each host's side is one of
 *
 *   kernel: what Docker's overlay driver builds per host — a vxlan device (`remote` = the other VTEP)
 *           enslaved to a Linux bridge, a veth to the container; switching in softirq (CPU n/a);
 *   tsnet:  a tsnet-switch daemon in the host namespace, `network create -d overlay -o vni= -o vtep=
 *           -o peers=` and `connect --netns cA --ip` through its API; its CPU from /proc/PID/stat
 *           (both daemons summed when both hosts run one).
 *
 * Mixed pairs (tsnet on one host, the kernel on the other) measure interop at speed. The client is
 * always in cA, so "tsnet-kernel" is tsnet-switch encapsulating and the kernel decapsulating.
 * Every device is made inside the namespaces (`ip -n … link add … peer … netns …`): nothing in the
 * real host namespace.
 */
import { NO_CPU } from '../cpu-meter.js';
import { run } from '../host-commands.js';
import type { BenchPath, BuildContext } from '../scenario.js';
import { CLIENT, PAIR_PREFIX_LEN, SERVER, configureLink, type HostPair } from './host-pair.js';
import { startDaemon } from './tsnet-daemon.js';

export type OverlaySide = 'kernel' | 'tsnet';

const VNI = 4789;
const VXLAN_PORT = 4789;
const OVERLAY_MTU = 1450;
const VTEP = ['198.18.0.1', '198.18.0.2'] as const;

async function kernelSide(host: string, container: string, local: string, remote: string, addr: { ip: string; mac: string }): Promise<void> {
  await run('ip', ['-n', host, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', local, 'remote', remote, 'dstport', String(VXLAN_PORT)]);
  await run('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await run('ip', ['-n', host, 'link', 'set', 'vx0', 'mtu', String(OVERLAY_MTU), 'master', 'br0', 'up']);
  await run('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
  await run('ip', ['-n', container, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', host]);
  await run('ip', ['-n', host, 'link', 'set', 'c0', 'mtu', String(OVERLAY_MTU), 'master', 'br0', 'up']);
  await configureLink(container, 'eth0', addr.mac, addr.ip, OVERLAY_MTU);
}

async function buildOverlay(ctx: BuildContext, sides: [OverlaySide, OverlaySide]): Promise<HostPair> {
  const hosts = [await ctx.cleanup.netns(`tsnb-${ctx.tag}-ha`), await ctx.cleanup.netns(`tsnb-${ctx.tag}-hb`)];
  const containers = [await ctx.cleanup.netns(`tsnb-${ctx.tag}-ca`), await ctx.cleanup.netns(`tsnb-${ctx.tag}-cb`)];
  await run('ip', ['-n', hosts[0], 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', hosts[1]]);
  for (const i of [0, 1]) {
    await run('ip', ['-n', hosts[i], 'addr', 'add', `${VTEP[i]}/24`, 'dev', 'u0']);
    await run('ip', ['-n', hosts[i], 'link', 'set', 'u0', 'up']);
  }
  const pids: number[] = [];
  for (const i of [0, 1]) {
    const addr = i === 0 ? CLIENT : SERVER;
    if (sides[i] === 'kernel') {
      await kernelSide(hosts[i], containers[i], VTEP[i], VTEP[1 - i], addr);
      continue;
    }
    const d = await startDaemon(ctx.cleanup, hosts[i]);
    pids.push(d.pid);
    await d.api.call('POST', '/v1/networks', {
      name: 'ov',
      driver: 'overlay',
      subnet: `10.88.0.0/${PAIR_PREFIX_LEN}`,
      options: { vni: String(VNI), vtep: VTEP[i], peers: VTEP[1 - i], port: String(VXLAN_PORT) },
    });
    await d.api.call('POST', '/v1/networks/ov/connect', { netns: containers[i], ip: addr.ip, mac: addr.mac });
  }
  return { clientNs: containers[0], serverNs: containers[1], clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: pids.length ? { pids } : NO_CPU };
}

const SIDE_LABEL: Record<OverlaySide, string> = { kernel: 'kernel VXLAN', tsnet: 'tsnet-switch' };

/** A path with host A's and host B's side; the id is 'kernel' / 'tsnet' when both agree, else 'a-b'. */
export function overlayPath(a: OverlaySide, b: OverlaySide): BenchPath<HostPair> {
  return {
    id: a === b ? a : `${a}-${b}`,
    label: a === b ? (a === 'kernel' ? 'Linux VXLAN + bridge + veth' : 'tsnet-switch daemons, TAP') : `${SIDE_LABEL[a]} → ${SIDE_LABEL[b]}`,
    build: (ctx) => buildOverlay(ctx, [a, b]),
  };
}
