/**
 * `tsnet-switch capture NETWORK|ENDPOINT [-w FILE|-] [--format pcapng|pcap] [-c COUNT] [-s SNAPLEN]
 *                      [--annotate] [--ring-files N --ring-size MB] [--capture-dir DIR] [FILTER...]`
 *
 * Streams a capture from the daemon (POST /v1/capture) into a file, a ring of files, or stdout
 * (`-w -`, for `| tshark -r -` or `| wireshark -k -i -`). Only whole pcapng blocks / pcap records are
 * written, so the output is valid whenever it stops. Ctrl-C asks the daemon to stop the capture (the
 * stream then ends with per-interface statistics) and waits up to 3 s for the end; a second Ctrl-C
 * stops at once. A reader that goes away (tshark quit: EPIPE) stops the capture too.
 *
 * Prints `N frames captured to FILE (M dropped by the capture)` on stderr at the end, like tcpdump.
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { DEFAULT_SOCKET, socketPathFrom } from '../control/api-client.js';
import { SUMMARY_TRAILER } from '../control/capture-service.js';
import { TsnError } from '../errors.js';
import { openCapture, stopCapture } from '../capture/capture-client.js';
import { CaptureFileWriter } from '../capture/capture-file-writer.js';

function wholeNumber(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(v)}: expected a whole number`);
  return Number(v);
}

/** captures/web1-20240102T030405.pcapng: the target made safe for a file name, and the local time. */
export function defaultCapturePath(dir: string, target: string, format: string, now = new Date()): string {
  const safe = target.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '') || 'capture';
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}T${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return join(dir, `${safe}-${stamp}.${format}`);
}

interface CaptureCliOptions {
  write?: string;
  format: 'pcapng' | 'pcap';
  count?: string;
  snaplen?: string;
  annotate?: boolean;
  ringFiles?: string;
  ringSize?: string;
  captureDir: string;
  quiet?: boolean;
  underlay?: boolean;
  writeSecrets?: boolean;
  socket?: string;
}

async function runCapture(target: string, filterWords: string[], o: CaptureCliOptions): Promise<void> {
  const socket = socketPathFrom(o.socket);
  const ringFiles = wholeNumber(o.ringFiles, '--ring-files');
  let ringSizeBytes: number | undefined;
  if (o.ringSize !== undefined) {
    const mb = Number(o.ringSize);
    if (!/^\d+(\.\d+)?$/.test(o.ringSize) || !(mb > 0)) throw new TsnError('ERR_BAD_OPTION', `--ring-size ${JSON.stringify(o.ringSize)}: expected megabytes > 0, e.g. 100`);
    ringSizeBytes = Math.round(mb * 1e6);
  }
  if ((ringFiles === undefined) !== (ringSizeBytes === undefined)) throw new TsnError('ERR_BAD_OPTION', '--ring-files N and --ring-size MB go together');
  if (ringFiles !== undefined && o.write === '-') throw new TsnError('ERR_BAD_OPTION', '--ring-files/--ring-size write files: they cannot go with -w -');
  if (o.writeSecrets && ringFiles !== undefined) throw new TsnError('ERR_BAD_OPTION', '--write-secrets and --ring-files: the secrets blocks are written once, not into every file of the ring');
  const path = o.write ?? defaultCapturePath(o.captureDir, o.underlay ? `${target}-underlay` : target, o.format);
  const filter = filterWords.join(' ').trim();
  const open = await openCapture(socket, {
    target,
    format: o.format,
    snaplen: wholeNumber(o.snaplen, '--snaplen'),
    count: wholeNumber(o.count, '-c'),
    filter: filter || undefined,
    annotate: o.annotate || undefined,
    underlay: o.underlay || undefined,
    writeSecrets: o.writeSecrets || undefined,
  });
  let out: CaptureFileWriter;
  try {
    out = new CaptureFileWriter({ path, ringFiles, ringSizeBytes, ...(o.writeSecrets ? { mode: 0o600 } : {}) });
  } catch (err) {
    open.abort();
    throw err;
  }
  const res = open.response;
  let stopping = false;
  let finished = false;
  const stop = () => {
    if (finished) return;
    if (stopping) {
      open.abort();
      return;
    }
    stopping = true;
    stopCapture(socket, open.id).catch(() => open.abort());
    setTimeout(() => open.abort(), 3000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (path === '-') {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') {
        stopping = true; // the reader is gone: nothing left to say
        open.abort();
      }
    });
  }
  await new Promise<void>((resolve, reject) => {
    res.on('data', (chunk: Buffer) => {
      try {
        if (!out.write(chunk)) {
          res.pause();
          out.once('drain', () => res.resume());
        }
      } catch (err) {
        open.abort();
        reject(err);
      }
    });
    const done = (aborted: boolean) => {
      if (finished) return;
      finished = true;
      out.close();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      let summary: { captured?: number; dropped?: number } = {};
      try {
        summary = JSON.parse(String(res.trailers?.[SUMMARY_TRAILER] ?? '{}'));
      } catch {
        /* no summary: the stream was cut */
      }
      if (!o.quiet) {
        const where = path === '-' ? 'stdout' : out.files.length > 1 ? `${out.files.length} files, ${out.files[0]} .. ${out.files[out.files.length - 1]}` : out.files[0];
        const dropped = summary.dropped ? ` (${summary.dropped} dropped by the capture: the writer was behind)` : '';
        process.stderr.write(`tsnet-switch: ${out.records} frames captured to ${where}${dropped}\n`);
      }
      if (aborted && !stopping) reject(new TsnError('ERR_DAEMON', `the capture stream from the daemon broke off; ${out.records} frames were written, and the output is valid up to there`));
      else resolve();
    };
    res.on('end', () => done(false));
    res.on('aborted', () => done(true));
    res.on('close', () => done(!res.complete));
    res.on('error', () => done(true));
  });
}

