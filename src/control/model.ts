/**
 * The control plane's model, Docker's CNM kept: a Network is a named L2 domain with a driver and an
 * IPAM config; an Endpoint is one attachment of a sandbox (a network namespace) to a network. These
 * records are what the state store persists and what `network inspect` shows; the runtime objects
 * (L2 domains, ports) are rebuilt from them at start.
 */
import type { LbState } from './lb-model.js';

/** The drivers' names, once: the type, the list, and the API's schemas (api-schema.ts, attachment-api.ts) come from it. */
export const DRIVER_NAMES = ['bridge', 'null', 'overlay', 'macvlan', 'ipvlan'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
export const DRIVERS: readonly DriverName[] = DRIVER_NAMES;

/** An overlay network's VXLAN settings (driver overlay; see drivers/overlay-driver.ts). */
export interface OverlayRecord {
  /** VXLAN network identifier, 1..16777215. */
  vni: number;
  /** Local VTEP: an IPv4 address of the host, and the UDP port (4789) it and every peer use. */
  vtep: string;
  port: number;
  /** Remote VTEPs that get broadcast, multicast and unknown unicast (head-end replication). */
  peers: string[];
  /** Flood-and-learn of remote MAC -> VTEP and IP -> MAC from decapsulated frames. */
  learning: boolean;
  /** Static remote entries (`fdb add NETWORK MAC --vtep IP [--ip ADDR]`). */
  staticFdb: { mac: string; vtep: string; ip: string | null; ip6?: string }[];
  /** `-o encrypted=true`: WireGuard between VTEPs (src/control/overlay-encryption-options.ts). */
  encrypted?: OverlayEncryption;
}

export interface OverlayEncryption {
  /** This host's WireGuard UDP port. */
  port: number;
  /** Peers from -o encrypted.peers: public key (base64), VTEP address, first endpoint. */
  peers: { publicKey: string; vtep: string; endpoint: string; port: number }[];
}

export interface NetworkOptions {
  mtu: number;
  /** Inter-container communication (Docker's com.docker.network.bridge.enable_icc). */
  icc: boolean;
  /** No gateway port, no default route: containers reach each other only. */
  internal: boolean;
  /** Name of the host-side gateway TAP (bridge driver). */
  bridgeName: string | null;
  /** Port security: 'mac' (a container sends only with its own MAC) or 'ip' (and only from its own IPv4). */
  portSecurity?: 'mac' | 'ip';
  /**
   * macvlan/ipvlan: the parent interface (-o parent=IFACE), in the daemon's host namespace. (A bridge
   * network of the first uplink version kept its uplink here; see `uplinks`.)
   */
  parent?: string;
  /**
   * bridge: the host interfaces that are ports of the network (its uplinks to a LAN, as `brctl addif`):
   * `-o parent=IFACE` at create, then `network uplink add|rm`. Read it with hostInterfacesOf (parent-network-options.ts).
   */
  uplinks?: string[];
  /** bridge: false when the network has no gateway port (-o gateway_port=false: the LAN's router serves). */
  gatewayPort?: boolean;
  /** macvlan: bridge | private | vepa | passthru; ipvlan: l2 (-o mode=...). */
  mode?: string;
  /** macvlan/ipvlan: the host's own port on the network (-o host_shim=IP), and its interface name. */
  hostShim?: string;
  hostShimName?: string;
  /** Outbound masquerade of the subnet in the daemon's namespace (bridge; src/control/nat/). Default off on the CLI, on through Docker. */
  masquerade?: boolean;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: DriverName;
  created: string;
  options: NetworkOptions;
  /** NetworkIpam.toJSON(); null for the null driver. */
  ipam: unknown;
  /** A dual-stack network's IPv6 pool (`--ipv6`): NetworkIpam6.toJSON() (ipam6.ts); absent without IPv6. */
  ipam6?: unknown;
  /** The host-side gateway port, when the driver made one; ip6/prefixLen6 on a dual-stack network. */
  gateway: { ifname: string; mac: string; ip: string; prefixLen: number; ip6?: string; prefixLen6?: number } | null;
  /** Driver overlay only. */
  overlay?: OverlayRecord;
  /** Made through Docker's remote driver (src/docker/): Docker's network id. */
  docker?: { networkId: string };
}

/** A published port: HOSTPORT on the daemon's namespace forwarded (DNAT) to the endpoint's PORT. */
export interface PublishedPort {
  proto: 'tcp' | 'udp';
  hostPort: number;
  port: number;
}

/**
 * An endpoint whose TAP is made in the host namespace for a runtime to move into its sandbox (Docker's
 * libnetwork moves the interface named `srcName` and renames it). `moved`: the device was seen in the
 * sandbox (then `sandboxPath`/`ifname` say where it is); until then it is in the host namespace under
 * `srcName`. See src/control/runtime-moved-tap.ts.
 */
export interface HostSideTap {
  srcName: string;
  /** The namespace file the runtime will move it into (Docker's SandboxKey), once known (Join). */
  sandboxKey: string | null;
  moved: boolean;
  /** It was in the sandbox and came back under srcName (Leave, or the sandbox went while we were down). */
  returned?: boolean;
}

export type SandboxRef = { kind: 'netns'; name: string } | { kind: 'path'; path: string } | { kind: 'pid'; pid: number };

export interface EndpointRecord {
  id: string;
  networkId: string;
  sandbox: SandboxRef;
  /** The namespace file the endpoint was made in, as resolved at connect time. */
  sandboxPath: string;
  ifname: string;
  mac: string;
  ip: string | null;
  prefixLen: number | null;
  /** On a dual-stack network: the endpoint's IPv6 address and prefix length. */
  ip6?: string;
  prefixLen6?: number;
  /** Whether connect installed the sandbox's default route via this network's gateway. */
  defaultRoute: boolean;
  created: string;
  /** The runtime's container id when a CNI or netavark plugin made it (runtime-attachments.ts); absent for `connect`. */
  containerId?: string;
  /** The runtime moves the TAP into the sandbox itself (Docker): see HostSideTap. */
  hostSide?: HostSideTap;
  /** How output names the endpoint (fdb show, stats, capture): the container's name where the runtime gave one. */
  label?: string;
  /** Made through Docker's remote driver: Docker's endpoint id. */
  docker?: { endpointId: string };
  /** Published ports (`connect --publish`, `docker run -p`), installed by src/control/nat/. */
  publish?: PublishedPort[];
}

export interface DaemonState {
  version: 1;
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
  /** Virtual services (lb), see lb-model.ts; absent in state written before them. */
  lb?: LbState;
}

export const EMPTY_STATE: DaemonState = { version: 1, networks: [], endpoints: [] };
