/**
 * `tsnet-switch doctor`, the daemon's half: checks that need what the daemon knows, each finding with
 * what is wrong and how to fix it. It reads what `network inspect` shows (one source of truth for MTUs
 * and parent delivery) and the kernel's own view of the devices; it changes nothing.
 *
 *   orphans      devices a daemon made that no state knows (reconcile.ts, run with dryRun)
 *   mtu          an endpoint larger than its overlay can carry, a parent smaller than its children
 *   promiscuous  a macvlan parent the kernel made promiscuous for our MACs (no unicast filter)
 *   forwarding   outbound masquerade or published ports with net.ipv4.ip_forward off
 *   shim-routes  a macvlan/ipvlan host shim's /32 route to an endpoint gone or pointing elsewhere
 *   rp-filter    reverse-path filtering that drops an overlay's datagrams from a remote VTEP: asked
 *                of the kernel itself (`ip route get VTEP from PEER iif UNDERLAY`, the input lookup
 *                rp_filter runs), so policy routing and loose mode count as they do for real packets
 *   nat          this daemon's masquerade and published ports not installed: the host namespace's NAT
 *                table belongs to another running daemon (one table per namespace, never replaced)
 *   offloads     a TAP with a virtio-net header and TSO cannot be opened (the daemon falls back to
 *                1500-byte frames): a non-persistent probe TAP, gone when closed, is the only thing made
 *
 * The CLI's half (src/cli/doctor-command.ts) adds /dev/net/tun and whether the daemon answers at all;
 * a cluster-store daemon adds the cluster hosts' clocks (src/cluster/cluster-doctor.ts).
 */
import { readFileSync } from 'node:fs';
import type { Daemon } from './daemon.js';
import { runInHost } from './host-command.js';
import { Rtnetlink } from './rtnetlink.js';
import { native } from '../native/addon.js';
import { vtepFamily } from './overlay-options.js';

export interface DoctorFinding {
  check: 'tun' | 'daemon' | 'orphans' | 'mtu' | 'promiscuous' | 'forwarding' | 'shim-routes' | 'rp-filter' | 'nat' | 'offloads' | 'clock';
  /** problem: something configured does not work, or will not; note: worth knowing, not wrong. */
  severity: 'problem' | 'note';
  /** What it concerns: `network ov, endpoint 1a2b… (eth0 in /run/netns/c1)`. */
  subject: string;
  problem: string;
  fix: string;
}

/** A link's MTU in a namespace (null: the namespace or link is gone). */
function linkMtu(netns: string | null, name: string): number | null {
  let nl: Rtnetlink;
  try {
    nl = Rtnetlink.open(netns ?? undefined);
  } catch {
    return null;
  }
  try {
    return nl.linkInfo(nl.linkIndex(name)).mtu;
  } catch {
    return null;
  } finally {
    nl.close();
  }
}

function orphanFindings(daemon: Daemon): DoctorFinding[] {
  return daemon.reconcile(true).map((a) =>
    a.action === 'would-remove'
      ? { check: 'orphans', severity: 'problem', subject: a.what, problem: a.why, fix: 'restart the daemon (it removes what no state knows at start), or delete it by hand (ip link del)' }
      : { check: 'orphans', severity: 'note', subject: a.what, problem: a.why, fix: 'nothing to do here; that daemon adopts it when it starts' },
  );
}

function mtuFindings(daemon: Daemon): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  for (const rt of daemon.networkRuntimes()) {
    const view = daemon.inspectNetwork(rt.record.name) as { Overlay?: { EffectiveMTU?: number; UnderlayInterface?: string | null; UnderlayMTU?: number | null }; Parent?: { Interface?: string } };
    const limit = view.Overlay?.EffectiveMTU ?? null;
    const parent = view.Parent?.Interface ?? null;
    const parentMtu = parent ? linkMtu(daemon.hostNetns, parent) : null;
    for (const ep of rt.endpoints.values()) {
      const e = ep.record;
      const mtu = linkMtu(e.sandboxPath, e.ifname);
      if (mtu === null) continue; // the sandbox is gone: the watcher releases it
      const subject = `network ${rt.record.name}, endpoint ${e.id.slice(0, 12)} (${e.ifname} in ${e.sandboxPath})`;
      if (limit !== null && mtu > limit) {
        out.push({ check: 'mtu', severity: 'problem', subject, problem: `its MTU is ${mtu} but the overlay carries at most ${limit} (underlay ${view.Overlay?.UnderlayInterface ?? '?'} MTU ${view.Overlay?.UnderlayMTU ?? '?'} less the encapsulation): larger frames are dropped (overlay-mtu-exceeded)`, fix: `ip -n <sandbox> link set ${e.ifname} mtu ${limit}, or raise the underlay's MTU` });
      }
      if (parentMtu !== null && mtu > parentMtu) {
        out.push({ check: 'mtu', severity: 'problem', subject, problem: `its MTU is ${mtu} but its parent ${parent} has MTU ${parentMtu}: larger frames cannot leave`, fix: `ip link set ${parent} mtu ${mtu}, or lower the endpoint's MTU to ${parentMtu}` });
      }
    }
  }
  return out;
}

