/**
 * Daemon: the control plane's single owner of state and data plane. Every operation validates its
 * whole input first, then makes its changes through a driver (which undoes its own partial work on
 * failure), then persists the new state: a request either happens completely or leaves nothing
 * behind — no device, no address, no record.
 *
 * At start it reloads the persisted state and re-adopts the persistent TAP devices, so containers
 * keep their interfaces across a restart (also after kill -9) and traffic resumes.
 */
import { randomBytes } from 'node:crypto';
import { CaptureHub } from '../capture/capture-hub.js';
import { formatMac } from '../packet/mac.js';
import type { SwitchEngine } from '../dataplane/switch-engine.js';
import { parseCidr } from './cidr.js';
import { BridgeDriver } from './drivers/bridge-driver.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkRuntime } from './drivers/network-driver.js';
import { NullDriver } from './drivers/null-driver.js';
import { OverlayDriver } from './drivers/overlay-driver.js';
import { MacvlanDriver } from './drivers/macvlan-driver.js';
import { planParentNetwork } from './parent-network-options.js';
import { TsnError } from './errors.js';
import { checkNoOverlap, chooseDefaultSubnet, DOCKER_DEFAULT_POOLS, NetworkIpam, type AddressPool } from './ipam.js';
import { checkUserMac, macFromIpv4, randomLocalMac } from './mac-address.js';
import { DRIVERS, EMPTY_STATE, type DaemonState, type DriverName, type EndpointRecord, type NetworkOptions, type NetworkRecord } from './model.js';
import { Rtnetlink } from './rtnetlink.js';
import { describeSandbox, resolveSandbox, sandboxFrom } from './sandbox.js';
import { StateStore } from './state-store.js';
import { LbControl } from './lb-control.js';

export interface CreateNetworkRequest {
  name: string;
  driver?: DriverName;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  mtu?: number;
  options?: Record<string, string>;
}

export interface ConnectRequest {
  netns?: string;
  pid?: number;
  ip?: string;
  mac?: string;
  ifname?: string;
}

export interface DaemonOptions {
  engine: SwitchEngine;
  stateDir: string;
  defaultPools?: readonly AddressPool[];
  /** The namespace treated as the host (tests run a daemon inside a namespace of their own). */
  hostNetns?: string | null;
  log?: (msg: string) => void;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** Keys accepted by `-o KEY=VALUE` and their Docker long forms. */
const OPTION_KEYS: Record<string, keyof NetworkOptions> = {
  icc: 'icc',
  'com.docker.network.bridge.enable_icc': 'icc',
  internal: 'internal',
  'bridge.name': 'bridgeName',
  'com.docker.network.bridge.name': 'bridgeName',
  mtu: 'mtu',
  'com.docker.network.driver.mtu': 'mtu',
  port_security: 'portSecurity',
  // macvlan / ipvlan (src/control/parent-network-options.ts)
  parent: 'parent',
  mode: 'mode',
  macvlan_mode: 'mode',
  ipvlan_mode: 'mode',
  host_shim: 'hostShim',
  'host_shim.name': 'hostShimName',
};

export function checkIfname(name: string, what: string): string {
  if (Buffer.byteLength(name) < 1 || Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:%\s]/.test(name)) {
    throw new TsnError('ERR_BAD_NAME', 400, `${what} ${JSON.stringify(name)} is not a valid interface name: 1 to 15 bytes, no '/', ':', '%' or spaces`);
  }
  return name;
}

function parseBool(key: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new TsnError('ERR_BAD_OPTION', 400, `-o ${key}=${v}: expected true or false`);
}

function parseMtu(v: number | string, what: string): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 68 || n > 65535) throw new TsnError('ERR_BAD_OPTION', 400, `${what} ${v}: expected an integer from 68 to 65535`);
  return n;
}

/** How capture, trace and annotations name an endpoint's port: `sandbox:ifname`, as fdb show does. */
export function endpointLabel(ep: EndpointRecord): string {
  return `${describeSandbox(ep.sandbox)}:${ep.ifname}`;
}

