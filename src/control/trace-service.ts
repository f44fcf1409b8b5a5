/**
 * `tsnet-switch trace NETWORK --in ENDPOINT FRAME`: build the frame a spec describes (frame-spec.ts)
 * as the ingress endpoint would send it, and run it through the live pipeline's dry run
 * (SwitchEngine.trace: every stage's decision recorded, nothing learned, counted or sent).
 *
 *   POST /v1/networks/NAME/trace {in, frame} -> { network, in, frame: {spec, summary, hex, length},
 *                                                 stages: [{stage, decision}], outputs: [label], dropped }
 */
import { buildFrame, type FrameSpecNetwork } from '../capture/frame-spec.js';
import { parseIpv4 } from '../packet/ipv4.js';
import { parseMac } from '../packet/mac.js';
import type { Daemon } from './daemon.js';
import { describeEndpoints, matchPorts, networkOrThrow } from './endpoint-lookup.js';
import { TsnError } from '../errors.js';

export interface TraceRequest {
  in: string;
  frame: string;
}

export function traceFrame(daemon: Daemon, networkRef: string, req: TraceRequest) {
  const rt = networkOrThrow(daemon, networkRef);
  const matches = matchPorts([rt], req.in, { byIfname: true });
  if (matches.length === 0) {
    throw new TsnError('ERR_NO_SUCH_ENDPOINT', `no endpoint ${JSON.stringify(req.in)} on ${rt.record.name}: expected an endpoint id, a netns name, an interface name, a label like c1:eth0, or the gateway's device name (endpoints: ${describeEndpoints([rt])})`);
  }
  if (matches.length > 1) {
    throw new TsnError('ERR_AMBIGUOUS_ENDPOINT', `${JSON.stringify(req.in)} matches ${matches.length} ports on ${rt.record.name}: ${matches.map((m) => m.endpoint?.record.id ?? m.port.name).join(', ')}; give the endpoint id`);
  }
  const m = matches[0];
  const macByIp = new Map<number, number>();
  for (const e of rt.endpoints.values()) if (e.record.ip) macByIp.set(parseIpv4(e.record.ip), parseMac(e.record.mac));
  const gw = rt.record.gateway;
  if (gw) macByIp.set(parseIpv4(gw.ip), parseMac(gw.mac));
  let subnet: FrameSpecNetwork['subnet'] = null;
  if (rt.ipam) {
    const [addr, len] = rt.ipam.subnet.split('/');
    subnet = { address: parseIpv4(addr), prefixLen: Number(len) };
  }
  const src = m.endpoint
    ? { mac: parseMac(m.endpoint.record.mac), ip: m.endpoint.record.ip ? parseIpv4(m.endpoint.record.ip) : null }
    : { mac: parseMac(gw!.mac), ip: parseIpv4(gw!.ip) };
  const net: FrameSpecNetwork = {
    srcMac: src.mac,
    srcIp: src.ip,
    subnet,
    gateway: gw && !rt.record.options.internal ? { ip: parseIpv4(gw.ip), mac: parseMac(gw.mac) } : null,
    macOf: (ip) => macByIp.get(ip),
  };
  const built = buildFrame(req.frame, net);
  const result = daemon.engine.trace(m.port, built.frame);
  return {
    network: rt.record.name,
    in: m.port.label,
    frame: { spec: req.frame, summary: built.summary, length: built.frame.length, hex: Buffer.from(built.frame).toString('hex') },
    stages: result.records.map((r) => ({ stage: r.stage, decision: r.decision })),
    outputs: result.outputs,
    dropped: result.dropped,
  };
}
