/**
 * `tsnet-switch doctor`: what is wrong with this host's tsnet-switch, each with a fix. The checks that
 * need the daemon's knowledge run in the daemon (src/control/doctor-checks.ts, GET /v1/doctor); this
 * half adds what must be true before a daemon can work at all: /dev/net/tun opens, and the daemon
 * answers. Exit code 0: nothing wrong (notes do not count); 1: at least one problem.
 */
import { closeSync, openSync } from 'node:fs';
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';
import type { DoctorFinding } from '../control/doctor-checks.js';

function tunFinding(): DoctorFinding | null {
  try {
    closeSync(openSync('/dev/net/tun', 'r+'));
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { check: 'tun', severity: 'problem', subject: '/dev/net/tun', problem: `cannot be opened (${code}): the daemon cannot make TAP devices`, fix: code === 'ENOENT' ? 'modprobe tun (or mknod /dev/net/tun c 10 200 in a container)' : 'run as root (or with CAP_NET_ADMIN and access to /dev/net/tun)' };
  }
}

async function daemonFindings(api: ApiClient): Promise<DoctorFinding[]> {
  try {
    return (await api.call<{ findings: DoctorFinding[] }>('GET', '/v1/doctor')).findings;
  } catch (err) {
    return [{ check: 'daemon', severity: 'problem', subject: api.socketPath, problem: (err as Error).message, fix: 'start it with `tsnet-switch daemon` (the checks of networks, devices and MTUs need it)' }];
  }
}

function render(findings: DoctorFinding[]): string {
  if (!findings.length) return 'no problems found';
  return findings.map((f) => `${f.severity === 'problem' ? 'PROBLEM' : 'note'} [${f.check}] ${f.subject}\n  ${f.problem}\n  fix: ${f.fix}`).join('\n');
}

export function registerDoctorCommand(program: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  program
    .command('doctor')
    .description('check this host and the daemon (TAP support, reachability, orphaned devices, MTUs, promiscuous parents, forwarding); exit 1 if anything is wrong')
    .option('--json', 'print JSON: {"ok": bool, "findings": [...]}')
    .addOption(socketOption())
    .action(async (o) => {
      const tun = tunFinding();
      const findings = [...(tun ? [tun] : []), ...(await daemonFindings(client(o)))];
      const ok = !findings.some((f) => f.severity === 'problem');
      console.log(o.json ? JSON.stringify({ ok, findings }, null, 2) : render(findings));
      process.exitCode = ok ? 0 : 1;
    });
}
