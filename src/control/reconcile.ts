/**
 * Reconcile at start: find what a daemon made (devices, host rules, sockets) that its state does not
 * know — left by a crash, a lost state dir, or a daemon that is gone — and remove it, logging each.
 * Exactness comes from markers: every persistent thing carries one (device-marker.ts for links; an
 * nft rule comment, a socket's path, … for other owners), and a source only ever acts on what its
 * marker says is the daemon's own.
 *
 * Whoever makes a kind of persistent thing registers one ReconcileSource for it; the daemon runs
 * them all at start (after the state is loaded and re-adopted), and `doctor` runs them with
 * `dryRun` to report orphans without touching them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkRuntime } from './drivers/network-driver.js';
import { StateLock } from './state-lock.js';

/** What the daemon's state knows, for sources to compare with what they find. */
export interface KnownState {
  /** The daemon's own state directory (absolute): the owner in its markers. */
  owner: string;
  /** The namespace the daemon treats as the host (a netns path; null: its own). */
  hostNetns: string | null;
  networks: { id: string; name: string; gatewayIfname: string | null; shimIfname: string | null }[];
  endpoints: { id: string; networkId: string; sandboxPath: string; ifname: string }[];
}

export interface ReconcileAction {
  /** The source that found it ('devices', 'nft', …). */
  source: string;
  /** What it is, in words: `interface tsn-1a2b3c4d in the host namespace (alias …)`. */
  what: string;
  /** removed: it is gone now; kept: left alone on purpose (why says so); failed: removal failed (why). */
  action: 'removed' | 'kept' | 'failed' | 'would-remove';
  why: string;
}

export interface ReconcileSource {
  readonly name: string;
  /** Finds this source's orphans and (unless dryRun) removes them. Never throws for one bad item. */
  reconcile(known: KnownState, dryRun: boolean): ReconcileAction[];
}

export class Reconciler {
  private readonly sources: ReconcileSource[] = [];

  register(source: ReconcileSource): void {
    if (this.sources.some((s) => s.name === source.name)) throw new Error(`reconcile source ${source.name} is registered already`);
    this.sources.push(source);
  }

  run(known: KnownState, opts: { dryRun?: boolean; log?: (msg: string) => void } = {}): ReconcileAction[] {
    const out: ReconcileAction[] = [];
    for (const s of this.sources) {
      let actions: ReconcileAction[];
      try {
        actions = s.reconcile(known, opts.dryRun ?? false);
      } catch (err) {
        actions = [{ source: s.name, what: `reconcile of ${s.name}`, action: 'failed', why: (err as Error).message }];
      }
      for (const a of actions) {
        opts.log?.(`reconcile: ${a.what}: ${a.action}${a.why ? ` (${a.why})` : ''}`);
        out.push(a);
      }
    }
    return out;
  }
}

/** The KnownState of a daemon's live networks and endpoints. */
export function knownStateOf(owner: string, hostNetns: string | null, networks: Iterable<NetworkRuntime>): KnownState {
  const nets = [...networks];
  return {
    owner,
    hostNetns,
    networks: nets.map((n) => ({ id: n.record.id, name: n.record.name, gatewayIfname: n.record.gateway?.ifname ?? null, shimIfname: n.record.options.hostShimName ?? null })),
    endpoints: nets.flatMap((n) => [...n.endpoints.values()].map((e) => ({ id: e.record.id, networkId: n.record.id, sandboxPath: e.record.sandboxPath, ifname: e.record.ifname }))),
  };
}

/**
 * Whether a thing marked as made by another state dir is an orphan: not while that daemon runs (then
 * it is silently not ours: why is ''), and not while its stopped daemon's state still wants it (kept,
 * why says so); it is when that state is gone or does not want it. `wants` reads a parsed state.json.
 */
export function foreignOwnerVerdict(owner: string, wants: (state: { networks: unknown[]; endpoints: unknown[] }) => boolean): { orphan: boolean; why: string } {
  if (StateLock.holder(owner) !== null) return { orphan: false, why: '' };
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(join(owner, 'state.json'), 'utf8'));
  } catch {
    return { orphan: true, why: `made by a daemon whose state (${owner}) is gone` };
  }
  const s = state as { networks?: unknown; endpoints?: unknown };
  if (Array.isArray(s?.networks) && Array.isArray(s?.endpoints) && !wants(s as { networks: unknown[]; endpoints: unknown[] })) {
    return { orphan: true, why: `made by the stopped daemon of ${owner}, whose state does not list it` };
  }
  return { orphan: false, why: `belongs to the stopped daemon of state dir ${owner}, which will adopt it; start that daemon, or remove the network there` };
}