export function registerCaptureCommand(program: Command): void {
  program
    .command('capture')
    .description('record the frames entering and leaving the ports of a network or an endpoint, as pcapng (default) or pcap')
    .argument('<target>', 'a network (all its ports) or an endpoint (id, netns name, label like c1:eth0)')
    .argument('[filter...]', 'a tcpdump filter, e.g. tcp port 80 or icmp or arp')
    .option('-w, --write <file>', 'write to FILE, or - for stdout (default: CAPTURE-DIR/TARGET-TIME.pcapng)')
    .addOption(new Option('--format <format>', 'file format').choices(['pcapng', 'pcap']).default('pcapng'))
    .option('-c, --count <n>', 'stop after N frames')
    .option('-s, --snaplen <bytes>', 'keep at most this many bytes of each frame (default 262144: whole frames)')
    .option('--annotate', "the switch's decision as each packet's comment (pcapng): fdb hit -> web1, flood 3 ports, drop spoofed-src-mac")
    .option('--ring-files <n>', 'keep at most N files of --ring-size MB each, deleting the oldest')
    .option('--ring-size <MB>', 'start a new file after this many megabytes')
    .option('--underlay', "TARGET is an overlay network: capture its underlay instead (the VTEP's VXLAN or WireGuard datagrams on the host interface holding the VTEP address, both directions)")
    .option('--write-secrets', 'SENSITIVE, with --underlay on an encrypted overlay: new handshakes with every peer, and their WireGuard keys in the file (pcapng Decryption Secrets Blocks): Wireshark opens it decrypted, inner frames included. Anyone with the file can read that traffic')
    .option('--capture-dir <dir>', 'where captures go without -w', 'captures')
    .option('-q, --quiet', 'no summary on stderr')
    .addOption(new Option('--socket <path>', `the daemon's API socket (env TSNET_SWITCH_SOCKET; default ${DEFAULT_SOCKET})`))
    .action(async (target: string, filter: string[], o: CaptureCliOptions) => {
      await runCapture(target, filter, o);
    });
}