function promiscuityFindings(daemon: Daemon): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  for (const rt of daemon.networkRuntimes()) {
    if (rt.record.driver !== 'macvlan') continue;
    const p = (daemon.inspectNetwork(rt.record.name) as { Parent?: { Interface?: string; Delivery?: string; Promiscuity?: number | null } }).Parent;
    if (!p?.Delivery?.includes('promiscuous') || p.Delivery.startsWith('promiscuous (passthru')) continue;
    out.push({ check: 'promiscuous', severity: 'problem', subject: `network ${rt.record.name}, parent ${p.Interface}`, problem: `the parent is promiscuous (promiscuity ${p.Promiscuity ?? '?'}): ${p.Delivery}; it takes every frame on its LAN and the switch drops what is for nobody`, fix: 'use a NIC (or driver) with a unicast filter for several MACs, fewer endpoints on it, or the ipvlan driver (one MAC)' });
  }
  return out;
}

function forwardingFindings(daemon: Daemon, ipForward: () => string | null): DoctorFinding[] {
  const needs = daemon.networkRuntimes().filter((rt) => rt.record.options.masquerade || [...rt.endpoints.values()].some((e) => e.record.publish?.length));
  if (!needs.length) return [];
  // The sysctl is per namespace: read it only where the daemon's host namespace is its own.
  const v = daemon.hostNetns === null ? ipForward() : null;
  if (v === null || v.trim() === '1') return [];
  return [{ check: 'forwarding', severity: 'problem', subject: `network ${needs.map((n) => n.record.name).join(', ')}`, problem: `outbound masquerade or published ports need IPv4 forwarding, and net.ipv4.ip_forward is ${v.trim()} in the daemon's host namespace: containers reach nothing beyond the host`, fix: 'sysctl -w net.ipv4.ip_forward=1 (the daemon turns it on when it installs NAT; something turned it off since)' }];
}

const readIpForward = () => {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  } catch {
    return null;
  }
};

function shimRouteFindings(daemon: Daemon): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  const shimmed = daemon.networkRuntimes().filter((rt) => rt.record.options.hostShim && rt.record.options.hostShimName);
  if (!shimmed.length) return out;
  const nl = Rtnetlink.open(daemon.hostNetns ?? undefined);
  try {
    const routes = nl.routeList().filter((r) => r.table === 254 && r.prefixLen === 32);
    for (const rt of shimmed) {
      const shim = rt.record.options.hostShimName!;
      const shimIndex = nl.linkIndex(shim);
      for (const ep of rt.endpoints.values()) {
        const ip = ep.record.ip;
        if (!ip) continue;
        const r = routes.find((x) => x.dst === ip);
        const subject = `network ${rt.record.name}, endpoint ${ep.record.id.slice(0, 12)} (${ip})`;
        const fix = `ip route replace ${ip}/32 dev ${shim}`;
        if (!r) out.push({ check: 'shim-routes', severity: 'problem', subject, problem: `the host's /32 route to it through the shim ${shim} is gone: the host reaches the container through the parent, which macvlan does not deliver to its own children`, fix });
        else if (r.ifindex !== shimIndex) {
          let dev = String(r.ifindex);
          try {
            dev = nl.linkInfo(r.ifindex ?? 0).name;
          } catch {
            /* a link that went away */
          }
          out.push({ check: 'shim-routes', severity: 'problem', subject, problem: `the host's /32 route to it goes through ${dev}, not the shim ${shim}: host-to-container traffic misses the network`, fix });
        }
      }
    }
  } finally {
    nl.close();
  }
  return out;
}

/** The rp_filter mode that applies to an interface: the larger of `all` and its own (as the kernel takes it). */
function rpFilterMode(hostNetns: string | null, ifname: string): number | null {
  const read = (key: string) => {
    const r = runInHost(hostNetns, 'sysctl', ['-n', `net.ipv4.conf.${key}.rp_filter`]);
    return r.ok ? Number(r.stdout.trim()) : null;
  };
  const all = read('all');
  const own = read(ifname);
  return all === null || own === null ? null : Math.max(all, own);
}

