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
import type { SwitchEngine } from '../dataplane/switch-engine.js';
import { createDrivers } from './drivers/driver-registry.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkPlanContext, NetworkRuntime } from './drivers/network-driver.js';
import type { OverlayDriver } from './drivers/overlay-driver.js';
import { TsnError } from '../errors.js';
import { chooseDefaultSubnet, DOCKER_DEFAULT_POOLS, NetworkIpam, planPoolIpam, type AddressPool } from './ipam.js';
import { checkUserMac, macFromIpv4, randomLocalMac } from './mac-address.js';
import { DRIVERS, EMPTY_STATE, type DaemonState, type DriverName, type EndpointRecord, type NetworkRecord, type SandboxRef } from './model.js';
import { checkIfname, parseNetworkOptions, type CreateNetworkRequest } from './network-options.js';
import { fdbRows } from './render/fdb-view.js';
import { inspectNetwork, networkRow } from './render/network-views.js';
import { endpointLabel, portOwners } from './render/port-owners.js';
import { statsReport } from './render/stats-view.js';
import { Rtnetlink } from './rtnetlink.js';
import { HostNat } from './nat/host-nat.js';
import { natRuleset } from './nat/nft-ruleset.js';
import { natReconcileSource } from './nat/nat-reconcile.js';
import { checkPublishFree, formatPublish, parsePublish } from './nat/published-ports.js';
import { deleteHostSide, HOST_SIDE, leftWhileDown } from './runtime-moved-tap.js';
import { markerOwner } from './device-marker.js';
import { checkHostSubnetFree } from './host-subnet-clash.js';
import { knownStateOf, Reconciler, type ReconcileAction } from './reconcile.js';
import { deviceReconcileSource } from './reconcile-devices.js';
import { describeSandbox, resolveSandbox, sandboxFrom } from './sandbox.js';
import { StateStore } from './state-store.js';
import { LbControl } from './lb-control.js';
import { planIpv6 } from './dual-stack.js';
import { isIpv6Text, NetworkIpam6, parseIpv6Address, type Ipam6State } from './ipam6.js';

// Moved to network-options.ts; re-exported for code written against the daemon.
export { checkIfname, type CreateNetworkRequest };

export interface ConnectRequest {
  netns?: string;
  pid?: number;
  ip?: string;
  /** A static IPv6 address on a dual-stack network (--ip6). */
  ip6?: string;
  mac?: string;
  ifname?: string;
  /** A runtime's container id (CNI, netavark): with ifname, how the runtime names the attachment (runtime-attachments.ts). */
  containerId?: string;
  /** Published ports, HOSTPORT:PORT[/tcp|udp] (src/control/nat/). */
  publish?: string[];
  /** Runtime front doors (src/docker/): make the TAP in the host namespace under this name, for the runtime to move into its sandbox. */
  hostSideName?: string;
  /** `ip` was reserved in the network's IPAM already (Docker's IpamDriver.RequestAddress). */
  addressReserved?: boolean;
  label?: string;
  docker?: EndpointRecord['docker'];
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

/** Give an endpoint's addresses back to its network's pools. */
function releaseAddresses(rt: NetworkRuntime, ep: EndpointRecord): void {
  if (ep.ip && rt.ipam) rt.ipam.release(ep.ip);
  if (ep.ip6 && rt.ipam6) rt.ipam6.release(ep.ip6);
}

// endpointLabel moved to render/port-owners.ts; re-exported for code written against the daemon.
export { endpointLabel };

export class Daemon {
  readonly engine: SwitchEngine;
  private readonly store: StateStore<DaemonState>;
  private readonly networks = new Map<string, NetworkRuntime>(); // by name
  private readonly drivers: Record<DriverName, NetworkDriver>;
  /** The overlay driver, for the requests only it has (fdb add/del, its keys and secrets) and the cluster store's. */
  readonly overlay: OverlayDriver;
  private readonly defaultPools: readonly AddressPool[];
  /** The namespace the daemon treats as the host (a netns path; null: its own). */
  readonly hostNetns: string | null;
  readonly log: (msg: string) => void;
  /** Virtual services (`lb ...`): src/control/lb-control.ts. */
  readonly lb: LbControl;
  /** Masquerade and published ports in the host namespace (src/control/nat/). */
  private readonly nat: HostNat;
  /** What reconcile-at-start looks for (reconcile.ts); owners of other persistent things register here. */
  readonly reconciler = new Reconciler();
  /** The live page (daemon --ui-listen, src/ui/): its address and its actions' token, for `tsnet-switch ui` (root-only API); null: none. */
  ui: { url: string; token: string } | null = null;
  private readonly owner: string;

