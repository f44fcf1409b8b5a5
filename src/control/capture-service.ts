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
import { randomBytes } from 'node:crypto';
import { MAX_SNAPLEN } from '../capture/capture-session.js';
import { UnderlayCapture } from '../capture/underlay-capture.js';
import { CaptureFilter } from '../capture/capture-filter.js';

/** The underlay's largest datagram (UDP GSO runs included) fits whole. */
const UNDERLAY_SNAPLEN = 65535;
import { withRtnetlink } from './rtnetlink.js';
import { vtepFamily } from './overlay-options.js';

export interface CaptureRequest {
  target: string;
  format?: 'pcapng' | 'pcap';
  snaplen?: number;
  count?: number;
  filter?: string;
  annotate?: boolean;
  /** The target is an overlay network whose underlay (VTEP datagrams on the host interface) is captured (underlay-capture.ts). */
  underlay?: boolean;
  /** With underlay on an encrypted overlay: the WireGuard key log in the stream (SENSITIVE). */
  writeSecrets?: boolean;
}

export const SUMMARY_TRAILER = 'x-capture-summary';

export class CaptureService {
  private readonly hub: CaptureHub;
  private readonly underlays = new Map<string, UnderlayCapture>();

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
  start(req: CaptureRequest, httpReq: IncomingMessage, res: ServerResponse): CaptureSession | UnderlayCapture {
    if (req.underlay) return this.startUnderlay(req, httpReq, res);
    if (req.writeSecrets) throw new TsnError('ERR_BAD_CAPTURE', '--write-secrets goes with --underlay: the WireGuard secrets open the underlay capture of an encrypted overlay');
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

  /**
   * `capture --underlay NETWORK`: the VTEP's datagrams on the host interface that holds the VTEP address,
   * filtered to the VTEP's UDP port (WireGuard's for an encrypted overlay); pcapng only.
   */
  private startUnderlay(req: CaptureRequest, httpReq: IncomingMessage, res: ServerResponse): UnderlayCapture {
    const net = findNetwork(this.daemon, req.target);
    const ov = net?.record.overlay;
    if (!net || !ov) throw new TsnError('ERR_BAD_CAPTURE', `--underlay takes an overlay network: ${JSON.stringify(req.target)} is ${net ? `a ${net.record.driver} network` : 'no network'} (networks: ${this.daemon.networkRuntimes().filter((n) => n.record.overlay).map((n) => n.record.name).join(', ') || 'no overlay'})`);
    if (req.format === 'pcap') throw new TsnError('ERR_BAD_CAPTURE', '--underlay writes pcapng (it may carry Decryption Secrets Blocks): drop --format pcap');
    if (req.annotate) throw new TsnError('ERR_BAD_CAPTURE', '--annotate explains switch decisions: the underlay is the kernel\'s traffic, none are made there');
    if (req.writeSecrets && !ov.encrypted) throw new TsnError('ERR_BAD_CAPTURE', `--write-secrets: network ${net.record.name} is not encrypted (its underlay carries VXLAN in clear, udp/${ov.port})`);
    const underlay = ov.encrypted ? this.daemon.overlay.encrypted.underlayOf(net.record) : null;
    if (ov.encrypted && !underlay) throw new TsnError('ERR_BAD_CAPTURE', `network ${net.record.name}: its WireGuard VTEP is not open (see the daemon log)`);
    const ifname = withRtnetlink(this.daemon.hostNetns ?? undefined, (nl) => {
      const a = nl.addrList(undefined, vtepFamily(ov.vtep)).find((x) => x.address === ov.vtep);
      return a ? nl.linkInfo(a.index).name : null;
    });
    if (!ifname) throw new TsnError('ERR_BAD_CAPTURE', `network ${net.record.name}: no interface of the host holds its VTEP address ${ov.vtep}`);
    const udpPort = ov.encrypted ? ov.encrypted.port : ov.port;
    const base = `udp port ${udpPort} and host ${ov.vtep}`;
    const snaplen = req.snaplen ?? UNDERLAY_SNAPLEN;
    // The user's filter compiles on its own first: one that is not a whole expression (`x) or (y`)
    // could otherwise widen the VTEP restriction it is joined to.
    if (req.filter) CaptureFilter.compile(req.filter, Math.min(Math.max(snaplen, 1), MAX_SNAPLEN));
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_SNAPLEN) throw new TsnError('ERR_BAD_CAPTURE', `snaplen ${snaplen}: expected 1..${MAX_SNAPLEN}`);
    const stream = new StreamSink(res);
    const id = `u${randomBytes(4).toString('hex')}`;
    let capture: UnderlayCapture | null = null;
    const sink: CaptureSink = {
      write: (chunk, done) => {
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'application/x-pcapng', 'cache-control': 'no-store', trailer: SUMMARY_TRAILER, 'x-capture-id': id });
        stream.write(chunk, done);
      },
      queuedBytes: () => stream.queuedBytes(),
      end: () => {
        if (!res.writableEnded && capture) res.addTrailers({ [SUMMARY_TRAILER]: JSON.stringify(capture.summary()) });
        stream.end();
      },
    };
    try {
      capture = new UnderlayCapture(
      {
        id,
        ifname,
        filter: req.filter ? `(${base}) and (${req.filter})` : base,
        snaplen,
        count: req.count || undefined,
        description: `underlay of network ${net.record.name}: VTEP ${ov.vtep}, ${ov.encrypted ? 'WireGuard' : 'VXLAN'} udp/${udpPort} (every overlay on that VTEP)${req.writeSecrets ? ', with its WireGuard secrets (sensitive: they open every encrypted network on the VTEP)' : ''}`,
        secrets: req.writeSecrets ? underlay! : undefined,
      },
      sink,
      );
    } catch (err) {
      // libpcap's refusals, before anything was written: a filter, or the device.
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_BAD_FILTER') throw new TsnError('ERR_BAD_FILTER', `capture filter ${JSON.stringify(req.filter ?? '')}: ${e.message}; expected tcpdump (pcap-filter) syntax`, { filter: req.filter ?? '' });
      if (e.code === 'ERR_PCAP') throw new TsnError('ERR_BAD_CAPTURE', `underlay capture on ${ifname}: ${e.message}`);
      throw err;
    }
    const c = capture;
    this.underlays.set(id, c);
    res.setTimeout(0);
    httpReq.socket.setTimeout(0);
    stream.whenClosed(() => c.end('sink-closed'));
    c.onEnd((reason) => {
      this.underlays.delete(id);
      this.daemon.log(`capture ${id} ended (${reason}): ${c.counters.captured} frames of the underlay captured, ${c.counters.dropped} dropped${req.writeSecrets ? `, ${c.counters.secrets} secrets blocks` : ''}`);
    });
    this.daemon.log(`capture ${id} started: underlay of ${net.record.name} on ${ifname} (${base})${req.writeSecrets ? ', writing its WireGuard secrets' : ''}`);
    return c;
  }

  stop(id: string) {
    const u = this.underlays.get(id);
    if (u) {
      u.end('stopped');
      return u.summary();
    }
    const s = this.hub.get(id);
    if (!s) throw new TsnError('ERR_NO_SUCH_CAPTURE', `no running capture ${JSON.stringify(id)}: running captures are ${this.hub.list().map((x) => x.id).join(', ') || 'none'}`);
    s.end('stopped');
    return s.summary();
  }

  list() {
    return [...this.hub.list().map((s) => s.summary()), ...[...this.underlays.values()].map((u) => u.summary())];
  }

  stopAll(): void {
    this.hub.stopAll();
    for (const u of [...this.underlays.values()]) u.end('stopped');
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
