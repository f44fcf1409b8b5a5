/**
 * Finding networks and endpoints by what people have at hand, for capture and trace: a network by name,
 * id or id prefix (4+); an endpoint by id, id prefix (4+), netns name, namespace path, interface name,
 * or its label as captures show it (`c1:eth0`); a network's gateway port by its device name.
 * Errors name the value and list what exists.
 */
import type { Port } from '../dataplane/port.js';
import type { Daemon } from './daemon.js';
import type { EndpointRuntime, NetworkRuntime } from './drivers/network-driver.js';
import { TsnError } from '../errors.js';
import { describeSandbox } from './sandbox.js';

export function findNetwork(daemon: Daemon, ref: string): NetworkRuntime | undefined {
  const nets = daemon.networkRuntimes();
  return nets.find((n) => n.record.name === ref) ?? nets.find((n) => n.record.id === ref || (ref.length >= 4 && n.record.id.startsWith(ref)));
}

export function networkOrThrow(daemon: Daemon, ref: string): NetworkRuntime {
  const n = findNetwork(daemon, ref);
  if (n) return n;
  const known = daemon.networkRuntimes().map((x) => x.record.name);
  throw new TsnError('ERR_NO_SUCH_NETWORK', `network ${JSON.stringify(ref)} does not exist${known.length ? `: known networks are ${known.join(', ')}` : ': there are no networks yet (tsnet-switch network create)'}`);
}

export interface PortMatch {
  network: NetworkRuntime;
  /** null for the gateway port. */
  endpoint: EndpointRuntime | null;
  port: Port;
}

/** Every attached port of `nets` that `ref` names. */
export function matchPorts(nets: NetworkRuntime[], ref: string, opts: { byIfname: boolean }): PortMatch[] {
  const out: PortMatch[] = [];
  for (const rt of nets) {
    if (rt.gatewayPort && (rt.gatewayPort.name === ref || rt.gatewayPort.label === ref)) out.push({ network: rt, endpoint: null, port: rt.gatewayPort });
    const exact = rt.endpoints.get(ref);
    if (exact?.port) {
      out.push({ network: rt, endpoint: exact, port: exact.port });
      continue;
    }
    for (const e of rt.endpoints.values()) {
      if (!e.port) continue;
      const r = e.record;
      if (
        (ref.length >= 4 && r.id.startsWith(ref)) ||
        (r.sandbox.kind === 'netns' && r.sandbox.name === ref) ||
        r.sandboxPath === ref ||
        e.port.label === ref ||
        (opts.byIfname && r.ifname === ref)
      ) {
        out.push({ network: rt, endpoint: e, port: e.port });
      }
    }
  }
  return out;
}

export function describeEndpoints(nets: NetworkRuntime[]): string {
  const list = nets.flatMap((rt) => [...rt.endpoints.values()].map((e) => `${e.record.id} (${describeSandbox(e.record.sandbox)}:${e.record.ifname} on ${rt.record.name})`));
  return list.length ? list.join(', ') : 'none';
}
