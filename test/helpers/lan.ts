/**
 * A "LAN" for macvlan/ipvlan tests and benches: a veth pair whose one end is the parent interface in
 * the namespace that plays the host (where the daemon runs), and whose other end sits in a LAN
 * namespace, enslaved to a Linux bridge that holds the outside host's address. The bridge lets a test
 * turn on hairpin mode on the LAN port, so frames come back through the parent the way an
 * 802.1Qbg (VEPA) switch reflects them.
 *
 *   host netns:  PARENT (veth)  ──────  lan0 ─ br0 (HOST_CIDR)  :LAN netns
 */
import { addNetns, delNetns, sh, uniqueTag } from './netns.js';

export interface Lan {
  /** The LAN namespace (the outside host lives here, on br0). */
  ns: string;
  /** The parent's name in the host namespace. */
  parent: string;
  /** The outside host's address. */
  hostIp: string;
  /** Reflect frames back out the port they came in by (a VEPA-capable adjacent switch). */
  setHairpin(on: boolean): Promise<void>;
  /** The outside host's neighbour table: IPv4 -> MAC (reachable, stale or delay entries). */
  neighbours(): Promise<Map<string, string>>;
  teardown(): Promise<void>;
}

export async function makeLan(opts: { hostNs: string; parent?: string; hostCidr: string }): Promise<Lan> {
  const tag = uniqueTag();
  const ns = `tsnt-${tag}-lan`;
  const parent = opts.parent ?? 'p0';
  const a = `lp${tag}`;
  const b = `ll${tag}`;
  const teardown = async () => {
    await sh('ip', ['-n', opts.hostNs, 'link', 'del', parent]).catch(() => undefined);
    await sh('ip', ['link', 'del', a]).catch(() => undefined);
    await delNetns(ns);
  };
  try {
    await addNetns(ns);
    await sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    await sh('ip', ['link', 'set', a, 'netns', opts.hostNs, 'name', parent]);
    await sh('ip', ['link', 'set', b, 'netns', ns, 'name', 'lan0']);
    await sh('ip', ['-n', opts.hostNs, 'link', 'set', parent, 'up']);
    await sh('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', ns, 'link', 'set', 'lan0', 'master', 'br0', 'up']);
    await sh('ip', ['-n', ns, 'addr', 'add', opts.hostCidr, 'dev', 'br0']);
    await sh('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
  } catch (err) {
    await teardown();
    throw err;
  }
  return {
    ns,
    parent,
    hostIp: opts.hostCidr.split('/')[0],
    async setHairpin(on: boolean) {
      await sh('ip', ['-n', ns, 'link', 'set', 'dev', 'lan0', 'type', 'bridge_slave', 'hairpin', on ? 'on' : 'off']);
    },
    async neighbours() {
      const list = JSON.parse(await sh('ip', ['-n', ns, '-j', 'neigh', 'show', 'dev', 'br0'])) as { dst: string; lladdr?: string }[];
      return new Map(list.filter((n) => n.lladdr).map((n) => [n.dst, n.lladdr!]));
    },
    teardown,
  };
}
