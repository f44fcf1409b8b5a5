/**
 * The ADD result (SPEC.md, section 5 "ADD Success") in the shape of the version asked for:
 * 0.4.0 has `version: "4"` in each IP; 1.0.0 dropped it; 1.1.0 adds the interface's `mtu`.
 * An interface plugin given a prevResult (not first in a chain) appends to it.
 */
import type { CniVersion, DnsConfig } from './cni-config.js';

export interface AttachmentAnswer {
  endpoint: { mac: string; ip: string | null; prefixLen: number | null; ifname: string; id: string };
  network: { name: string; gateway: string | null; mtu: number };
  routes: { dst: string; gw: string }[];
}

type Json = Record<string, unknown>;

export function addResult(version: CniVersion, a: AttachmentAnswer, netns: string, dns: DnsConfig | Record<string, unknown> | undefined, prev?: Json): Json {
  const interfaces = Array.isArray(prev?.interfaces) ? [...(prev!.interfaces as Json[])] : [];
  const ips = Array.isArray(prev?.ips) ? [...(prev!.ips as Json[])] : [];
  const routes = Array.isArray(prev?.routes) ? [...(prev!.routes as Json[])] : [];
  const index = interfaces.length;
  interfaces.push({ name: a.endpoint.ifname, mac: a.endpoint.mac, ...(version === '1.1.0' ? { mtu: a.network.mtu } : {}), sandbox: netns });
  if (a.endpoint.ip !== null && a.endpoint.prefixLen !== null) {
    ips.push({
      ...(version === '0.4.0' ? { version: '4' } : {}),
      address: `${a.endpoint.ip}/${a.endpoint.prefixLen}`,
      ...(a.network.gateway ? { gateway: a.network.gateway } : {}),
      interface: index,
    });
  }
  for (const r of a.routes) routes.push({ dst: r.dst, gw: r.gw });
  const out: Json = { cniVersion: version, interfaces, ips };
  if (routes.length) out.routes = routes;
  const d = dns ?? (prev?.dns as Json | undefined);
  out.dns = d && Object.keys(d).length ? d : {};
  return out;
}
