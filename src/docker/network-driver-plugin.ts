/**
 * libnetwork's remote network driver protocol (moby libnetwork docs/remote.md), answered on our
 * daemon: each NetworkDriver.* call maps to a daemon operation on the tsnet network that Docker's
 * network is. Endpoints are made host-side (CreateEndpoint makes the TAP in the host namespace under
 * `tsn` + Docker's endpoint id; Join hands that name to libnetwork, which moves and renames it; see
 * src/control/runtime-moved-tap.ts), so the frames cross our switch like any other endpoint's.
 */
import type { DockerContainerNames } from './container-names.js';
import type { Daemon } from '../control/daemon.js';
import { TsnError } from '../errors.js';
import type { EndpointRecord, NetworkRecord, PublishedPort } from '../control/model.js';
import type { DockerPools } from './docker-pools.js';
import type { NetworkRequests } from '../control/network-requests.js';
import { networkRequestFromDocker, type DockerIpamData } from './docker-options.js';

type Body = Record<string, unknown>;

const PORTMAP = 'com.docker.network.portmap';
/** IANA protocol numbers, as libnetwork's types.Protocol serialises them. */
const PROTOCOLS: Record<number, 'tcp' | 'udp'> = { 6: 'tcp', 17: 'udp' };

function str(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw new TsnError('ERR_BAD_REQUEST', `${key}: expected a non-empty string`);
  return v;
}

/** Docker's port bindings (`docker run -p`) as our published ports; what we cannot do is refused by name. */
export function publishFromPortmap(bindings: unknown): PublishedPort[] {
  if (bindings === undefined || bindings === null) return [];
  if (!Array.isArray(bindings)) throw new TsnError('ERR_BAD_REQUEST', `${PORTMAP}: expected a list of port bindings`);
  return bindings.map((b: { Proto?: number; Port?: number; HostIP?: string; HostPort?: number; HostPortEnd?: number }) => {
    const proto = PROTOCOLS[b.Proto ?? -1];
    const what = `-p ${b.HostIP ? `${b.HostIP}:` : ''}${b.HostPort ?? ''}:${b.Port}`;
    if (!proto) throw new TsnError('ERR_BAD_OPTION', `${what}: protocol number ${b.Proto} is not supported: expected tcp or udp`);
    if (!b.HostPort) throw new TsnError('ERR_BAD_OPTION', `${what}/${proto}: give the host port (-p HOSTPORT:PORT); tsnet does not pick one`);
    if (b.HostPortEnd && b.HostPortEnd !== b.HostPort) throw new TsnError('ERR_BAD_OPTION', `${what}-${b.HostPortEnd}/${proto}: host port ranges are not supported; publish one port per -p`);
    if (b.HostIP && b.HostIP !== '0.0.0.0' && b.HostIP !== '::') throw new TsnError('ERR_BAD_OPTION', `${what}/${proto}: binding to one host address (${b.HostIP}) is not supported; publish on all (-p HOSTPORT:PORT)`);
    return { proto, hostPort: b.HostPort, port: b.Port ?? 0 };
  });
}

export class NetworkDriverPlugin {
  constructor(
    private readonly daemon: Daemon,
    private readonly pools: DockerPools,
    private readonly requests: NetworkRequests,
    /** The daemon's cluster store, if it has one (its overlays are claimed there; see CreateNetwork). */
    private readonly clusterStore: string | null = null,
    /** dockerd's API, to name endpoints by their container (container-names.ts); null: ids only. */
    private readonly names: DockerContainerNames | null = null,
  ) {}

  private network(dockerId: string): NetworkRecord {
    const n = this.daemon.findNetwork((r) => r.docker?.networkId === dockerId);
    if (!n) throw new TsnError('ERR_NO_SUCH_NETWORK', `Docker network ${dockerId.slice(0, 12)} is not known to this tsnet-switch daemon (was its state dir lost?)`);
    return n;
  }

  private endpoint(net: NetworkRecord, endpointId: string): EndpointRecord | null {
    const found = this.daemon.endpointRuntimes().find((e) => e.network.record.id === net.id && e.endpoint.record.docker?.endpointId === endpointId);
    return found?.endpoint.record ?? null;
  }

