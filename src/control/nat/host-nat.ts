/**
 * HostNat: keeps the nftables table of src/control/nat/nft-ruleset.ts in step with the daemon's state,
 * in the namespace the daemon treats as the host. The daemon calls sync() after every change it
 * persists; the table is rewritten (one `nft -f` transaction) only when its text changes, so an
 * ordinary connect without published ports costs nothing. A restarted daemon's first sync replaces
 * whatever a crashed one left; a clean shutdown removes the table.
 *
 * The table's comment names the daemon's state dir; a table this daemon's state does not ask for
 * (a wiped state dir, another daemon's leftovers) is found at start by nat-reconcile.ts, and one a
 * running daemon of another state dir keeps is never replaced (`conflict`, which doctor reports).
 *
 * Forwarding must be on for masquerade and published ports to carry anything: the first ruleset with
 * rules turns net.ipv4.ip_forward on in that namespace (as Docker does), and leaves it on.
 */
import { runInHost, type HostCommandResult } from '../host-command.js';
import type { DaemonState } from '../model.js';
import { StateLock } from '../state-lock.js';
import { markerNamesOwner, NAT_TABLE, natRuleset, parseNatTableMarker } from './nft-ruleset.js';

/** The NAT table's comment in `hostNetns`, '' when it has none, or null when there is no such table. */
export function readNatTableComment(hostNetns: string | null): string | null {
  const r = runInHost(hostNetns, 'nft', ['list', 'table', 'ip', NAT_TABLE]);
  if (!r.ok) return null; // "No such file or directory": no table (or no nft: then nothing made one)
  return /^\s*comment "([^"]*)"\s*$/m.exec(r.stdout)?.[1] ?? '';
}

export class HostNat {
  private applied: string | null = null;
  /** The table exists with rules this daemon put there. */
  private installed = false;
  private forwarding = false;

  constructor(
    /** The host namespace's file, or null for the daemon's own. */
    readonly hostNetns: string | null,
    /** The daemon's state dir: the owner named in the table's comment. */
    private readonly owner: string,
    private readonly log: (msg: string) => void,
  ) {}

  private run(cmd: string, args: string[], input?: string): HostCommandResult {
    return runInHost(this.hostNetns, cmd, args, input);
  }

  /** Another running daemon's state dir whose table this one would have replaced (then nothing of ours is installed). */
  conflict: string | null = null;

  /** Whether the daemon's state asks for rules now (and they are in the table). */
  get holdsTable(): boolean {
    return this.installed;
  }

  /** Bring the table to what `state` asks for. `force`: apply even if the text looks unchanged (at start). */
  sync(state: Pick<DaemonState, 'networks' | 'endpoints'>, force = false): void {
    const { text, rules } = natRuleset(state, this.owner);
    if (!force && text === this.applied) return;
    if (this.applied === null && rules === 0 && !force) {
      this.applied = text; // nothing installed by this daemon, nothing asked for
      return;
    }
    // One table per host namespace: never replace the one a running daemon of another state dir keeps.
    const foreign = this.runningForeignOwner();
    if (foreign !== null) {
      if (this.conflict !== foreign) this.log(`nat: the nftables table ip ${NAT_TABLE} here belongs to the running daemon of state dir ${foreign}: not replacing it, so this daemon's masquerade and published ports (${rules} rule(s)) are not installed; run one daemon per host namespace`);
      this.conflict = foreign;
      this.applied = null;
      return;
    }
    this.conflict = null;
    if (rules > 0 && !this.forwarding) {
      const f = this.run('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      if (!f.ok) this.log(`nat: could not turn on forwarding: ${f.err}`);
      this.forwarding = true;
    }
    const r = this.run('nft', ['-f', '-'], text);
    if (!r.ok) {
      this.log(`nat: nft refused the ruleset (${rules} rule(s)): ${r.err}`);
      this.applied = null;
      return;
    }
    this.applied = text;
    this.installed = rules > 0;
  }

  /** The state dir of another running daemon that made the table here, or null. */
  private runningForeignOwner(): string | null {
    const comment = readNatTableComment(this.hostNetns);
    const marker = comment ? parseNatTableMarker(comment) : null;
    if (!marker || !('owner' in marker) || markerNamesOwner(marker, this.owner)) return null;
    return StateLock.holder(marker.owner) !== null ? marker.owner : null;
  }

  /** Remove the table (clean shutdown). */
  remove(): void {
    if (!this.installed) return;
    this.sync({ networks: [], endpoints: [] }, true);
  }
}
