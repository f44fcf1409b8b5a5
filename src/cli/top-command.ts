/**
 * `tsnet-switch top`: per-port packets/s, bits/s and drops/s, refreshed, busiest first — `top` and
 * `iftop` for the switch's ports. It polls the API's `stats` (the same counters `stats` prints; nothing
 * is counted for it) and redraws the terminal; `--once` prints one sample over the interval and exits
 * (for scripts and `--json`). q or Ctrl-C quits.
 */
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';
import { TsnError } from '../errors.js';
import { table } from './format.js';
import { humanRate, portRates, sortRates, SORT_KEYS, type PortCounters, type PortRate, type SortKey } from '../control/render/port-rates.js';

const CLEAR = '\x1b[H\x1b[2J';

function render(rows: PortRate[], by: SortKey, interval: number, socket: string): string {
  const drops = (r: PortRate) => Object.entries(r.dropReasons).map(([k, v]) => `${k}=${humanRate(v, '/s')}`).join(',') || '-';
  const body = table(
    ['NETWORK', 'PORT', 'RX PKT/S', 'TX PKT/S', 'RX BIT/S', 'TX BIT/S', 'DROP/S', 'DROPS BY REASON'],
    rows.map((r) => [r.network, r.port, humanRate(r.rxPps, ''), humanRate(r.txPps, ''), humanRate(r.rxBps, 'b'), humanRate(r.txBps, 'b'), humanRate(r.dropsPs, ''), drops(r)]),
  );
  return `tsnet-switch top — ${socket}, every ${interval}s, sorted by ${by} (keys: r rx, t tx, d drops, n name, q quit)\n${new Date().toISOString()}  ${rows.length} port(s)\n\n${body}\n`;
}

export function registerTopCommand(program: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  program
    .command('top')
    .description('live per-port packets/s, bits/s and drops/s, busiest first (q to quit)')
    .option('-d, --interval <seconds>', 'seconds between samples', '1')
    .option('-s, --sort <key>', `sort by ${SORT_KEYS.join('|')}`, 'rx')
    .option('--once', 'print one sample over the interval and exit')
    .option('--json', 'with --once: print the rates as JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const interval = Number(o.interval);
      if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600) throw new TsnError('ERR_BAD_OPTION', `--interval ${JSON.stringify(o.interval)}: expected seconds from 0.1 to 3600`);
      if (!SORT_KEYS.includes(o.sort)) throw new TsnError('ERR_BAD_OPTION', `--sort ${JSON.stringify(o.sort)}: expected one of ${SORT_KEYS.join(', ')}`);
      if (o.json && !o.once) throw new TsnError('ERR_BAD_OPTION', '--json needs --once (the live view is for a terminal)');
      const api = client(o);
      let by = o.sort as SortKey;
      const sample = async () => ({ at: process.hrtime.bigint(), ports: (await api.call<{ ports: PortCounters[] }>('GET', '/v1/stats')).ports });
      let prev = await sample();
      const wait = () => new Promise((r) => setTimeout(r, interval * 1000));
      const next = async () => {
        const now = await sample();
        const rows = sortRates(portRates(prev.ports, now.ports, Number(now.at - prev.at) / 1e9), by);
        prev = now;
        return rows;
      };
      if (o.once) {
        await wait();
        const rows = await next();
        console.log(o.json ? JSON.stringify(rows, null, 2) : render(rows, by, interval, api.socketPath));
        return;
      }
      let running = true;
      const quit = () => {
        running = false;
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.pause();
      };
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(true);
        process.stdin.resume();
        process.stdin.on('data', (d: Buffer) => {
          const k = d.toString();
          if (k === 'q' || k === '\x03') quit();
          const sortKey = { r: 'rx', t: 'tx', d: 'drops', n: 'name' }[k] as SortKey | undefined;
          if (sortKey) by = sortKey;
        });
      }
      process.once('SIGINT', quit);
      while (running) {
        await wait();
        if (!running) break;
        process.stdout.write(CLEAR + render(await next(), by, interval, api.socketPath));
      }
    });
}
