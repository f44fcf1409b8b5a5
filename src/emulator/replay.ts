/**
 * Replay: captures in, a topology of in-memory ports in between, one capture per port out — the same
 * stages a live switch runs, with no root and no kernel device.
 *
 * Algorithm: read every input (pcap or pcapng), take its frames in time order (ties keep file order,
 * then input order), and for each one set the virtual clock to the frame's timestamp, run the periodic
 * work (FDB aging) that the daemon's one-second timer would have run by then, queue the frame on its
 * port and run one burst. Time therefore comes from the captures: FDB aging and every other timeout see
 * the same clock on every run, so a replay is byte-for-byte repeatable. Frames a pcapng input marks as
 * outbound (a switch capture of both directions) are skipped: only what entered a port is replayed.
 *
 * Each port's output capture (PORT.pcapng or PORT.pcap in the output directory) holds what crossed that
 * port, both directions, as `tsnet-switch capture ENDPOINT` would have recorded it — inbound frames as
 * replayed, outbound frames as the switch sent them — with the switch's decisions as comments when
 * annotating. Nothing is ever dropped from these captures (they are written synchronously).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureHub } from '../capture/capture-hub.js';
import { readCapture } from '../capture/capture-reader.js';
import type { CaptureFormatName, CaptureSession } from '../capture/capture-session.js';
import { FileSink } from '../capture/capture-sinks.js';
import { TsnError } from '../errors.js';
import { VirtualClock } from '../dataplane/clock.js';
import { MemoryPort } from '../dataplane/ports/memory-port.js';
import { SwitchEngine } from '../dataplane/switch-engine.js';
import { formatMac } from '../packet/mac.js';
import type { Topology } from './topology.js';

export interface ReplayInput {
  port: string;
  file: string;
}

export interface ReplayOptions {
  topology: Topology;
  inputs: ReplayInput[];
  outDir: string;
  format?: CaptureFormatName;
  annotate?: boolean;
}

export interface ReplayPortSummary {
  port: string;
  network: string;
  output: string;
  rxPackets: number;
  txPackets: number;
  drops: Record<string, number>;
}

export interface ReplaySummary {
  frames: number;
  skippedOutbound: number;
  startMicros: number | null;
  endMicros: number | null;
  ports: ReplayPortSummary[];
  fdb: { network: string; mac: string; port: string; type: string }[];
}

export function replay(opts: ReplayOptions): ReplaySummary {
  const { topology } = opts;
  const format = opts.format ?? 'pcapng';
  const portNames = new Set(topology.ports.map((p) => p.name));
  // Read everything first: a bad input is an error before any output is written.
  const frames: { t: number; port: string; data: Uint8Array; order: number }[] = [];
  let skippedOutbound = 0;
  opts.inputs.forEach((input, i) => {
    if (!portNames.has(input.port)) {
      throw new TsnError('ERR_BAD_OPTION', `--in ${input.port}=${input.file}: no port ${JSON.stringify(input.port)} in the topology (ports: ${[...portNames].join(', ')})`);
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(input.file);
    } catch (err) {
      throw new TsnError('ERR_BAD_OPTION', `--in ${input.port}=${input.file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const cap = readCapture(bytes, input.file);
    cap.records.forEach((r, k) => {
      if (r.direction === 2) {
        skippedOutbound++;
        return;
      }
      frames.push({ t: r.timeMicros, port: input.port, data: r.data, order: i * 2 ** 32 + k });
    });
  });
  frames.sort((a, b) => a.t - b.t || a.order - b.order);

  const start = frames.length ? frames[0].t : 0;
  const clock = new VirtualClock(start / 1e6);
  const engine = new SwitchEngine({ clock, poolSlots: 64, portBurst: 64 });
  const hub = CaptureHub.for(engine, () => Math.round(clock.now() * 1e6));
  const ports = new Map<string, MemoryPort>();
  const sessions: CaptureSession[] = [];
  mkdirSync(opts.outDir, { recursive: true });
  try {
    for (const n of topology.networks) engine.createDomain(n.name, { icc: n.icc, agingSeconds: n.agingSeconds, capacity: n.capacity });
    for (const p of topology.ports) {
      const port = new MemoryPort(p.name, { ownMac: p.mac ?? undefined, gso: p.gso });
      engine.addPort(port, engine.domains.get(p.network)!);
      ports.set(p.name, port);
    }
    for (const p of topology.ports) {
      const sink = new FileSink(join(opts.outDir, `${p.name}.${format}`));
      sessions.push(
        hub.start(
          {
            target: { kind: 'port', port: ports.get(p.name)! },
            format,
            annotate: opts.annotate,
            describePort: () => `emulated port ${p.name} on network ${p.network}${p.mac !== null ? `, own MAC ${formatMac(p.mac)}` : ', trusted'}`,
          },
          sink,
        ),
      );
    }
    let lastPeriodic = start / 1e6;
    for (const f of frames) {
      clock.set(f.t / 1e6);
      // The daemon's once-a-second timer (aging), on the virtual clock: due work runs before the frame.
      if (clock.now() - lastPeriodic >= 1) {
        engine.periodic();
        lastPeriodic = clock.now();
      }
      ports.get(f.port)!.inject(f.data);
      engine.poll();
      for (const p of ports.values()) p.sent.length = 0;
    }
  } finally {
    for (const s of sessions) s.end('stopped');
  }
  const outputs = new Map(sessions.map((s, i) => [topology.ports[i].name, join(opts.outDir, `${topology.ports[i].name}.${format}`)]));
  const summary: ReplaySummary = {
    frames: frames.length,
    skippedOutbound,
    startMicros: frames.length ? frames[0].t : null,
    endMicros: frames.length ? frames[frames.length - 1].t : null,
    ports: topology.ports.map((p) => {
      const c = ports.get(p.name)!.counters;
      return { port: p.name, network: p.network, output: outputs.get(p.name)!, rxPackets: c.rxPackets, txPackets: c.txPackets, drops: c.dropsByReason() };
    }),
    fdb: [...engine.domains.values()].flatMap((d) =>
      d.fdb.list().map((e) => ({ network: d.name, mac: formatMac(e.mac), port: e.port.label, type: e.isStatic ? 'static' : 'learned' })),
    ),
  };
  engine.close();
  return summary;
}
