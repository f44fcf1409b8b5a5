/**
 * Reconcile source for links: every interface whose alias carries the daemon's marker
 * (device-marker.ts), in the host namespace, in the sandboxes the state knows, and in the named
 * namespaces under /var/run/netns (where a lost state's endpoints may still be).
 *
 * A marked link is an orphan when
 *   - its owner is this daemon's state dir and the state does not list it (a crash before the state
 *     was written, or a state dir wiped and made again), or
 *   - its owner is another state dir whose daemon is not running and whose state is gone or does not
 *     list it.
 * A link of another state dir that a running daemon holds is left alone silently; one whose stopped
 * daemon's state still lists it is left alone and reported as kept: that daemon will adopt it. Orphans are deleted
 * (RTM_DELLINK), which takes their addresses and routes with them.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseMarker, type DeviceMarker } from './device-marker.js';
import { foreignOwnerVerdict, type KnownState, type ReconcileAction, type ReconcileSource } from './reconcile.js';
import { Rtnetlink, type NlLinkAlias } from './rtnetlink.js';

const NAMED_NETNS_DIR = '/var/run/netns';

/** A marked link found somewhere. */
export interface MarkedLink {
  /** The namespace file (null: the daemon's own namespace). */
  netns: string | null;
  link: NlLinkAlias;
  marker: DeviceMarker;
}

/** Where to look: the host, the state's sandboxes, the named namespaces; each once. */
function namespacesToScan(known: KnownState): (string | null)[] {
  const out = new Set<string | null>([known.hostNetns]);
  for (const e of known.endpoints) if (existsSync(e.sandboxPath)) out.add(e.sandboxPath);
  try {
    for (const n of readdirSync(NAMED_NETNS_DIR)) out.add(join(NAMED_NETNS_DIR, n));
  } catch {
    /* no named namespaces */
  }
  return [...out];
}

/** Every link carrying a tsnet-switch marker, in every namespace worth looking in. */
export function findMarkedLinks(known: KnownState): MarkedLink[] {
  const found: MarkedLink[] = [];
  for (const ns of namespacesToScan(known)) {
    let nl: Rtnetlink;
    try {
      nl = Rtnetlink.open(ns ?? undefined);
    } catch {
      continue; // a namespace file that went away, or is not a namespace
    }
    try {
      for (const link of nl.linkAliasList()) {
        const marker = parseMarker(link.alias);
        if (marker) found.push({ netns: ns, link, marker });
      }
    } catch {
      /* the namespace died while we looked */
    } finally {
      nl.close();
    }
  }
  return found;
}

/** Whether a state lists this link (by network id and interface name, or endpoint id and name). */
function listedIn(state: { networks: { id: string; gateway?: { ifname: string } | null; options?: { hostShimName?: string } }[]; endpoints: { id: string; ifname: string }[] }, m: MarkedLink): boolean {
  if (m.marker.role === 'endpoint') return state.endpoints.some((e) => e.id === m.marker.endpoint && e.ifname === m.link.name);
  return state.networks.some((n) => n.id === m.marker.network && (n.gateway?.ifname === m.link.name || n.options?.hostShimName === m.link.name));
}

function knownAsState(known: KnownState) {
  return {
    networks: known.networks.map((n) => ({ id: n.id, gateway: n.gatewayIfname ? { ifname: n.gatewayIfname } : null, options: { hostShimName: n.shimIfname ?? undefined } })),
    endpoints: known.endpoints,
  };
}

/** Why a marked link is not an orphan, or null if it is one (then `orphanWhy` says why). */
function verdict(known: KnownState, m: MarkedLink): { orphan: boolean; why: string } {
  if (m.marker.owner === known.owner) {
    if (listedIn(knownAsState(known), m)) return { orphan: false, why: '' };
    const what = m.marker.role === 'endpoint' ? `endpoint ${m.marker.endpoint} of network ${m.marker.network}` : `the ${m.marker.role} of network ${m.marker.network}`;
    return { orphan: true, why: `made by this daemon as ${what}, which its state does not know` };
  }
  return foreignOwnerVerdict(m.marker.owner, (s) => listedIn(s as Parameters<typeof listedIn>[0], m));
}

export function describeLink(m: MarkedLink): string {
  return `interface ${m.link.name} in ${m.netns ?? 'the host namespace'}`;
}

/** The orphans among the marked links, and the foreign links left alone (with why). */
export function classifyMarkedLinks(known: KnownState): { link: MarkedLink; orphan: boolean; why: string }[] {
  return findMarkedLinks(known)
    .map((link) => ({ link, ...verdict(known, link) }))
    .filter((v) => v.orphan || v.why !== '');
}

export const deviceReconcileSource: ReconcileSource = {
  name: 'devices',
  reconcile(known, dryRun) {
    const actions: ReconcileAction[] = [];
    for (const { link: m, orphan, why } of classifyMarkedLinks(known)) {
      const what = describeLink(m);
      if (!orphan) {
        actions.push({ source: 'devices', what, action: 'kept', why });
        continue;
      }
      if (dryRun) {
        actions.push({ source: 'devices', what, action: 'would-remove', why });
        continue;
      }
      try {
        const nl = Rtnetlink.open(m.netns ?? undefined);
        try {
          nl.linkDel(m.link.index);
        } finally {
          nl.close();
        }
        actions.push({ source: 'devices', what, action: 'removed', why });
      } catch (err) {
        actions.push({ source: 'devices', what, action: 'failed', why: `${why}; delete failed: ${(err as Error).message}` });
      }
    }
    return actions;
  },
};
