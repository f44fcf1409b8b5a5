/**
 * How the bench prints its numbers: a few significant digits in the metric's unit (Gbit/s with two
 * decimals, packets/s and connections/s as k/M with three digits, µs with one decimal under 100), the switch's CPU as % of one core, a
 * ratio with two decimals and a change in percent with its sign.
 */

export function formatValue(unit: string, v: number): string {
  if (!Number.isFinite(v)) return '-';
  switch (unit) {
    case 'Gbit/s':
      return `${v >= 100 ? v.toFixed(1) : v.toFixed(2)} Gbit/s`;
    case 'pkt/s':
    case 'conn/s':
      return `${v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(v >= 1e5 ? 0 : 1)}k` : v.toFixed(0)} ${unit}`;
    case 'µs':
      return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} µs`;
    default:
      return `${Number(v.toPrecision(4))} ${unit}`;
  }
}

/** The number alone, for min–max ranges. */
export function formatBare(unit: string, v: number): string {
  return formatValue(unit, v).replace(` ${unit}`, '');
}

export function formatCpu(cores: number | null): string {
  return cores === null || !Number.isFinite(cores) ? 'n/a' : `${(cores * 100).toFixed(0)}%`;
}

export function formatRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '-' : `${r.toFixed(2)}x`;
}

export function formatChange(fraction: number): string {
  if (!Number.isFinite(fraction)) return '-';
  const pct = fraction * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}
