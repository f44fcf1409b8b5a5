/**
 * `tsnet-switch emulate TOPOLOGY.yaml --in PORT=FILE.pcap... --out DIR [--format pcapng|pcap]
 *                      [--annotate] [--json]`
 *
 * Replays captures through a topology of in-memory ports (src/emulator/), with no daemon, no root and
 * no kernel device, and writes one capture per port into DIR. Time comes from the captures' timestamps
 * (a virtual clock), so aging and timeouts replay the same way on every run. Prints per-port counters
 * and the final FDB.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { TsnError } from '../errors.js';
import type { ReplayInput } from '../emulator/replay.js';
import { parseTopology } from '../emulator/topology.js';
import { table } from './format.js';

export function parseReplayInput(text: string): ReplayInput {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) throw new TsnError('ERR_BAD_OPTION', `--in ${JSON.stringify(text)}: expected PORT=FILE, e.g. --in web1=web1.pcap`);
  return { port: text.slice(0, i), file: text.slice(i + 1) };
}

export function registerEmulateCommand(program: Command): void {
  program
    .command('emulate')
    .description('replay captures through a topology of in-memory ports (no root) and write one capture per port')
    .argument('<topology>', 'YAML: networks [{name, icc?, fdb?}] and ports [{name, network, mac?, gso?}]')
    .requiredOption('--in <port=file>', 'frames entering PORT, from a pcap or pcapng file (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .requiredOption('--out <dir>', 'where PORT.pcapng (or .pcap) files go')
    .addOption(new Option('--format <format>', 'output format').choices(['pcapng', 'pcap']).default('pcapng'))
    .option('--annotate', "the switch's decision as each packet's comment (pcapng)")
    .option('--json', 'print JSON')
    .action(async (file: string, o: { in: string[]; out: string; format: 'pcapng' | 'pcap'; annotate?: boolean; json?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new TsnError('ERR_BAD_TOPOLOGY', `topology ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (o.in.length === 0) throw new TsnError('ERR_BAD_OPTION', 'emulate needs at least one --in PORT=FILE');
      const { replay } = await import('../emulator/replay.js'); // the data plane: loaded by this command only
      const summary = replay({ topology: parseTopology(text, file), inputs: o.in.map(parseReplayInput), outDir: o.out, format: o.format, annotate: o.annotate });
      if (o.json) {
        console.log(JSON.stringify(summary, null, 2));
        return;
      }
      const span = summary.startMicros === null ? '' : `, ${((summary.endMicros! - summary.startMicros) / 1e6).toFixed(6)} s of capture time`;
      console.log(`replayed ${summary.frames} frames${summary.skippedOutbound ? ` (skipped ${summary.skippedOutbound} outbound)` : ''}${span}`);
      const drops = (d: Record<string, number>) => Object.entries(d).map(([k, v]) => `${k}=${v}`).join(',') || '0';
      console.log(table(['PORT', 'NETWORK', 'RX PKTS', 'TX PKTS', 'DROPS', 'CAPTURE'], summary.ports.map((p) => [p.port, p.network, p.rxPackets, p.txPackets, drops(p.drops), p.output])));
      console.log();
      console.log(table(['NETWORK', 'MAC', 'PORT', 'TYPE'], summary.fdb.map((e) => [e.network, e.mac, e.port, e.type])));
    });
}
