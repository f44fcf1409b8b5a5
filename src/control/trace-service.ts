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
import { cidr6Contains, parseCidr6, parseIpv6Address } from './ipam6.js';
import type { NetworkRuntime } from './drivers/network-driver.js';

export interface TraceRequest {
  in: string;
  frame: string;
}

/** A dual-stack network's IPv6 holders, subnet and gateway, for IPv6 frame specs. */
function ipv6Side(rt: NetworkRuntime): NonNullable<FrameSpecNetwork['ipv6']> {
  const macByIp6 = new Map<string, number>();
  for (const e of rt.endpoints.values()) if (e.record.ip6) macByIp6.set(e.record.ip6, parseMac(e.record.mac));
  const gw = rt.record.gateway;
  if (gw?.ip6) macByIp6.set(gw.ip6, parseMac(gw.mac));
  const subnet = parseCidr6(rt.ipam6!.subnet);
  return {
    macOf: (ip) => macByIp6.get(ip),
    inSubnet: (ip) => cidr6Contains(subnet, parseIpv6Address(ip)),
    gateway: gw?.ip6 && !rt.record.options.internal ? { ip: gw.ip6, mac: parseMac(gw.mac) } : null,
  };
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
    ...(rt.ipam6 ? { ipv6: ipv6Side(rt) } : {}),
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
