/**
 * Per-port rates (`tsnet-switch top`, the UI page) from two samples of the `stats` counters, sorted as
 * the screen shows them. Pure, so the unit test can feed it samples; src/cli/top-command.ts and src/ui/ui-server.ts sample.
 */
export interface PortCounters {
  network: string;
  port: string;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  drops: Record<string, number>;
}

export interface PortRate {
  network: string;
  port: string;
  rxPps: number;
  txPps: number;
  rxBps: number;
  txBps: number;
  dropsPs: number;
  /** Drops per second by reason, only the reasons that moved. */
  dropReasons: Record<string, number>;
}

export const SORT_KEYS = ['rx', 'tx', 'drops', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

const key = (p: { network: string; port: string }) => `${p.network}\0${p.port}`;
const sumDrops = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

/**
 * Rates over `seconds` between `before` and `now`. A port new since `before` counts from zero; a counter
 * that went down (the port was made again, counters restarted) counts from zero too, never negative.
 */
export function portRates(before: readonly PortCounters[], now: readonly PortCounters[], seconds: number): PortRate[] {
  const prev = new Map(before.map((p) => [key(p), p]));
  const rate = (a: number, b: number | undefined) => (a >= (b ?? 0) ? a - (b ?? 0) : a) / seconds;
  return now.map((p) => {
    const b = prev.get(key(p));
    const dropReasons: Record<string, number> = {};
    for (const [r, v] of Object.entries(p.drops)) {
      const d = rate(v, b?.drops[r]);
      if (d > 0) dropReasons[r] = d;
    }
    return {
      network: p.network,
      port: p.port,
      rxPps: rate(p.rxPackets, b?.rxPackets),
      txPps: rate(p.txPackets, b?.txPackets),
      rxBps: rate(p.rxBytes, b?.rxBytes) * 8,
      txBps: rate(p.txBytes, b?.txBytes) * 8,
      dropsPs: rate(sumDrops(p.drops), b ? sumDrops(b.drops) : 0),
      dropReasons,
    };
  });
}

/** Busiest first (by the key's packets/s, then name), as top sorts by CPU. */
export function sortRates(rows: PortRate[], by: SortKey): PortRate[] {
  const name = (a: PortRate, b: PortRate) => a.network.localeCompare(b.network) || a.port.localeCompare(b.port);
  const metric = (r: PortRate) => (by === 'rx' ? r.rxPps : by === 'tx' ? r.txPps : by === 'drops' ? r.dropsPs : 0);
  return [...rows].sort((a, b) => metric(b) - metric(a) || name(a, b));
}

/** 1234567 -> "1.23M", as iftop prints rates. */
export function humanRate(v: number, unit: string): string {
  const steps: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [n, s] of steps) if (v >= n) return `${(v / n).toFixed(2)}${s}${unit}`;
  return `${v.toFixed(v >= 10 || v === 0 ? 0 : 1)}${unit}`;
}
