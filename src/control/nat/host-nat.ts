/**
 * HostNat: keeps the nftables table of src/control/nat/nft-ruleset.ts in step with the daemon's state,
 * in the namespace the daemon treats as the host. The daemon calls sync() after every change it
 * persists; the table is rewritten (one `nft -f` transaction) only when its text changes, so an
 * ordinary connect without published ports costs nothing. A restarted daemon's first sync replaces
 * whatever a crashed one left; a clean shutdown removes the table.
 *
 * The table's comment names the daemon's state dir; a table this daemon's state does not ask for
 * (a wiped state dir, another daemon's leftovers) is found at start by nat-reconcile.ts.
 *
 * Forwarding must be on for masquerade and published ports to carry anything: the first ruleset with
 * rules turns net.ipv4.ip_forward on in that namespace (as Docker does), and leaves it on.
 */
import { runInHost, type HostCommandResult } from '../host-command.js';
import type { DaemonState } from '../model.js';
import { natRuleset } from './nft-ruleset.js';

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

  /** Remove the table (clean shutdown). */
  remove(): void {
    if (!this.installed) return;
    this.sync({ networks: [], endpoints: [] }, true);
  }
}
