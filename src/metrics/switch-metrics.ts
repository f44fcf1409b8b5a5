/**
 * What /metrics says, gathered at scrape time from the tables `stats`, `lb ls` and `network inspect`
 * read (the ports' PortCounters, the FDBs, the VTEP sockets, the load balancer's servers, the
 * WireGuard peers): nothing is counted for metrics, so serving them costs nothing per packet, only a
 * walk over ports and services per scrape.
 *
 * Names follow Prometheus's conventions: a `tsnet_` prefix, base units (bytes, seconds), `_total` on
 * counters. Labels name configured things only (network, port, VTEP, service, server, reason), never a
 * MAC or a flow, so the number of series follows the configuration, not the traffic. A drop reason
 * appears once it has counted something (48 reasons on every port would be mostly zeros).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureHub } from '../capture/capture-hub.js';
import type { Daemon } from '../control/daemon.js';
import { portOwners } from '../control/render/port-owners.js';
import type { Port } from '../dataplane/port.js';
import type { VxlanPort } from '../dataplane/ports/vxlan-port.js';
import type { MetricFamily, MetricSample, MetricType } from './exposition-format.js';
import { formatHostPort } from '../lb/lb-address.js';

/** The package's version, read once (dist/metrics/ and src/metrics/ are both two levels below it). */
let packageVersion: string | null = null;
function version(): string {
  if (packageVersion === null) {
    try {
      const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version?: string };
      packageVersion = pkg.version ?? 'unknown';
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}

/** Families keyed by name, in the order first asked for. */
class FamilySet {
  private readonly families = new Map<string, MetricFamily>();

  add(name: string, type: MetricType, help: string, value: number, labels?: Record<string, string>): void {
    let f = this.families.get(name);
    if (!f) this.families.set(name, (f = { name, type, help, samples: [] }));
    const s: MetricSample = labels ? { labels, value } : { value };
    f.samples.push(s);
  }

  list(): MetricFamily[] {
    return [...this.families.values()];
  }
}

/** Port labels unique within a network (two sandboxes could print alike): a repeat gets the port id. */
function portLabels(ports: readonly Port[], nameOf: (p: Port) => string): Map<Port, string> {
  const out = new Map<Port, string>();
  const used = new Set<string>();
  for (const p of ports) {
    let name = nameOf(p);
    if (used.has(name)) name = `${name} #${p.id}`;
    used.add(name);
    out.set(p, name);
  }
  return out;
}

function portMetrics(m: FamilySet, daemon: Daemon): void {
  const networks = daemon.networkRuntimes();
  const owners = portOwners(networks);
  for (const rt of networks) {
    const network = rt.record.name;
    const ports = rt.domain?.ports ?? [];
    const names = portLabels(ports, (p) => owners.get(p.id)?.name ?? p.name);
    for (const p of ports) {
      const labels = { network, port: names.get(p)! };
      const c = p.counters;
      m.add('tsnet_port_receive_packets_total', 'counter', 'Frames received by the switch from the port (a GSO super-frame counts once).', c.rxPackets, labels);
      m.add('tsnet_port_receive_bytes_total', 'counter', 'Bytes of the frames received from the port.', c.rxBytes, labels);
      m.add('tsnet_port_transmit_packets_total', 'counter', 'Frames the switch sent out of the port (a GSO super-frame counts once).', c.txPackets, labels);
      m.add('tsnet_port_transmit_bytes_total', 'counter', 'Bytes of the frames sent out of the port.', c.txBytes, labels);
      m.add('tsnet_port_transmit_segments_total', 'counter', 'Segments written for GSO super-frames the port could not take whole.', c.txSegments, labels);
      for (const [reason, n] of Object.entries(c.dropsByReason())) {
        m.add('tsnet_port_dropped_total', 'counter', 'Frames dropped at the port, by reason (the names `stats` prints; only reasons that counted).', n, { ...labels, reason });
      }
    }
    m.add('tsnet_network_endpoints', 'gauge', 'Endpoints connected to the network.', rt.endpoints.size, { network });
    if (rt.domain) {
      const f = rt.domain.fdb.counters();
      m.add('tsnet_fdb_entries', 'gauge', 'MAC addresses in the network\'s forwarding database.', f.entries, { network });
      m.add('tsnet_fdb_learned_total', 'counter', 'Source MACs learned into the forwarding database.', f.learned, { network });
      m.add('tsnet_fdb_moved_total', 'counter', 'Learned MACs seen again on another port (a move).', f.moved, { network });
      m.add('tsnet_fdb_aged_total', 'counter', 'Learned entries removed after their age ran out.', f.aged, { network });
      m.add('tsnet_fdb_refused_full_total', 'counter', 'MACs not learned because the forwarding database was full.', f.refusedFull, { network });
      const vx = ports.find((p) => p.kind === 'vxlan') as VxlanPort | undefined;
      if (vx) {
        m.add('tsnet_vxlan_datagrams_sent_total', 'counter', 'VXLAN datagrams the overlay network sent to remote VTEPs (each flood copy and GSO segment counts).', vx.datagrams, { network });
        m.add('tsnet_vxlan_peers', 'gauge', 'Remote VTEPs the overlay network floods to.', vx.peers.length, { network });
        m.add('tsnet_vxlan_neighbors', 'gauge', 'IPv4 to MAC pairs the overlay answers ARP for locally.', vx.neighbors.size, { network });
      }
    }
  }
}

/** The shared VTEP sockets (overlay): datagrams received and what was dropped before a VNI was known. */
function vtepMetrics(m: FamilySet, daemon: Daemon): void {
  for (const v of daemon.overlay.vtepStats()) {
    const labels = { vtep: v.vtep };
    m.add('tsnet_vxlan_receive_packets_total', 'counter', 'Datagrams received on the VTEP socket (a UDP GRO batch counts once per inner frame).', v.rxPackets, labels);
    m.add('tsnet_vxlan_receive_bytes_total', 'counter', 'Bytes received on the VTEP socket.', v.rxBytes, labels);
    for (const [reason, n] of Object.entries(v.drops)) {
      m.add('tsnet_vxlan_dropped_total', 'counter', 'Datagrams dropped on the VTEP socket, by reason (truncated, bad flags, unknown VNI, WireGuard).', n, { ...labels, reason });
    }
  }
  for (const { vtep, peers } of daemon.overlay.encrypted.allPeers()) {
    for (const p of peers) {
      const labels = { vtep, peer: p.VTEP };
      if (p.LatestHandshake !== null) m.add('tsnet_wireguard_peer_last_handshake_timestamp_seconds', 'gauge', 'When the last WireGuard handshake with the peer completed (Unix time).', Date.parse(p.LatestHandshake) / 1000, labels);
      m.add('tsnet_wireguard_peer_receive_bytes_total', 'counter', 'Bytes received from the WireGuard peer.', p.TransferRx, labels);
      m.add('tsnet_wireguard_peer_transmit_bytes_total', 'counter', 'Bytes sent to the WireGuard peer.', p.TransferTx, labels);
      m.add('tsnet_wireguard_peer_session_established', 'gauge', '1 while a WireGuard session with the peer is established.', p.Session === 'established' ? 1 : 0, labels);
    }
  }
}

interface LbServerView {
  ip: string;
  port: number;
  weight: number;
  activeConns: number;
  inactConns: number;
  healthy: boolean;
  draining: boolean;
}

interface LbServiceView {
  protocol: string;
  vip: string;
  port: number;
  network: string | null;
  stats: { conns: number; inPkts: number; outPkts: number; inBytes: number; outBytes: number };
  servers: LbServerView[];
}

function lbMetrics(m: FamilySet, daemon: Daemon): void {
  const view = daemon.lb.list() as { table: { connections: number; capacity: number; refusedFull: number }; services: LbServiceView[] };
  m.add('tsnet_lb_connection_table_entries', 'gauge', 'Connections the load balancer tracks.', view.table.connections);
  m.add('tsnet_lb_connection_table_capacity', 'gauge', 'Connections the load balancer can track at most (--lb-max-connections).', view.table.capacity);
  m.add('tsnet_lb_connection_table_refused_total', 'counter', 'New connections refused because the connection table was full.', view.table.refusedFull);
  for (const s of view.services) {
    const service = `${s.protocol.toUpperCase()} ${formatHostPort(s.vip, s.port)}`;
    let active = 0;
    let inactive = 0;
    for (const rs of s.servers) {
      active += rs.activeConns;
      inactive += rs.inactConns;
      const labels = { service, server: formatHostPort(rs.ip, rs.port) };
      m.add('tsnet_lb_server_weight', 'gauge', 'The real server\'s weight (0 drains it).', rs.weight, labels);
      m.add('tsnet_lb_server_healthy', 'gauge', '1 while the real server passes its health check (or has none).', rs.healthy ? 1 : 0, labels);
      m.add('tsnet_lb_server_connections', 'gauge', 'Connections to the real server (active: ESTABLISHED; inactive: every other state).', rs.activeConns, { ...labels, state: 'active' });
      m.add('tsnet_lb_server_connections', 'gauge', '', rs.inactConns, { ...labels, state: 'inactive' });
    }
    m.add('tsnet_lb_connections', 'gauge', 'Connections to the virtual service, as ipvsadm counts them (active: ESTABLISHED; inactive: every other state).', active, { service, state: 'active' });
    m.add('tsnet_lb_connections', 'gauge', '', inactive, { service, state: 'inactive' });
    const labels = { service };
    m.add('tsnet_lb_scheduled_connections_total', 'counter', 'Connections the virtual service scheduled to a real server.', s.stats.conns, labels);
    m.add('tsnet_lb_incoming_packets_total', 'counter', 'Packets from clients to the virtual service.', s.stats.inPkts, labels);
    m.add('tsnet_lb_incoming_bytes_total', 'counter', 'Bytes from clients to the virtual service.', s.stats.inBytes, labels);
    m.add('tsnet_lb_outgoing_packets_total', 'counter', 'Packets from real servers back to clients through the switch (NAT).', s.stats.outPkts, labels);
    m.add('tsnet_lb_outgoing_bytes_total', 'counter', 'Bytes from real servers back to clients through the switch (NAT).', s.stats.outBytes, labels);
  }
}

function processMetrics(m: FamilySet, daemon: Daemon): void {
  m.add('tsnet_build_info', 'gauge', 'Always 1: the running tsnet-switch version and Node.js version as labels.', 1, { version: version(), nodejs: process.versions.node });
  m.add('tsnet_engine_bursts_total', 'counter', 'Bursts the switch engine ran through its stage graph.', daemon.engine.bursts);
  m.add('tsnet_engine_internal_errors_total', 'counter', 'Stages that threw (bugs counted instead of crashing the switch).', daemon.engine.internalErrors);
  let help = 'Frames each stage of the data-plane graph dropped, by reason (the drops of tsnet_port_dropped_total that stages decided, by stage).';
  for (const [stage, by] of Object.entries(daemon.engine.stageDrops())) {
    for (const [reason, n] of Object.entries(by)) {
      m.add('tsnet_stage_drops_total', 'counter', help, n, { stage, reason });
      help = '';
    }
  }
  m.add('tsnet_captures_running', 'gauge', 'Captures running now.', CaptureHub.for(daemon.engine).list().length);
  const cpu = process.cpuUsage();
  m.add('process_cpu_seconds_total', 'counter', 'User and system CPU time of the daemon.', (cpu.user + cpu.system) / 1e6);
  m.add('process_resident_memory_bytes', 'gauge', 'Resident memory of the daemon.', process.memoryUsage.rss());
  m.add('process_start_time_seconds', 'gauge', 'When the daemon started (Unix time).', Math.round(Date.now() / 1000 - process.uptime()));
}

/** Every family, read now. */
export function collectSwitchMetrics(daemon: Daemon): MetricFamily[] {
  const m = new FamilySet();
  portMetrics(m, daemon);
  vtepMetrics(m, daemon);
  lbMetrics(m, daemon);
  processMetrics(m, daemon);
  return m.list();
}
