/**
 * `network ls` and `network inspect` as the API returns them: rows, and Docker's inspect shape where it
 * has one, with the driver's own sections (NetworkDriver.inspect) merged into the top level.
 */
import type { NetworkDriver, NetworkRuntime } from '../drivers/network-driver.js';
import { formatPublish } from '../nat/published-ports.js';
import { describeSandbox } from '../sandbox.js';

/** One `network ls` row. */
export function networkRow(rt: NetworkRuntime) {
  return {
    id: rt.record.id,
    name: rt.record.name,
    driver: rt.record.driver,
    subnet: rt.ipam?.subnet ?? null,
    gateway: rt.ipam?.gateway ?? null,
    /** Dual stack: the IPv6 subnet, or null. */
    subnet6: rt.ipam6?.subnet ?? null,
    endpoints: rt.endpoints.size,
    internal: rt.record.options.internal,
    /** The Docker network that is this network on this host (src/docker/), or null. */
    docker: rt.record.docker?.networkId ?? null,
  };
}

/** `network inspect NAME`. */
export function inspectNetwork(rt: NetworkRuntime, driver: NetworkDriver) {
  const r = rt.record;
  const endpoints: Record<string, unknown> = {};
  for (const e of rt.endpoints.values()) {
    endpoints[e.record.id] = {
      Sandbox: describeSandbox(e.record.sandbox),
      SandboxPath: e.record.sandboxPath,
      Interface: e.record.ifname,
      MacAddress: e.record.mac,
      IPv4Address: e.record.ip ? `${e.record.ip}/${e.record.prefixLen}` : '',
      IPv6Address: e.record.ip6 ? `${e.record.ip6}/${e.record.prefixLen6}` : '',
      DefaultRoute: e.record.defaultRoute,
      Attached: e.port !== null,
      ...(e.record.label ? { Name: e.record.label } : {}),
      ...(e.record.publish?.length ? { Ports: e.record.publish.map(formatPublish) } : {}),
    };
  }
  return {
    Name: r.name,
    Id: r.id,
    Created: r.created,
    Driver: r.driver,
    EnableIPv6: Boolean(rt.ipam6),
    IPAM: rt.ipam ? { ...rt.ipam.inspect(), Config: [...rt.ipam.inspect().Config, ...(rt.ipam6 ? [rt.ipam6.inspect()] : [])] } : { Driver: 'null', Config: [] },
    Internal: r.options.internal,
    MTU: r.options.mtu,
    Options: { icc: String(r.options.icc), internal: String(r.options.internal), port_security: r.options.portSecurity ?? 'mac', ...(r.options.bridgeName ? { 'bridge.name': r.options.bridgeName } : {}) },
    GatewayPort: r.gateway ? { Interface: r.gateway.ifname, MacAddress: r.gateway.mac, IPv4Address: `${r.gateway.ip}/${r.gateway.prefixLen}`, ...(r.gateway.ip6 ? { IPv6Address: `${r.gateway.ip6}/${r.gateway.prefixLen6}` } : {}) } : null,
    Endpoints: endpoints,
    ...(r.docker ? { Docker: { NetworkID: r.docker.networkId } } : {}),
    ...(driver.inspect?.(rt) ?? {}),
  };
}
