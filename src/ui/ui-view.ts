/**
 * What the UI page draws, as one JSON document (`GET /view.json`): each network with its ports (from
 * `stats`, named as `stats` names them, with the endpoint's address where the port is one), the
 * gateway, the overlay's peers or the parent, the load balancer's services; per-port rates over the
 * UI server's last sampling interval; drops by reason; the FDB. Read from the same views the CLI
 * prints (network inspect, stats, fdb show, lb ls), so the page never says something the CLI does not.
 */
import type { Daemon } from '../control/daemon.js';
import type { PortRate } from '../control/render/port-rates.js';
import { formatHostPort } from '../lb/lb-address.js';

interface InspectView {
  Name: string;
  Driver: string;
  IPAM: { Config?: { Subnet?: string; Gateway?: string }[] };
  GatewayPort: { Interface: string; IPv4Address: string } | null;
  Endpoints: Record<string, { Name?: string; Sandbox: string; Interface: string; MacAddress: string; IPv4Address: string }>;
  Overlay?: { VNI: number; VTEP: string; Peers: string[] };
  Parent?: { Interface: string; Mode?: string };
  Uplinks?: { Interface: string }[];
}

export interface UiPort {
  port: string;
  kind: 'gateway' | 'endpoint' | 'other';
  ip: string;
  mac: string;
  rate: PortRate | null;
  drops: Record<string, number>;
}

export function uiView(daemon: Daemon, rates: Map<string, PortRate>, intervalSeconds: number) {
  const stats = daemon.stats() as { ports: { network: string; port: string; endpoint: string | null; drops: Record<string, number> }[] };
  const services = (daemon.lb.list().services as { network: string | null; protocol: string; vip: string; port: number; scheduler: string; servers: { ip: string; port?: number; weight?: number }[] }[]).map((s) => ({ network: s.network, service: `${s.protocol} ${formatHostPort(s.vip, s.port)}`, scheduler: s.scheduler, servers: s.servers.map((r) => (r.port ? formatHostPort(r.ip, r.port) : r.ip)) }));
  const networks = daemon.listNetworks().map((row: { name: string }) => {
    const v = daemon.inspectNetwork(row.name) as unknown as InspectView;
    const ports: UiPort[] = stats.ports
      .filter((p) => p.network === v.Name)
      .map((p) => {
        const ep = p.endpoint ? v.Endpoints[p.endpoint] : undefined;
        const gw = !ep && v.GatewayPort && p.port.startsWith(v.GatewayPort.Interface);
        return {
          port: p.port,
          kind: ep ? 'endpoint' : gw ? 'gateway' : 'other',
          ip: ep?.IPv4Address ?? (gw ? v.GatewayPort!.IPv4Address : ''),
          mac: ep?.MacAddress ?? '',
          rate: rates.get(`${p.network}\0${p.port}`) ?? null,
          drops: p.drops,
        };
      });
    const cfg = v.IPAM.Config?.[0] ?? {};
    return {
      name: v.Name,
      driver: v.Driver,
      subnet: cfg.Subnet ?? '',
      gateway: cfg.Gateway ?? '',
      ports,
      overlay: v.Overlay ? { vni: v.Overlay.VNI, vtep: v.Overlay.VTEP, peers: v.Overlay.Peers } : null,
      parent: v.Parent ? v.Parent.Interface : null,
      uplinks: v.Uplinks ? v.Uplinks.map((u) => u.Interface) : [],
      services: services.filter((s) => s.network === v.Name),
    };
  });
  return { at: new Date().toISOString(), intervalSeconds, networks, fdb: daemon.fdbShow() };
}