export class Daemon {
  readonly engine: SwitchEngine;
  private readonly store: StateStore<DaemonState>;
  private readonly networks = new Map<string, NetworkRuntime>(); // by name
  private readonly drivers: Record<DriverName, NetworkDriver>;
  /** The overlay driver, for its own requests (fdb add/del, inspect, VTEP stats). */
  private readonly overlay: OverlayDriver;
  private readonly defaultPools: readonly AddressPool[];
  private readonly hostNetns: string | null;
  readonly log: (msg: string) => void;
  /** Virtual services (`lb ...`): src/control/lb-control.ts. */
  readonly lb: LbControl;

  constructor(opts: DaemonOptions) {
    this.engine = opts.engine;
    this.store = new StateStore<DaemonState>(opts.stateDir);
    this.defaultPools = opts.defaultPools ?? DOCKER_DEFAULT_POOLS;
    this.hostNetns = opts.hostNetns ?? null;
    this.log = opts.log ?? ((m) => process.stderr.write(`tsnet-switch: ${m}\n`));
    const ctx: DriverContext = { engine: this.engine, hostNetns: this.hostNetns, log: this.log };
    this.overlay = new OverlayDriver(ctx);
    this.drivers = { bridge: new BridgeDriver(ctx), null: new NullDriver(), overlay: this.overlay, macvlan: new MacvlanDriver(ctx, 'macvlan'), ipvlan: new MacvlanDriver(ctx, 'ipvlan') };
    this.lb = new LbControl({ engine: this.engine, network: (n) => this.network(n), networks: () => this.networks.values(), persist: () => this.persist(), log: (m) => this.log(m) });
  }

