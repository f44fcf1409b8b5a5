/**
 * CaptureService: the daemon's side of `tsnet-switch capture`.
 *
 *   POST   /v1/capture {target, format, snaplen, count, filter, annotate}
 *          -> 200, a chunked body of pcapng (application/x-pcapng) or pcap (application/vnd.tcpdump.pcap)
 *             that flows until the client disconnects, the count is reached, the endpoint leaves, or
 *             the capture is stopped; then the trailer `x-capture-summary` (JSON: captured, dropped,
 *             per interface). Header `x-capture-id` names it for DELETE.
 *          Bad input (unknown target, bad filter, snaplen, format) is a JSON error before any byte of
 *          capture is sent.
 *   DELETE /v1/captures/ID  stop one: the stream gets its statistics blocks and ends cleanly.
 *   GET    /v1/captures     running captures with their counters.
 *
 * TARGET is a network (name, id, id prefix: every port, following joins) or one endpoint (id, id
 * prefix, netns name, namespace path, label `c1:eth0`, or a gateway's device name).
 *
 * The response is the capture's queue: frames are written to it without waiting, and once it holds
 * more than the capture's limit the capture drops frames and counts them (the data plane never waits
 * for a slow client).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CaptureHub } from '../capture/capture-hub.js';
import { checkCaptureOptions, type CaptureOptions, type CaptureSession, type CaptureSink, type CaptureTarget } from '../capture/capture-session.js';
import { StreamSink } from '../capture/capture-sinks.js';
import type { Daemon } from './daemon.js';
import { describeEndpoints, findNetwork, matchPorts } from './endpoint-lookup.js';
import { TsnError } from '../errors.js';
import { describeSandbox } from './sandbox.js';

export interface CaptureRequest {
  target: string;
  format?: 'pcapng' | 'pcap';
  snaplen?: number;
  count?: number;
  filter?: string;
  annotate?: boolean;
}

export const SUMMARY_TRAILER = 'x-capture-summary';

export class CaptureService {
  private readonly hub: CaptureHub;

  constructor(private readonly daemon: Daemon) {
    this.hub = CaptureHub.for(daemon.engine);
  }

  /** What a capture target names: a network's domain or one port, and a name for files. */
  resolveTarget(ref: string): { target: CaptureTarget; description: string } {
    const nets = this.daemon.networkRuntimes();
    const net = findNetwork(this.daemon, ref);
    if (net) {
      if (!net.domain) throw new TsnError('ERR_BAD_OPTION', `network ${net.record.name} uses the ${net.record.driver} driver: no frames cross the switch to capture`);
      return { target: { kind: 'domain', domain: net.domain }, description: `network ${net.record.name}` };
    }
    const matches = matchPorts(nets, ref, { byIfname: false });
    if (matches.length === 1) {
      const m = matches[0];
      return { target: { kind: 'port', port: m.port }, description: `${m.port.label} on ${m.network.record.name}` };
    }
    if (matches.length > 1) {
      throw new TsnError('ERR_AMBIGUOUS_ENDPOINT', `${JSON.stringify(ref)} matches ${matches.length} ports: ${matches.map((m) => `${m.endpoint?.record.id ?? m.port.name} on ${m.network.record.name}`).join(', ')}; give the endpoint id`);
    }
    throw new TsnError(
      'ERR_NO_SUCH_ENDPOINT',
      `no network or endpoint ${JSON.stringify(ref)}: expected a network name or id, or an endpoint id, netns name or label like c1:eth0 (networks: ${nets.map((n) => n.record.name).join(', ') || 'none'}; endpoints: ${describeEndpoints(nets)})`,
    );
  }

  /** Start a capture streaming into `res`. Throws (before writing anything) on bad input. */
  start(req: CaptureRequest, httpReq: IncomingMessage, res: ServerResponse): CaptureSession {
    const { target } = this.resolveTarget(req.target);
    const opts: CaptureOptions = {
      target,
      format: req.format,
      snaplen: req.snaplen,
      count: req.count,
      filter: req.filter,
      annotate: req.annotate,
      describePort: (p) => this.describePort(p.id),
    };
    const o = checkCaptureOptions(opts);
    const stream = new StreamSink(res);
    // Headers (with the capture's id) go out with the first bytes, once the session exists: until then
    // its header blocks wait here, so a bad filter is still a plain JSON error.
    const early: Buffer[] = [];
    let session: CaptureSession | null = null;
    const head = (s: CaptureSession) => {
      if (res.headersSent) return;
      res.writeHead(200, {
        'content-type': o.format === 'pcapng' ? 'application/x-pcapng' : 'application/vnd.tcpdump.pcap',
        'cache-control': 'no-store',
        trailer: SUMMARY_TRAILER,
        'x-capture-id': s.id,
      });
    };
    const sink: CaptureSink = {
      write: (chunk, done) => {
        if (!session) {
          early.push(done ? Buffer.from(chunk) : chunk);
          done?.();
          return;
        }
        head(session);
        stream.write(chunk, done);
      },
      queuedBytes: () => stream.queuedBytes(),
      end: () => {
        if (!session) return;
        head(session);
        if (!res.writableEnded) res.addTrailers({ [SUMMARY_TRAILER]: JSON.stringify(session.summary()) });
        stream.end();
      },
    };
    const s = this.hub.start(opts, sink);
    session = s;
    for (const c of early) sink.write(c);
    if (s.ended) sink.end();
    // No timeouts on a stream that may run for hours.
    res.setTimeout(0);
    httpReq.socket.setTimeout(0);
    stream.whenClosed(() => s.end('sink-closed'));
    s.onEnd((reason) => this.daemon.log(`capture ${s.id} ended (${reason}): ${s.counters.captured} frames captured, ${s.counters.dropped} dropped by the capture`));
    this.daemon.log(`capture ${s.id} started: ${req.target}${req.filter ? ` filter ${JSON.stringify(req.filter)}` : ''} (${s.format}${s.annotate ? ', annotated' : ''})`);
    return s;
  }

  stop(id: string) {
    const s = this.hub.get(id);
    if (!s) throw new TsnError('ERR_NO_SUCH_CAPTURE', `no running capture ${JSON.stringify(id)}: running captures are ${this.hub.list().map((x) => x.id).join(', ') || 'none'}`);
    s.end('stopped');
    return s.summary();
  }

  list() {
    return this.hub.list().map((s) => s.summary());
  }

  stopAll(): void {
    this.hub.stopAll();
  }

  private describePort(portId: number): string {
    for (const rt of this.daemon.networkRuntimes()) {
      if (rt.gatewayPort?.id === portId) return `gateway port of network ${rt.record.name} (${rt.record.gateway?.ip ?? 'no address'})`;
      for (const e of rt.endpoints.values()) {
        if (e.port?.id === portId) return `endpoint ${e.record.id} of network ${rt.record.name}: ${describeSandbox(e.record.sandbox)} ${e.record.ifname} ${e.record.mac}${e.record.ip ? ` ${e.record.ip}/${e.record.prefixLen}` : ''}`;
      }
    }
    return `port ${portId}`;
  }
}
