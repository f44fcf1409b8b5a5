/**
 * `doctor`'s checks that need the cluster store: hosts whose clocks are apart from this one's
 * (cluster-clocks.ts). Logs of two hosts stop lining up, `cluster ls`'s ages and a capture's times
 * disagree, and TLS to the store (certificates' validity) fails once clocks drift by minutes.
 */
import type { DoctorFinding } from '../control/doctor-checks.js';
import type { ClusterAgent } from './cluster-agent.js';
import { CLOCK_SKEW_LIMIT_MS } from './cluster-clocks.js';

export function clusterDoctorFindings(agent: ClusterAgent): DoctorFinding[] {
  const out: DoctorFinding[] = [];
  for (const c of agent.clocks.all()) {
    if (!agent.view.hosts.has(c.host) || Math.abs(c.offsetMs) <= CLOCK_SKEW_LIMIT_MS) continue;
    const host = agent.view.hosts.get(c.host)!.value;
    const s = (Math.abs(c.offsetMs) / 1000).toFixed(1);
    out.push({
      check: 'clock',
      severity: 'problem',
      subject: `cluster host ${c.host} (VTEP ${host.vtep})`,
      problem: `its clock is ${s} s ${c.offsetMs > 0 ? 'ahead of' : 'behind'} this host's ${agent.hostId} (measured from its record's writes through the store, more than ${CLOCK_SKEW_LIMIT_MS / 1000} s apart): the hosts' logs and captures do not line up, and certificates to the store may look not yet valid or expired`,
      fix: `run a time service on both hosts (systemd-timesyncd or chrony) and check with timedatectl; tsnet-switch cluster ls shows every host's offset`,
    });
  }
  return out;
}