  /** Answer one NetworkDriver.* method; undefined: not ours (404). */
  async handle(method: string, body: Body): Promise<unknown> {
    switch (method) {
      case 'GetCapabilities':
        return { Scope: 'local', ConnectivityScope: 'local' };
      case 'CreateNetwork': {
        const req = networkRequestFromDocker(body as never, (subnet) => this.pools.of(subnet)?.ipRange ?? null);
        // A cluster overlay's addresses are claimed in the store, which only our IPAM driver does:
        // Docker's own would hand out the same addresses on every host.
        const space = (body.IPv4Data as DockerIpamData[] | null | undefined)?.[0]?.AddressSpace ?? '';
        if (req.driver === 'overlay' && this.clusterStore && !space.startsWith('tsnet-')) {
          throw new TsnError('ERR_BAD_OPTION', `-o tsnet.driver=overlay without --ipam-driver tsnet (address space ${JSON.stringify(space)}): this daemon's overlays are cluster networks in ${this.clusterStore}, whose addresses are claimed there; add --ipam-driver tsnet`);
        }
        const rec = await this.requests.createNetwork(req);
        // The network's IPAM (IPv4 and IPv6) holds the pools now.
        this.pools.pending.delete(rec.ipam ? (rec.ipam as { subnet: string }).subnet : '');
        if (rec.ipam6) this.pools.pending.delete((rec.ipam6 as { subnet: string }).subnet);
        return {};
      }
      case 'DeleteNetwork': {
        const id = str(body, 'NetworkID');
        const n = this.daemon.findNetwork((r) => r.docker?.networkId === id);
        if (n) await this.requests.removeDockerNetwork(n.name);
        return {};
      }
      case 'CreateEndpoint': {
        const net = this.network(str(body, 'NetworkID'));
        const endpointId = str(body, 'EndpointID');
        const iface = (body.Interface ?? {}) as { Address?: string; AddressIPv6?: string; MacAddress?: string };
        const ep = await this.requests.connect(net.name, {
          hostSideName: `tsn${endpointId.slice(0, 12)}`,
          ip: iface.Address ? iface.Address.split('/')[0] : undefined,
          // An IPAM driver chose it (ours reserved it already); libnetwork puts it on the interface itself.
          ip6: iface.AddressIPv6 ? iface.AddressIPv6.split('/')[0] : undefined,
          mac: iface.MacAddress || undefined,
          addressReserved: true,
          label: `docker:${endpointId.slice(0, 12)}`,
          docker: { endpointId },
        });
        // libnetwork wants back only what it did not give: the MAC, and the IPv6 address we chose when
        // the IPAM gave none on a dual-stack network.
        const ip6 = !iface.AddressIPv6 && ep.ip6 ? { AddressIPv6: `${ep.ip6}/${ep.prefixLen6}` } : {};
        return { Interface: { ...(iface.MacAddress ? {} : { MacAddress: ep.mac }), ...ip6 } };
      }
      case 'EndpointOperInfo': {
        const net = this.network(str(body, 'NetworkID'));
        const ep = this.endpoint(net, str(body, 'EndpointID'));
        return { Value: ep ? { tsnetNetwork: net.name, tsnetEndpoint: ep.id, interface: ep.ifname, mac: ep.mac, ip: ep.ip ?? '' } : {} };
      }
      case 'Join': {
        const net = this.network(str(body, 'NetworkID'));
        const endpointId = str(body, 'EndpointID');
        const sandboxKey = str(body, 'SandboxKey');
        const ep = this.endpoint(net, endpointId);
        if (!ep?.hostSide) throw new TsnError('ERR_NO_SUCH_ENDPOINT', `endpoint ${endpointId.slice(0, 12)} does not exist on ${net.name} (CreateEndpoint first)`);
        this.daemon.updateEndpoint(net.name, ep.id, { update: (r) => (r.hostSide!.sandboxKey = sandboxKey) });
        this.names?.follow(endpointId, (name) => {
          try {
            this.daemon.updateEndpoint(net.name, ep.id, { update: (r) => (r.label = name) });
          } catch {
            /* left already */
          }
        });
        // The containers' default routes: a LAN's router where the network has one (DefaultGatewayIPv4/6,
        // a NIC on the bridge), else the gateway port's addresses, else the IPAM gateways.
        const ipam4 = net.ipam as { gateway?: string; auxAddresses?: Record<string, string> } | null;
        const ipam6 = net.ipam6 as { gateway?: string; auxAddresses?: Record<string, string> } | undefined;
        const gateway = net.options.internal ? '' : (ipam4?.auxAddresses?.DefaultGatewayIPv4 ?? net.gateway?.ip ?? (ipam4?.gateway || ''));
        const gateway6 = net.options.internal ? '' : (ipam6?.auxAddresses?.DefaultGatewayIPv6 ?? net.gateway?.ip6 ?? (ipam6?.gateway || ''));
        return { InterfaceName: { SrcName: ep.hostSide.srcName, DstPrefix: 'eth' }, Gateway: gateway, ...(gateway6 ? { GatewayIPv6: gateway6 } : {}), StaticRoutes: [], DisableGatewayService: true };
      }
      case 'Leave':
        return {}; // libnetwork moves the TAP back under its source name; the watcher follows
      case 'DeleteEndpoint': {
        const id = str(body, 'NetworkID');
        const n = this.daemon.findNetwork((r) => r.docker?.networkId === id);
        const ep = n ? this.endpoint(n, str(body, 'EndpointID')) : null;
        if (n && ep) await this.requests.disconnect(n.name, ep.id); // gone already (the watcher released it): nothing to do
        return {};
      }
      case 'ProgramExternalConnectivity':
      case 'RevokeExternalConnectivity': {
        const net = this.network(str(body, 'NetworkID'));
        const ep = this.endpoint(net, str(body, 'EndpointID'));
        if (!ep) return {};
        const publish = method === 'ProgramExternalConnectivity' ? publishFromPortmap((body.Options as Body | null)?.[PORTMAP]) : [];
        if (publish.length || ep.publish?.length) this.daemon.updateEndpoint(net.name, ep.id, { publish });
        return {};
      }
      case 'DiscoverNew':
      case 'DiscoverDelete':
        return {};
      default:
        return undefined;
    }
  }
}

export type { DockerIpamData };