  /** Reload persisted state and re-adopt devices. Endpoints whose sandbox is gone are released. */
  start(): { networks: number; endpoints: number; dropped: number; kept: number } {
    const state = this.store.load() ?? EMPTY_STATE;
    let dropped = 0;
    let endpoints = 0;
    let kept = 0;
    for (const rec of state.networks) {
      const rt: NetworkRuntime = {
        record: rec,
        ipam: rec.ipam ? NetworkIpam.fromJSON(rec.ipam) : null,
        domain: null,
        gatewayPort: null,
        endpoints: new Map(),
      };
      try {
        this.drivers[rec.driver].createNetwork(rt, true);
      } catch (err) {
        this.log(`network ${rec.name}: could not re-adopt: ${(err as Error).message}`);
      }
      if (rt.gatewayPort) rt.gatewayPort.label = `${rt.gatewayPort.name} (gateway)`;
      this.networks.set(rec.name, rt);
    }
    for (const ep of state.endpoints) {
      const rt = this.byId(ep.networkId);
      if (!rt) {
        dropped++;
        continue;
      }
      let port = null;
      try {
        resolveSandbox(ep.sandbox);
        port = this.drivers[rt.record.driver].connect(rt, ep, true);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_NO_SUCH_SANDBOX' || code === 'ERR_DEVICE_GONE') {
          // Definitely gone (the container's namespace, or its interface): release the address.
          this.log(`endpoint ${ep.id} (${describeSandbox(ep.sandbox)}): released at start: ${(err as Error).message}`);
          if (ep.ip && rt.ipam) rt.ipam.release(ep.ip);
          dropped++;
          continue;
        }
        // Anything else (the parent NIC is missing, the device is busy…) may pass: keep the endpoint
        // and its address, unattached (`Attached: false` in inspect), rather than hand the address out.
        this.log(`endpoint ${ep.id} (${describeSandbox(ep.sandbox)}): not re-adopted, kept: ${(err as Error).message}`);
        rt.endpoints.set(ep.id, { record: ep, port: null });
        kept++;
        continue;
      }
      rt.endpoints.set(ep.id, { record: ep, port });
      if (port) port.label = endpointLabel(ep);
      endpoints++;
    }
    this.lb.restore(state.lb);
    if (dropped > 0) this.persist(); // otherwise the file already says exactly this
    return { networks: this.networks.size, endpoints, dropped, kept };
  }

  /** Stop switching; devices stay (persistent) for the next start to adopt. */
  stop(): void {
    this.lb.close();
    this.engine.close();
  }

  /** The live networks, for the capture and trace services (src/control/capture-service.ts, trace-service.ts). */
  networkRuntimes(): NetworkRuntime[] {
    return [...this.networks.values()];
  }

  private byId(id: string): NetworkRuntime | undefined {
    for (const n of this.networks.values()) if (n.record.id === id) return n;
    return undefined;
  }

  private network(name: string): NetworkRuntime {
    const n = this.networks.get(name) ?? [...this.networks.values()].find((x) => x.record.id === name || (name.length >= 4 && x.record.id.startsWith(name)));
    if (!n) {
      const known = [...this.networks.keys()];
      throw new TsnError('ERR_NO_SUCH_NETWORK', 404, `network ${JSON.stringify(name)} does not exist${known.length ? `: known networks are ${known.join(', ')}` : ': there are no networks yet (tsnet-switch network create)'}`);
    }
    return n;
  }

  private persist(): void {
    const networks = [...this.networks.values()].map((n) => ({ ...n.record, ipam: n.ipam ? n.ipam.toJSON() : null }));
    const endpoints = [...this.networks.values()].flatMap((n) => [...n.endpoints.values()].map((e) => e.record));
    this.store.save({ version: 1, networks, endpoints, lb: this.lb.toState() });
  }

  private hostRoutes(): string[] {
    const nl = Rtnetlink.open(this.hostNetns ?? undefined);
    try {
      return nl
        .routeList()
        .filter((r) => r.prefixLen > 0)
        .map((r) => `${r.dst}/${r.prefixLen}`);
    } finally {
      nl.close();
    }
  }

  createNetwork(req: CreateNetworkRequest): NetworkRecord {
    const name = req.name;
    if (!NAME_RE.test(name)) throw new TsnError('ERR_BAD_NAME', 400, `network name ${JSON.stringify(name)}: expected 1-64 characters [a-zA-Z0-9_.-], starting with a letter or digit`);
    if (this.networks.has(name)) throw new TsnError('ERR_NETWORK_EXISTS', 409, `network ${name} exists already`);
    const driver = req.driver ?? 'bridge';
    if (!DRIVERS.includes(driver)) throw new TsnError('ERR_BAD_OPTION', 400, `driver ${JSON.stringify(driver)} is not available: expected one of ${DRIVERS.join(', ')}`);
    const id = randomBytes(6).toString('hex');
    const options: NetworkOptions = { mtu: req.mtu !== undefined ? parseMtu(req.mtu, '--mtu') : 1500, icc: true, internal: false, bridgeName: null };
    for (const [key, value] of Object.entries(req.options ?? {})) {
      const field = OPTION_KEYS[key];
      if (!field && driver === 'overlay' && OverlayDriver.optionKeys.includes(key)) continue; // parsed by the overlay driver below
      if (!field) throw new TsnError('ERR_BAD_OPTION', 400, `-o ${key}=${value}: unknown option; accepted: ${Object.keys(OPTION_KEYS).join(', ')}`);
      if (field === 'icc' || field === 'internal') options[field] = parseBool(key, value);
      else if (field === 'mtu') options.mtu = parseMtu(value, `-o ${key}`);
      else if (field === 'portSecurity') {
        if (value !== 'mac' && value !== 'ip') throw new TsnError('ERR_BAD_OPTION', 400, `-o ${key}=${value}: expected mac or ip`);
        options.portSecurity = value;
      }
      else if (field === 'parent' || field === 'mode' || field === 'hostShim' || field === 'hostShimName') options[field] = value; // checked by planParentNetwork
      else options.bridgeName = checkIfname(value, `-o ${key}`);
    }
    let ipam: NetworkIpam | null = null;
    let gateway: NetworkRecord['gateway'] = null;
    let overlay: NetworkRecord['overlay'];
    // macvlan / ipvlan: parent, mode, host shim, MTU and IPAM checked before anything is made (null for other drivers).
    const parentIpam = planParentNetwork(driver, req, options, {
      id,
      others: [...this.networks.values()].map((n) => ({ name: n.record.name, subnet: n.ipam?.subnet ?? null, parent: n.record.options.parent ?? null, shimName: n.record.options.hostShimName ?? null })),
      hostNetns: this.hostNetns,
    });
    if (parentIpam) {
      ipam = parentIpam;
    } else if (driver === 'bridge') {
      const others = [...this.networks.values()].filter((n) => n.ipam).map((n) => ({ name: n.record.name, subnet: n.ipam!.subnet }));
      let subnet = req.subnet;
      if (subnet !== undefined) {
        checkNoOverlap(parseCidr(subnet).text, others);
      } else {
        subnet = chooseDefaultSubnet(this.defaultPools, [...others.map((o) => o.subnet), ...this.hostRoutes()]);
      }
      ipam = new NetworkIpam({ subnet, gateway: req.gateway, ipRange: req.ipRange, auxAddresses: req.auxAddresses });
      const bridgeName = options.bridgeName ?? `tsn-${id.slice(0, 8)}`;
      options.bridgeName = bridgeName;
      if ([...this.networks.values()].some((n) => n.record.options.bridgeName === bridgeName)) {
        throw new TsnError('ERR_IFNAME_IN_USE', 409, `bridge name ${bridgeName} is used by another network: choose another -o bridge.name`);
      }
      if (!options.internal) gateway = { ifname: bridgeName, mac: macFromIpv4(ipam.gateway), ip: ipam.gateway, prefixLen: ipam.prefixLen };
    } else if (driver === 'overlay') {
      // Checked before anything is made: VNI, VTEP, peers, port, and the MTU the underlay can carry.
      if (options.bridgeName !== null) throw new TsnError('ERR_BAD_OPTION', 400, '-o bridge.name: the overlay driver makes no gateway port; drop the option');
      const explicitMtu = req.mtu !== undefined || Object.keys(req.options ?? {}).some((k) => OPTION_KEYS[k] === 'mtu') ? options.mtu : null;
      const prepared = this.overlay.prepare(req.options ?? {}, explicitMtu, [...this.networks.values()].map((n) => n.record));
      overlay = prepared.overlay;
      options.mtu = prepared.mtu;
      const others = [...this.networks.values()].filter((n) => n.ipam).map((n) => ({ name: n.record.name, subnet: n.ipam!.subnet }));
      let subnet = req.subnet;
      if (subnet !== undefined) checkNoOverlap(parseCidr(subnet).text, others);
      else subnet = chooseDefaultSubnet(this.defaultPools, [...others.map((o) => o.subnet), ...this.hostRoutes()]);
      ipam = new NetworkIpam({ subnet, gateway: req.gateway, ipRange: req.ipRange, auxAddresses: req.auxAddresses });
    } else if (req.subnet || req.gateway || req.ipRange || req.auxAddresses) {
      throw new TsnError('ERR_BAD_OPTION', 400, `the ${driver} driver takes no IPAM options (--subnet, --gateway, --ip-range, --aux-address)`);
    }
    const record: NetworkRecord = { id, name, driver, created: new Date().toISOString(), options, ipam: null, gateway, ...(overlay ? { overlay } : {}) };
    const rt: NetworkRuntime = { record, ipam, domain: null, gatewayPort: null, endpoints: new Map() };
    this.drivers[driver].createNetwork(rt, false);
    this.networks.set(name, rt);
    if (rt.gatewayPort) rt.gatewayPort.label = `${rt.gatewayPort.name} (gateway)`;
    try {
      this.persist();
    } catch (err) {
      this.drivers[driver].deleteNetwork(rt);
      this.networks.delete(name);
      throw err;
    }
    this.log(`network ${name} (${id}) created: driver ${driver}${ipam ? `, subnet ${ipam.subnet}, gateway ${ipam.gateway}` : ''}`);
    return this.recordOf(rt);
  }

  private recordOf(rt: NetworkRuntime): NetworkRecord {
    return { ...rt.record, ipam: rt.ipam ? rt.ipam.toJSON() : null };
  }

  removeNetwork(name: string, force = false): void {
    const rt = this.network(name);
    if (rt.endpoints.size && !force) {
      const eps = [...rt.endpoints.values()].map((e) => `${e.record.id} (${describeSandbox(e.record.sandbox)})`);
      throw new TsnError('ERR_NETWORK_IN_USE', 409, `network ${rt.record.name} has ${eps.length} connected endpoint(s): ${eps.join(', ')}; disconnect them or use --force`);
    }
    try {
      for (const ep of [...rt.endpoints.values()]) this.detach(rt, ep);
      this.lb.networkRemoved(rt);
      this.drivers[rt.record.driver].deleteNetwork(rt);
      this.networks.delete(rt.record.name);
    } finally {
      this.persist(); // what was detached stays detached in the file too, even if a later step failed
    }
    this.log(`network ${rt.record.name} removed`);
  }

  connect(networkName: string, req: ConnectRequest): EndpointRecord {
    const rt = this.network(networkName);
    const sandbox = sandboxFrom({ netns: req.netns, pid: req.pid });
    const sandboxPath = resolveSandbox(sandbox);
    const ifname = checkIfname(req.ifname ?? 'eth0', '--ifname');
    for (const e of rt.endpoints.values()) {
      if (e.record.sandboxPath === sandboxPath) {
        throw new TsnError('ERR_ENDPOINT_EXISTS', 409, `${describeSandbox(sandbox)} is connected to ${rt.record.name} already (endpoint ${e.record.id})`);
      }
    }
    const mac0 = req.mac !== undefined ? checkUserMac(req.mac) : null;
    if (rt.record.driver === 'null' && req.ip !== undefined) throw new TsnError('ERR_BAD_OPTION', 400, 'the null driver assigns no addresses: drop --ip');
    // A failed connect must leave IPAM exactly as it was, allocation cursor included.
    const ipamBefore = rt.ipam ? rt.ipam.toJSON() : null;
    const ip = rt.ipam ? rt.ipam.allocate(req.ip) : null;
    try {
      const chosen = this.drivers[rt.record.driver].endpointMac?.(rt, mac0, ip) ?? { mac: mac0 ?? (ip ? macFromIpv4(ip) : randomLocalMac()), shared: false };
      const mac = chosen.mac;
      for (const e of rt.endpoints.values()) {
        if (!chosen.shared && e.record.mac === mac) throw new TsnError('ERR_MAC_IN_USE', 409, `MAC ${mac} is used by endpoint ${e.record.id} on ${rt.record.name}`);
      }
      if (rt.record.gateway?.mac === mac) throw new TsnError('ERR_MAC_IN_USE', 409, `MAC ${mac} is the gateway port's`);
      const ep: EndpointRecord = {
        id: randomBytes(6).toString('hex'),
        networkId: rt.record.id,
        sandbox,
        sandboxPath,
        ifname,
        mac,
        ip,
        prefixLen: rt.ipam ? rt.ipam.prefixLen : null,
        defaultRoute: false,
        created: new Date().toISOString(),
      };
      const port = this.drivers[rt.record.driver].connect(rt, ep, false);
      const ert: EndpointRuntime = { record: ep, port };
      rt.endpoints.set(ep.id, ert);
      if (port) port.label = endpointLabel(ep);
      try {
        this.persist();
      } catch (err) {
        rt.endpoints.delete(ep.id);
        this.drivers[rt.record.driver].disconnect(rt, ert);
        throw err;
      }
      this.lb.endpointsChanged(rt);
      this.log(`endpoint ${ep.id} connected: ${describeSandbox(sandbox)} ${ifname} ${mac}${ip ? ` ${ip}/${ep.prefixLen}` : ''} on ${rt.record.name}`);
      return ep;
    } catch (err) {
      if (ipamBefore) rt.ipam = NetworkIpam.fromJSON(ipamBefore);
      throw err;
    }
  }

  /** Find an endpoint by id (or a unique id prefix of 4+), netns name, or interface name. */
  private endpoint(rt: NetworkRuntime, ref: string): EndpointRuntime {
    const eps = [...rt.endpoints.values()];
    const exact = rt.endpoints.get(ref);
    if (exact) return exact;
    const matches = eps.filter(
      (e) =>
        (ref.length >= 4 && e.record.id.startsWith(ref)) ||
        (e.record.sandbox.kind === 'netns' && e.record.sandbox.name === ref) ||
        e.record.sandboxPath === ref ||
        e.record.ifname === ref,
    );
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new TsnError('ERR_AMBIGUOUS_ENDPOINT', 409, `${JSON.stringify(ref)} matches ${matches.length} endpoints on ${rt.record.name}: ${matches.map((m) => m.record.id).join(', ')}; give the endpoint id`);
    }
    throw new TsnError('ERR_NO_SUCH_ENDPOINT', 404, `no endpoint ${JSON.stringify(ref)} on ${rt.record.name}: expected an endpoint id, a netns name or an interface name${eps.length ? ` (endpoints: ${eps.map((e) => `${e.record.id} ${describeSandbox(e.record.sandbox)}`).join(', ')})` : ''}`);
  }

  /** Take an endpoint off its network. The record and address go even if the driver's teardown fails. */
  private detach(rt: NetworkRuntime, ep: EndpointRuntime): void {
    try {
      this.drivers[rt.record.driver].disconnect(rt, ep);
    } catch (err) {
      this.log(`endpoint ${ep.record.id}: teardown incomplete: ${(err as Error).message}`);
    } finally {
      if (ep.record.ip && rt.ipam) rt.ipam.release(ep.record.ip);
      rt.endpoints.delete(ep.record.id);
    }
  }

  disconnect(networkName: string, ref: string): EndpointRecord {
    const rt = this.network(networkName);
    const ep = this.endpoint(rt, ref);
    this.detach(rt, ep);
    this.lb.endpointsChanged(rt);
    this.persist();
    this.log(`endpoint ${ep.record.id} disconnected from ${rt.record.name}`);
    return ep.record;
  }

  listNetworks() {
    return [...this.networks.values()].map((rt) => ({
      id: rt.record.id,
      name: rt.record.name,
      driver: rt.record.driver,
      subnet: rt.ipam?.subnet ?? null,
      gateway: rt.ipam?.gateway ?? null,
      endpoints: rt.endpoints.size,
      internal: rt.record.options.internal,
    }));
  }

  /** `network inspect`: Docker's shape where it has one. */
  inspectNetwork(name: string) {
    const rt = this.network(name);
    const r = rt.record;
    const endpoints: Record<string, unknown> = {};
    for (const e of rt.endpoints.values()) {
      endpoints[e.record.id] = {
        Sandbox: describeSandbox(e.record.sandbox),
        SandboxPath: e.record.sandboxPath,
        Interface: e.record.ifname,
        MacAddress: e.record.mac,
        IPv4Address: e.record.ip ? `${e.record.ip}/${e.record.prefixLen}` : '',
        DefaultRoute: e.record.defaultRoute,
        Attached: e.port !== null,
      };
    }
    return {
      Name: r.name,
      Id: r.id,
      Created: r.created,
      Driver: r.driver,
      IPAM: rt.ipam ? rt.ipam.inspect() : { Driver: 'null', Config: [] },
      Internal: r.options.internal,
      MTU: r.options.mtu,
      Options: { icc: String(r.options.icc), internal: String(r.options.internal), port_security: r.options.portSecurity ?? 'mac', ...(r.options.bridgeName ? { 'bridge.name': r.options.bridgeName } : {}) },
      GatewayPort: r.gateway ? { Interface: r.gateway.ifname, MacAddress: r.gateway.mac, IPv4Address: `${r.gateway.ip}/${r.gateway.prefixLen}` } : null,
      Endpoints: endpoints,
      ...(this.drivers[r.driver].inspect?.(rt) ?? {}),
    };
  }

  /** Who is behind a port, for fdb/stats output. */
  private portOwners(): Map<number, { network: string; endpoint: string | null; name: string }> {
    const m = new Map<number, { network: string; endpoint: string | null; name: string }>();
    for (const rt of this.networks.values()) {
      if (rt.gatewayPort) m.set(rt.gatewayPort.id, { network: rt.record.name, endpoint: null, name: `${rt.gatewayPort.name} (gateway)` });
      for (const e of rt.endpoints.values()) {
        if (e.port) m.set(e.port.id, { network: rt.record.name, endpoint: e.record.id, name: `${describeSandbox(e.record.sandbox)}:${e.record.ifname}` });
      }
    }
    return m;
  }

  fdbShow(networkName?: string) {
    const nets = networkName ? [this.network(networkName)] : [...this.networks.values()];
    const owners = this.portOwners();
    const now = this.engine.clock.now();
    return nets.flatMap((rt) =>
      (rt.domain?.fdb.list() ?? []).map((e) => ({
        network: rt.record.name,
        mac: formatMac(e.mac),
        port: owners.get(e.port.id)?.name ?? e.port.name,
        endpoint: owners.get(e.port.id)?.endpoint ?? null,
        type: e.isStatic ? 'static' : 'learned',
        ageSeconds: e.isStatic ? null : Math.max(0, Math.round(now - e.updated)),
        vtep: this.overlay.remoteOf(e.remote),
      })),
    );
  }

  stats() {
    const owners = this.portOwners();
    const ports = [];
    for (const rt of this.networks.values()) {
      const list = [...(rt.domain?.ports ?? [])];
      for (const p of list) {
        const o = owners.get(p.id);
        ports.push({ network: rt.record.name, port: o?.name ?? p.name, endpoint: o?.endpoint ?? null, ...p.counters.toJSON() });
      }
    }
    const networks = [...this.networks.values()].map((rt) => {
      const sum = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, drops: {} as Record<string, number> };
      for (const p of rt.domain?.ports ?? []) {
        const c = p.counters;
        sum.rxPackets += c.rxPackets;
        sum.rxBytes += c.rxBytes;
        sum.txPackets += c.txPackets;
        sum.txBytes += c.txBytes;
        for (const [k, v] of Object.entries(c.dropsByReason())) sum.drops[k] = (sum.drops[k] ?? 0) + v;
      }
      return { network: rt.record.name, ...sum, fdb: rt.domain?.fdb.counters() ?? null };
    });
    // Running captures: frames they wrote and dropped (capture-dropped: the writer was behind).
    const captures = CaptureHub.for(this.engine).list().map((c) => c.summary());
    return { ports, networks, vteps: this.overlay.vtepStats(), engine: { bursts: this.engine.bursts, internalErrors: this.engine.internalErrors }, captures };
  }

  /** `fdb add NETWORK MAC --vtep IP [--ip ADDR]`: a static entry for a MAC behind a remote VTEP (overlay). */
  fdbAdd(networkName: string, req: { mac: string; vtep: string; ip?: string }) {
    const rt = this.network(networkName);
    const entry = this.overlay.fdbAdd(rt, req.mac, req.vtep, req.ip ?? null);
    this.persist();
    this.log(`fdb add ${rt.record.name} ${entry.mac} vtep ${entry.vtep}${entry.ip ? ` ip ${entry.ip}` : ''}`);
    return { network: rt.record.name, ...entry };
  }

  /** `fdb del NETWORK MAC`: a static remote entry, or a learned remote one (overlay). */
  fdbDel(networkName: string, mac: string) {
    const rt = this.network(networkName);
    const r = this.overlay.fdbDel(rt, mac);
    this.persist();
    this.log(`fdb del ${rt.record.name} ${r.mac} (${r.type})`);
    return { network: rt.record.name, ...r };
  }
}
