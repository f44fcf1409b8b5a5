/**
 * The nftables ruleset that gives bridge networks what Docker's bridge gives them, as a pure function
 * of the daemon's state: outbound masquerade of a network's subnet (leaving by any interface but its
 * own gateway port), and published ports (DNAT of HOSTPORT on the host's local addresses to the
 * endpoint's address and port). Everything lives in one table of our own, `ip tsnet-switch`, so it is
 * found exactly, replaced in one atomic transaction, and removed by deleting the table.
 *
 * Why nftables in the daemon's namespace and not forwarding through the switch: the kernel already
 * routes between the gateway port and the host's uplinks, with conntrack, and NAT there costs one
 * rule lookup per new flow; a NAT of our own would need a TCP/UDP stack on the gateway side for what
 * the kernel does well. It is also what Docker does (with iptables), so users find the same behaviour.
 */
import { createHash } from 'node:crypto';
import type { DaemonState } from '../model.js';

export const NAT_TABLE = 'tsnet-switch';

/** nft keeps at most 128 bytes of a comment. */
const MAX_COMMENT = 128;
const MARKER_PREFIX = 'tsnet-switch/1';

/**
 * The table's comment names the state dir of the daemon that wrote it, as device-marker.ts does for
 * links, so reconcile removes a table only when its owner's state has no NAT (nat-reconcile.ts). A
 * path too long for nft's comment is named by a hash: its own daemon still knows it, others keep it.
 */
export function natTableMarker(owner: string): string {
  const text = `${MARKER_PREFIX} owner=${encodeURIComponent(owner)}`;
  if (Buffer.byteLength(text) <= MAX_COMMENT) return text;
  return `${MARKER_PREFIX} owner-sha256=${ownerHash(owner)}`;
}

function ownerHash(owner: string): string {
  return createHash('sha256').update(owner).digest('hex').slice(0, 32);
}

/** The owner a table's comment names: a path, or a hash of one (compare with `markerNamesOwner`); null if not ours. */
export function parseNatTableMarker(comment: string): { owner: string } | { ownerHash: string } | null {
  const m = /^tsnet-switch\/1 (owner|owner-sha256)=(\S+)$/.exec(comment);
  if (!m) return null;
  if (m[1] === 'owner-sha256') return { ownerHash: m[2] };
  try {
    return { owner: decodeURIComponent(m[2]) };
  } catch {
    return null;
  }
}

/** Whether a parsed marker names this state dir. */
export function markerNamesOwner(marker: { owner: string } | { ownerHash: string }, owner: string): boolean {
  return 'owner' in marker ? marker.owner === owner : marker.ownerHash === ownerHash(owner);
}

/** The `nft -f` text that makes the table hold exactly these rules (or removes it when there are none). */
export function natRuleset(state: Pick<DaemonState, 'networks' | 'endpoints'>, owner?: string): { text: string; rules: number } {
  const masq: string[] = [];
  const dnat: string[] = [];
  for (const n of state.networks) {
    const ipam = n.ipam as { subnet?: string } | null;
    if (n.driver !== 'bridge' || !n.gateway || n.options.internal || !ipam?.subnet) continue;
    if (n.options.masquerade) masq.push(`    ip saddr ${ipam.subnet} oifname != "${n.gateway.ifname}" masquerade comment "network ${n.name}"`);
  }
  for (const ep of state.endpoints) {
    if (!ep.ip || !ep.publish?.length) continue;
    for (const p of ep.publish) dnat.push(`    fib daddr type local ${p.proto} dport ${p.hostPort} dnat to ${ep.ip}:${p.port} comment "endpoint ${ep.id}"`);
  }
  const rules = masq.length + dnat.length;
  // Create-if-missing then delete: the delete never fails, and the whole file is one transaction.
  const head = `table ip ${NAT_TABLE} {}\ndelete table ip ${NAT_TABLE}\n`;
  if (rules === 0) return { text: head, rules };
  const local = dnat.map((r) => r.replace('fib daddr type local', 'fib daddr type local ip daddr != 127.0.0.0/8'));
  const text =
    head +
    `table ip ${NAT_TABLE} {\n` +
    (owner === undefined ? '' : `  comment "${natTableMarker(owner)}"\n`) +
    `  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${dnat.join('\n')}\n  }\n` +
    `  chain output {\n    type nat hook output priority -100; policy accept;\n${local.join('\n')}\n  }\n` +
    `  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n${masq.join('\n')}\n  }\n` +
    `}\n`;
  return { text, rules };
}