function rpFilterFindings(daemon: Daemon): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  for (const rt of daemon.networkRuntimes()) {
    if (rt.record.driver !== 'overlay') continue;
    const view = daemon.inspectNetwork(rt.record.name) as { Overlay?: { VTEP?: string; UnderlayInterface?: string | null; StaticFDB?: { VTEP: string }[] } };
    const ul = view.Overlay?.UnderlayInterface;
    // rp_filter is IPv4's (net.ipv4.conf.*): an IPv6 VTEP ([fd00::1]:4789) has nothing to check.
    if (rt.record.overlay && vtepFamily(rt.record.overlay.vtep) === 6) continue;
    const vtep = view.Overlay?.VTEP?.split(':')[0];
    if (!ul || !vtep) continue; // no underlay holds the VTEP address: the overlay cannot work at all, and inspect says so
    const remotes = new Set([...daemon.overlay.peersOf(rt), ...(view.Overlay?.StaticFDB ?? []).map((f) => f.VTEP)]);
    let mode: number | null | undefined;
    for (const peer of [...remotes].sort()) {
      if (runInHost(daemon.hostNetns, 'ip', ['route', 'get', vtep, 'from', peer, 'iif', ul]).ok) continue;
      mode ??= rpFilterMode(daemon.hostNetns, ul);
      if (!mode) continue; // refused for another reason than reverse-path filtering
      const back = runInHost(daemon.hostNetns, 'ip', ['-o', 'route', 'get', peer]);
      const via = back.ok ? / dev (\S+)/.exec(back.stdout)?.[1] ?? null : null;
      out.push({
        check: 'rp-filter',
        severity: 'problem',
        subject: `network ${rt.record.name}, remote VTEP ${peer}`,
        problem: `its datagrams arrive on ${ul}, but ${via ? `the route back to ${peer} goes through ${via}` : `there is no route back to ${peer}`} and rp_filter is ${mode} (${mode === 1 ? 'strict' : 'loose'}) on ${ul}: the kernel drops them before the switch sees them, so traffic from that host never arrives`,
        fix: via ? `route ${peer} through ${ul} (ip route replace ${peer}/32 dev ${ul}), or sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${ul}.rp_filter=2 (loose: any route back will do)` : `add a route to ${peer} (through ${ul}), or sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.${ul}.rp_filter=0`,
      });
    }
  }
  return out;
}

function natFindings(daemon: Daemon): DoctorFinding[] {
  const other = daemon.natConflict;
  if (!other) return [];
  return [{ check: 'nat', severity: 'problem', subject: 'nftables table ip tsnet-switch', problem: `it belongs to the running daemon of state dir ${other}, so this daemon's masquerade and published ports are not installed (their containers reach nothing beyond the host, their ports do not answer)`, fix: 'run one tsnet-switch daemon per host namespace (one state dir): stop the other, or give this one its own namespace' }];
}

function offloadFindings(daemon: Daemon): DoctorFinding[] {
  const probe = `tsndoc${process.pid % 100000}`;
  try {
    const t = native().tapOpen(probe, { vnetHdr: true, offload: true, persist: false, ...(daemon.hostNetns ? { netns: daemon.hostNetns } : {}) });
    native().closeFd(t.fd); // non-persistent: the device goes with its last descriptor
    return [];
  } catch (err) {
    return [{ check: 'offloads', severity: 'problem', subject: '/dev/net/tun', problem: `a TAP with a virtio-net header and TSO cannot be opened (${(err as Error).message}): the switch moves 1500-byte frames and TCP is several times slower`, fix: 'use a kernel with IFF_VNET_HDR and TUNSETOFFLOAD (every Linux since 2.6.27 has them); inside a container, give it /dev/net/tun and CAP_NET_ADMIN' }];
  }
}

/** Every daemon-side finding; an empty list means healthy. */
export function daemonDoctorFindings(daemon: Daemon, ipForward: () => string | null = readIpForward): DoctorFinding[] {
  return [...offloadFindings(daemon), ...orphanFindings(daemon), ...mtuFindings(daemon), ...promiscuityFindings(daemon), ...forwardingFindings(daemon, ipForward), ...shimRouteFindings(daemon), ...rpFilterFindings(daemon), ...natFindings(daemon)];
}
