/**
 * Reconcile source for the NAT table (`ip tsnet-switch` in the daemon's host namespace, nft-ruleset.ts).
 * The table is an orphan when its comment names this daemon's state dir and the state asks for no
 * rules (a state dir wiped and made again: the restarted daemon's first sync had nothing to write),
 * or names another state dir whose daemon is not running and whose state is gone or holds no NAT.
 * A table without our marker (hand-made, or from a build before markers) is left alone and reported.
 */
import type { DaemonState } from '../model.js';
import { foreignOwnerVerdict, type ReconcileAction, type ReconcileSource } from '../reconcile.js';
import { runInHost } from '../host-command.js';
import { readNatTableComment, type HostNat } from './host-nat.js';
import { markerNamesOwner, NAT_TABLE, natRuleset, parseNatTableMarker } from './nft-ruleset.js';

export function natReconcileSource(nat: HostNat): ReconcileSource {
  return {
    name: 'nft',
    reconcile(known, dryRun): ReconcileAction[] {
      const comment = readNatTableComment(known.hostNetns);
      if (comment === null) return [];
      const what = `nftables table ip ${NAT_TABLE} in ${known.hostNetns ?? 'the host namespace'}`;
      const marker = parseNatTableMarker(comment);
      if (!marker) return [{ source: 'nft', what, action: 'kept', why: `it carries no tsnet-switch owner marker (comment ${JSON.stringify(comment)}), so it is not known to be a daemon's; if it is a leftover, nft delete table ip ${NAT_TABLE}` }];
      let verdict: { orphan: boolean; why: string };
      if (markerNamesOwner(marker, known.owner)) {
        verdict = nat.holdsTable ? { orphan: false, why: '' } : { orphan: true, why: 'made by this daemon, whose state asks for no masquerade or published ports now' };
      } else if ('owner' in marker) {
        verdict = foreignOwnerVerdict(marker.owner, (s) => natRuleset(s as unknown as Pick<DaemonState, 'networks' | 'endpoints'>).rules > 0);
      } else {
        verdict = { orphan: false, why: 'made by a daemon whose state dir is named only by a hash (its path is too long for the comment): only that daemon can tell; start it, or delete the table by hand' };
      }
      if (!verdict.orphan) return verdict.why ? [{ source: 'nft', what, action: 'kept', why: verdict.why }] : [];
      if (dryRun) return [{ source: 'nft', what, action: 'would-remove', why: verdict.why }];
      const r = runInHost(known.hostNetns, 'nft', ['delete', 'table', 'ip', NAT_TABLE]);
      return [{ source: 'nft', what, action: r.ok ? 'removed' : 'failed', why: r.ok ? verdict.why : `${verdict.why}; delete failed: ${r.err}` }];
    },
  };
}