  constructor(opts: DaemonOptions) {
    this.engine = opts.engine;
    this.store = new StateStore<DaemonState>(opts.stateDir);
    this.defaultPools = opts.defaultPools ?? DOCKER_DEFAULT_POOLS;
    this.hostNetns = opts.hostNetns ?? null;
    this.log = opts.log ?? ((m) => process.stderr.write(`tsnet-switch: ${m}\n`));
    this.owner = markerOwner(opts.stateDir);
    this.reconciler.register(deviceReconcileSource);
    const ctx: DriverContext = { engine: this.engine, hostNetns: this.hostNetns, log: this.log, owner: this.owner, stateDir: opts.stateDir };
    const drivers = createDrivers(ctx);
    this.drivers = drivers.byName;
    this.overlay = drivers.overlay;
    this.nat = new HostNat(this.hostNetns, this.owner, this.log);
    this.reconciler.register(natReconcileSource(this.nat));
    this.lb = new LbControl({ engine: this.engine, network: (n) => this.network(n), networks: () => this.networks.values(), persist: () => this.persist(), log: (m) => this.log(m) });
  }

  /** Reload persisted state and re-adopt devices. Endpoints whose sandbox is gone are released. */
  start(): { networks: number; endpoints: number; dropped: number; kept: number } {
    const state = this.store.load() ?? EMPTY_STATE;
    const hadNat = natRuleset(state).rules > 0;
    let dropped = 0;
    let endpoints = 0;
    let kept = 0;
    for (const rec of state.networks) {
      const rt: NetworkRuntime = {
        record: rec,
        ipam: rec.ipam ? NetworkIpam.fromJSON(rec.ipam) : null,
        ipam6: rec.ipam6 ? NetworkIpam6.fromJSON(rec.ipam6 as Ipam6State) : null,
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
      if (leftWhileDown(ep, this.hostNetns)) {
        this.log(`endpoint ${ep.id} (${describeSandbox(ep.sandbox)}): released at start: Docker moved its interface ${ep.hostSide!.srcName} out of the container (it left) while the daemon was down, and its DeleteEndpoint was lost`);
        try {
          deleteHostSide(ep, this.hostNetns);
        } catch (err) {
          this.log(`endpoint ${ep.id}: could not delete ${ep.hostSide!.srcName}: ${(err as Error).message} (reconcile removes it)`);
        }
        releaseAddresses(rt, ep);
        dropped++;
        continue;
      }
      let port = null;
      try {
        if (!ep.hostSide || ep.hostSide.moved) resolveSandbox(ep.sandbox);
        port = this.drivers[rt.record.driver].connect(rt, ep, true);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ERR_NO_SUCH_SANDBOX' || code === 'ERR_DEVICE_GONE') {
          // Definitely gone (the container's namespace, or its interface): release the address.
          this.log(`endpoint ${ep.id} (${describeSandbox(ep.sandbox)}): released at start: ${(err as Error).message}`);
          releaseAddresses(rt, ep);
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
    this.nat.sync(this.snapshot(), hadNat); // reconcile what a crashed daemon left with what the state says
    this.reconcile();
    return { networks: this.networks.size, endpoints, dropped, kept };
  }

  /** Another running daemon's state dir whose NAT table here kept ours from being installed (host-nat.ts), or null. */
  get natConflict(): string | null {
    return this.nat.conflict;
  }

  /** Remove what a daemon made that no state knows (reconcile.ts); dryRun only reports (doctor). */
  reconcile(dryRun = false): ReconcileAction[] {
    return this.reconciler.run(knownStateOf(this.owner, this.hostNetns, this.networks.values()), { dryRun, log: this.log });
  }

  /** Stop switching; devices stay (persistent) for the next start to adopt. */
  stop(): void {
    this.nat.remove();
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
      throw new TsnError('ERR_NO_SUCH_NETWORK', `network ${JSON.stringify(name)} does not exist${known.length ? `: known networks are ${known.join(', ')}` : ': there are no networks yet (tsnet-switch network create)'}`);
    }
    return n;
  }

  private snapshot(): DaemonState {
    const networks = [...this.networks.values()].map((n) => this.recordOf(n));
    const endpoints = [...this.networks.values()].flatMap((n) => [...n.endpoints.values()].map((e) => e.record));
    return { version: 1, networks, endpoints, lb: this.lb.toState() };
  }

  private persist(): void {
    const state = this.snapshot();
    this.store.save(state);
    this.nat.sync(state);
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
    if (!NAME_RE.test(name)) throw new TsnError('ERR_BAD_NAME', `network name ${JSON.stringify(name)}: expected 1-64 characters [a-zA-Z0-9_.-], starting with a letter or digit`);
    if (this.networks.has(name)) throw new TsnError('ERR_NETWORK_EXISTS', `network ${name} exists already`);
    const driver = req.driver ?? 'bridge';
    if (!DRIVERS.includes(driver)) throw new TsnError('ERR_BAD_OPTION', `driver ${JSON.stringify(driver)} is not available: expected one of ${DRIVERS.join(', ')}`);
    const id = req.id ?? randomBytes(6).toString('hex');
    // Checked before anything is made: the common options, then the driver's own, its IPAM and gateway.
    const parsed = parseNetworkOptions(req, driver, Object.values(this.drivers));
    const others = [...this.networks.values()];
    const planCtx: NetworkPlanContext = {
      id,
      others,
      hostNetns: this.hostNetns,
      poolIpam: (r) => planPoolIpam(r, others.filter((n) => n.ipam).map((n) => ({ name: n.record.name, subnet: n.ipam!.subnet })), this.defaultPools, () => this.hostRoutes()),
    };
    const dual = planIpv6(req, this.drivers[driver], others.map((n) => ({ name: n.record.name, subnet6: n.ipam6?.subnet ?? null })), parsed.options.parent !== undefined);
    const ipam6 = dual.ipam6;
    const { ipam, gateway, overlay, hostRoutedSubnet } = this.drivers[driver].plan(dual.req, parsed, planCtx);
    if (gateway && ipam6) {
      gateway.ip6 = ipam6.gateway;
      gateway.prefixLen6 = ipam6.prefixLen;
    }
    const options = parsed.options;
    // The gateway port would share its subnet with that host device (NetworkPlan.hostRoutedSubnet).
    if (hostRoutedSubnet && ipam && !req.force) checkHostSubnetFree(ipam.subnet, this.hostNetns);
    const record: NetworkRecord = { id, name, driver, created: new Date().toISOString(), options, ipam: null, gateway, ...(overlay ? { overlay } : {}), ...(req.docker ? { docker: req.docker } : {}) };
    const rt: NetworkRuntime = { record, ipam, ipam6, domain: null, gatewayPort: null, endpoints: new Map() };
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
    this.log(`network ${name} (${id}) created: driver ${driver}${ipam ? `, subnet ${ipam.subnet}, gateway ${ipam.gateway}` : ''}${ipam6 ? `, IPv6 subnet ${ipam6.subnet}, gateway ${ipam6.gateway}` : ''}`);
    return this.recordOf(rt);
  }

  private recordOf(rt: NetworkRuntime): NetworkRecord {
    return { ...rt.record, ipam: rt.ipam ? rt.ipam.toJSON() : null, ...(rt.ipam6 ? { ipam6: rt.ipam6.toJSON() } : {}) };
  }

  removeNetwork(name: string, force = false): void {
    const rt = this.network(name);
    if (rt.endpoints.size && !force) {
      const eps = [...rt.endpoints.values()].map((e) => `${e.record.id} (${describeSandbox(e.record.sandbox)})`);
      throw new TsnError('ERR_NETWORK_IN_USE', `network ${rt.record.name} has ${eps.length} connected endpoint(s): ${eps.join(', ')}; disconnect them or use --force`);
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
    const hostSide = req.hostSideName !== undefined; // the runtime moves it into the sandbox (src/control/runtime-moved-tap.ts)
    const sandbox: SandboxRef = hostSide ? { kind: 'path', path: HOST_SIDE } : sandboxFrom({ netns: req.netns, pid: req.pid });
    const sandboxPath = hostSide ? HOST_SIDE : resolveSandbox(sandbox);
    const ifname = checkIfname(req.hostSideName ?? req.ifname ?? 'eth0', '--ifname');
    const publish = (req.publish ?? []).map(parsePublish);
    if (publish.length) checkPublishFree(publish, this.publishedPorts());
    for (const e of rt.endpoints.values()) {
      if (!hostSide && e.record.sandboxPath === sandboxPath) {
        throw new TsnError('ERR_ENDPOINT_EXISTS', `${describeSandbox(sandbox)} is connected to ${rt.record.name} already (endpoint ${e.record.id})`);
      }
    }
    const mac0 = req.mac !== undefined ? checkUserMac(req.mac) : null;
    if (!rt.ipam && req.ip !== undefined) throw new TsnError('ERR_BAD_OPTION', `the ${rt.record.driver} driver assigns no addresses: drop --ip`);
    // A failed connect must leave IPAM exactly as it was, allocation cursor included.
    const ipamBefore = rt.ipam ? rt.ipam.toJSON() : null;
    if (!rt.ipam6 && req.ip6 !== undefined) throw new TsnError('ERR_BAD_OPTION', `--ip6 ${req.ip6}: network ${rt.record.name} has no IPv6 subnet (it was made without --ipv6)`);
    const ipam6Before = rt.ipam6 ? rt.ipam6.toJSON() : null;
    const ip = rt.ipam ? (req.addressReserved && req.ip && rt.ipam.isAllocated(req.ip) ? req.ip : rt.ipam.allocate(req.ip)) : null;
    try {
      const ip6 = rt.ipam6 ? (req.addressReserved && req.ip6 && rt.ipam6.isAllocated(req.ip6) ? req.ip6 : rt.ipam6.allocate(req.ip6)) : null;
      const chosen = this.drivers[rt.record.driver].endpointMac?.(rt, mac0, ip) ?? { mac: mac0 ?? (ip ? macFromIpv4(ip) : randomLocalMac()), shared: false };
      const mac = chosen.mac;
      for (const e of rt.endpoints.values()) {
        if (!chosen.shared && e.record.mac === mac) throw new TsnError('ERR_MAC_IN_USE', `MAC ${mac} is used by endpoint ${e.record.id} on ${rt.record.name}`);
      }
      if (rt.record.gateway?.mac === mac) throw new TsnError('ERR_MAC_IN_USE', `MAC ${mac} is the gateway port's`);
      const ep: EndpointRecord = {
        id: randomBytes(6).toString('hex'),
        networkId: rt.record.id,
        sandbox,
        sandboxPath,
        ifname,
        mac,
        ip,
        prefixLen: rt.ipam ? rt.ipam.prefixLen : null,
        ...(ip6 !== null ? { ip6, prefixLen6: rt.ipam6!.prefixLen } : {}),
        defaultRoute: false,
        created: new Date().toISOString(),
        ...(req.containerId !== undefined ? { containerId: req.containerId } : {}),
        ...(hostSide ? { hostSide: { srcName: ifname, sandboxKey: null, moved: false } } : {}),
        ...(req.label ? { label: req.label } : {}),
        ...(req.docker ? { docker: req.docker } : {}),
        ...(publish.length ? { publish } : {}),
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
      this.log(`endpoint ${ep.id} connected: ${describeSandbox(sandbox)} ${ifname} ${mac}${ip ? ` ${ip}/${ep.prefixLen}` : ''}${ip6 ? ` ${ip6}/${ep.prefixLen6}` : ''} on ${rt.record.name}`);
      return ep;
    } catch (err) {
      if (ipamBefore) rt.ipam = NetworkIpam.fromJSON(ipamBefore);
      if (ipam6Before) rt.ipam6 = NetworkIpam6.fromJSON(ipam6Before);
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
      throw new TsnError('ERR_AMBIGUOUS_ENDPOINT', `${JSON.stringify(ref)} matches ${matches.length} endpoints on ${rt.record.name}: ${matches.map((m) => m.record.id).join(', ')}; give the endpoint id`);
    }
    throw new TsnError('ERR_NO_SUCH_ENDPOINT', `no endpoint ${JSON.stringify(ref)} on ${rt.record.name}: expected an endpoint id, a netns name or an interface name${eps.length ? ` (endpoints: ${eps.map((e) => `${e.record.id} ${describeSandbox(e.record.sandbox)}`).join(', ')})` : ''}`);
  }

  /** Take an endpoint off its network. The record and address go even if the driver's teardown fails. */
  private detach(rt: NetworkRuntime, ep: EndpointRuntime): void {
    try {
      this.drivers[rt.record.driver].disconnect(rt, ep);
    } catch (err) {
      this.log(`endpoint ${ep.record.id}: teardown incomplete: ${(err as Error).message}`);
    } finally {
      releaseAddresses(rt, ep.record);
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
    return [...this.networks.values()].map(networkRow);
  }

  /** `network inspect`: src/control/render/network-views.ts. */
  inspectNetwork(name: string) {
    const rt = this.network(name);
    return inspectNetwork(rt, this.drivers[rt.record.driver]);
  }

  /** `fdb show`: src/control/render/fdb-view.ts. */
  fdbShow(networkName?: string) {
    const nets = networkName ? [this.network(networkName)] : [...this.networks.values()];
    return fdbRows(nets, portOwners(this.networks.values()), this.engine.clock.now());
  }

  /** `stats`: src/control/render/stats-view.ts. */
  stats() {
    const sections = Object.assign({}, ...Object.values(this.drivers).map((d) => d.stats?.() ?? {})) as Record<string, unknown>;
    return statsReport(this.engine, [...this.networks.values()], portOwners(this.networks.values()), sections);
  }

  /** `fdb add NETWORK MAC --vtep IP [--ip ADDR]`: a static entry for a MAC behind a remote VTEP (overlay). */
  fdbAdd(networkName: string, req: { mac: string; vtep: string; ip?: string; ip6?: string }) {
    const rt = this.network(networkName);
    const entry = this.overlay.fdbAdd(rt, req.mac, req.vtep, req.ip ?? null, req.ip6 ?? null);
    this.persist();
    this.log(`fdb add ${rt.record.name} ${entry.mac} vtep ${entry.vtep}${entry.ip ? ` ip ${entry.ip}` : ''}${entry.ip6 ? ` ip6 ${entry.ip6}` : ''}`);
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

  // For the runtime front doors (src/docker/) and the sandbox-gone watcher (src/control/sandbox-watcher.ts).

  /** Every endpoint's published ports, for conflict checks. */
  private publishedPorts(): { owner: string; publish: NonNullable<EndpointRecord['publish']> }[] {
    return [...this.networks.values()].flatMap((n) =>
      [...n.endpoints.values()].filter((e) => e.record.publish?.length).map((e) => ({ owner: `endpoint ${e.record.id} (${endpointLabel(e.record)}) on ${n.record.name}`, publish: e.record.publish! })),
    );
  }

  /** The first network whose record matches, with its IPAM state (IPv6 too, on a dual-stack network). */
  findNetwork(match: (r: NetworkRecord, ipam: NetworkIpam | null, ipam6: NetworkIpam6 | null) => boolean): NetworkRecord | null {
    for (const rt of this.networks.values()) if (match(rt.record, rt.ipam, rt.ipam6 ?? null)) return this.recordOf(rt);
    return null;
  }

  /**
   * Tie a network to the Docker network that is it on this host (or untie it: null), for a network
   * Docker did not create here: a cluster network another host made (src/cluster/cluster-requests.ts).
   */
  setDockerNetwork(name: string, docker: NetworkRecord['docker'] | null): NetworkRecord {
    const rt = this.network(name);
    if (docker) rt.record.docker = docker;
    else delete rt.record.docker;
    this.persist();
    return this.recordOf(rt);
  }

  /**
   * `network uplink add|rm`: a host interface becomes (or stops being) a port of a bridge network. The
   * change is persisted, or undone when it cannot be.
   */
  addUplink(name: string, iface: string): NetworkRecord {
    const rt = this.network(name);
    const driver = this.drivers[rt.record.driver];
    if (!driver.addUplink || !driver.removeUplink) throw new TsnError('ERR_BAD_OPTION', `network ${rt.record.name} is a ${rt.record.driver} network: only bridge networks take uplinks (a macvlan/ipvlan network's parent is fixed when it is made)`);
    const before = { ...rt.record.options };
    driver.addUplink(rt, iface, [...this.networks.values()]);
    try {
      this.persist();
    } catch (err) {
      driver.removeUplink(rt, iface);
      rt.record.options = before;
      throw err;
    }
    this.log(`network ${rt.record.name}: uplink ${iface} added`);
    return this.recordOf(rt);
  }

  removeUplink(name: string, iface: string): NetworkRecord {
    const rt = this.network(name);
    const driver = this.drivers[rt.record.driver];
    if (!driver.removeUplink) throw new TsnError('ERR_BAD_OPTION', `network ${rt.record.name} is a ${rt.record.driver} network: it has no uplinks (only bridge networks do)`);
    driver.removeUplink(rt, iface);
    this.persist(); // the interface is no longer a port: the file says so too
    this.log(`network ${rt.record.name}: uplink ${iface} removed`);
    return this.recordOf(rt);
  }

  /** Every endpoint with its network, for the watcher. */
  endpointRuntimes(): { network: NetworkRuntime; endpoint: EndpointRuntime }[] {
    return [...this.networks.values()].flatMap((n) => [...n.endpoints.values()].map((e) => ({ network: n, endpoint: e })));
  }

  /**
   * Change an endpoint's record (a front door learned its sandbox, its name or its ports; the watcher
   * saw the runtime move its TAP), then persist. `publish`, when given, replaces the published ports.
   */
  updateEndpoint(networkName: string, ref: string, change: { publish?: string[] | EndpointRecord['publish']; update?: (rec: EndpointRecord) => void }): EndpointRecord {
    const rt = this.network(networkName);
    const ep = this.endpoint(rt, ref);
    if (change.publish !== undefined) {
      const wanted = change.publish.map((p) => (typeof p === 'string' ? parsePublish(p) : p));
      checkPublishFree(wanted, this.publishedPorts().filter((t) => !t.owner.startsWith(`endpoint ${ep.record.id} `)));
      ep.record.publish = wanted.length ? wanted : undefined;
    }
    change.update?.(ep.record);
    if (ep.port) ep.port.label = endpointLabel(ep.record);
    this.persist();
    return ep.record;
  }

  /** An endpoint whose sandbox or device went away: released as a disconnect is (address, port, record). */
  releaseGone(networkId: string, endpointId: string, why: string): void {
    const rt = this.byId(networkId);
    const ep = rt?.endpoints.get(endpointId);
    if (!rt || !ep) return;
    this.detach(rt, ep);
    this.lb.endpointsChanged(rt);
    this.persist();
    this.log(`endpoint ${endpointId} (${endpointLabel(ep.record)}) released from ${rt.record.name}: ${why}`);
  }

  /**
   * Reserve an address on a network's IPAM (a front door's IPAM driver): `ip`, or the next free one;
   * family 6 on the network's IPv6 IPAM (a dual-stack network's).
   */
  reserveAddress(networkName: string, ip?: string, family: 4 | 6 = 4): { ip: string; prefixLen: number } {
    const rt = this.network(networkName);
    if (family === 6 && !rt.ipam6) throw new TsnError('ERR_BAD_OPTION', `${ip !== undefined ? `--ip6 ${ip}: ` : ''}network ${rt.record.name} has no IPv6 subnet (it was made without --ipv6)`);
    if (family === 4 && !rt.ipam) throw new TsnError('ERR_BAD_OPTION', `network ${rt.record.name} has no IPAM (driver ${rt.record.driver})`);
    const ipam = family === 6 ? rt.ipam6! : rt.ipam!;
    const got = ipam.allocate(ip);
    try {
      this.persist();
    } catch (err) {
      ipam.release(got); // not reserved if the file does not say so
      throw err;
    }
    return { ip: got, prefixLen: ipam.prefixLen };
  }

  /** Give an address (IPv4 or IPv6) back, unless an endpoint holds it or it is reserved (gateway, aux). */
  releaseAddress(networkName: string, ip: string): boolean {
    const rt = this.network(networkName);
    if (isIpv6Text(ip)) {
      const ipam6 = rt.ipam6;
      if (!ipam6 || !ipam6.contains(ip) || ipam6.reservedReason(ip) !== null || !ipam6.isAllocated(ip)) return false;
      // Compared as numbers: Docker writes an address its own way (fd00:1:0::5), we canonically.
      const want = parseIpv6Address(ip);
      for (const e of rt.endpoints.values()) if (e.record.ip6 && parseIpv6Address(e.record.ip6) === want) return false;
      ipam6.release(ip);
      this.persist();
      return true;
    }
    if (!rt.ipam || !rt.ipam.contains(ip) || rt.ipam.reservedReason(ip) !== null) return false;
    for (const e of rt.endpoints.values()) if (e.record.ip === ip) return false;
    const released = rt.ipam.release(ip);
    if (released) this.persist();
    return released;
  }

  /** A free subnet from the default pools, avoiding every network's, the host's routes and `alsoTaken`. */
  chooseSubnet(alsoTaken: readonly string[]): string {
    const taken = [...this.networks.values()].filter((n) => n.ipam).map((n) => n.ipam!.subnet);
    return chooseDefaultSubnet(this.defaultPools, [...taken, ...alsoTaken, ...this.hostRoutes()]);
  }
}
