/**
 * The control plane's model, Docker's CNM kept: a Network is a named L2 domain with a driver and an
 * IPAM config; an Endpoint is one attachment of a sandbox (a network namespace) to a network. These
 * records are what the state store persists and what `network inspect` shows; the runtime objects
 * (L2 domains, ports) are rebuilt from them at start.
 */
export type DriverName = 'bridge' | 'null';
export const DRIVERS: readonly DriverName[] = ['bridge', 'null'];

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
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: DriverName;
  created: string;
  options: NetworkOptions;
  /** NetworkIpam.toJSON(); null for the null driver. */
  ipam: unknown;
  /** The host-side gateway port, when the driver made one. */
  gateway: { ifname: string; mac: string; ip: string; prefixLen: number } | null;
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
  /** Whether connect installed the sandbox's default route via this network's gateway. */
  defaultRoute: boolean;
  created: string;
}

export interface DaemonState {
  version: 1;
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
}

export const EMPTY_STATE: DaemonState = { version: 1, networks: [], endpoints: [] };
