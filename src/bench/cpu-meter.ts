/**
 * The CPU a switch used while the traffic ran: CPU-seconds, which the runner turns into cores
 * (1.0 = one core busy the whole time).
 *
 *   - `pids`: the switches' processes (tsnet-switch daemons, ovs-vswitchd, haproxy with the daemon
 *     that carries its traffic): utime + stime from /proc/PID/stat (fields 14 and 15, in clock ticks
 *     of USER_HZ, read once from `getconf CLK_TCK`), all their threads included, summed. Every path
 *     runs its switch in a process of its own, never on the harness's event loop.
 *   - none: the kernel's own paths — their work runs in softirq on whichever CPU, billed to no
 *     process — and the figure is null (n/a).
 */
import { readFileSync } from 'node:fs';
import { run } from './host-commands.js';

export interface CpuSource {
  /** Count these processes. */
  pids?: number[];
}

/** The kernel's paths: nothing to count. */
export const NO_CPU: CpuSource = {};

let ticksPerSecond: number | undefined;

async function clockTicks(): Promise<number> {
  if (ticksPerSecond === undefined) {
    const t = Number((await run('getconf', ['CLK_TCK']).catch(() => '100')).trim());
    ticksPerSecond = Number.isFinite(t) && t > 0 ? t : 100;
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in clock ticks, or null if it is gone. */
export function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return null;
  }
}

/**
 * Start measuring; the returned function gives the CPU-seconds used since, or null for 'none'. The
 * runner divides by the seconds of traffic, so the few idle moments of a server's start-up do not
 * dilute the figure.
 */
export async function startCpuMeter(source: CpuSource): Promise<() => number | null> {
  const pids = source.pids ?? [];
  if (pids.length === 0) return () => null;
  const hz = await clockTicks();
  const k0 = pids.map(processTicks);
  return () => {
    let seconds = 0;
    for (const [i, pid] of pids.entries()) {
      const k1 = processTicks(pid);
      if (k0[i] === null || k1 === null) return null; // it died: the figure would be a guess
      seconds += (k1 - k0[i]!) / hz;
    }
    return seconds;
  };
}
