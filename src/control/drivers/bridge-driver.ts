/**
 * The bridge driver: one L2 domain per network in the switch, a host-side gateway TAP holding the
 * gateway address (unless internal), and one TAP per endpoint made directly inside the container's
 * namespace. Devices are persistent (TUNSETPERSIST) so they outlive a daemon restart, and a restarted
 * daemon re-attaches to them by name.
 *
 * Endpoint plumbing, all through rtnetlink inside the sandbox: create the TAP there, set its MAC,
 * MTU and up, add the address, add the default route via the gateway (unless internal, or the
 * sandbox already has a default route from another network). Any failure undoes what was done.
 */
import { parseMac } from '../../packet/mac.js';
import { parseIpv4 } from '../cidr.js';
import { parseIpv6 } from '../../packet/ipv6.js';
import { TapPort } from '../../dataplane/ports/tap-port.js';
import { deviceAlias } from '../device-marker.js';
import { TsnError } from '../../errors.js';
import { macFromIpv4 } from '../mac-address.js';
import type { EndpointRecord } from '../model.js';
import type { CreateNetworkRequest, ParsedNetworkOptions } from '../network-options.js';
import { Rtnetlink } from '../rtnetlink.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkPlan, NetworkPlanContext, NetworkRuntime } from './network-driver.js';
import { placement } from '../runtime-moved-tap.js';
import type { PacketPort } from '../../dataplane/ports/packet-port.js';
import { checkIfname } from '../network-options.js';
import { hostInterfacesOf, parentLink } from '../parent-network-options.js';
import { LOOP_HOLD_S, LoopGuard } from '../../dataplane/loop-guard.js';
import { openParentUplink, ParentWatch } from './parent-uplink.js';

/** IFLA_INET6_ADDR_GEN_MODE none: the interface gets no link-local address (ipvlan children). */
export const ADDR_GEN_MODE_NONE = 1;

export function ipv6Bytes(text: string): Uint8Array {
  const b = new Uint8Array(16);
  parseIpv6(text, b, 0);
  return b;
}

function errCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/**
 * How plumbTap treats an existing device: `create` refuses one (a new endpoint); `adopt` requires one
 * and only attaches (a restarted daemon re-adopting an endpoint: a device that is gone is never
 * recreated, since the sandbox may now be someone else's); `adopt-or-create` attaches or makes it
 * again (the host-side gateway port, which lives in the daemon's own namespace).
 */
export type PlumbMode = 'create' | 'adopt' | 'adopt-or-create';

/**
 * Open a TAP in `netns` and configure it (MAC, MTU, up, address, default route), or attach to the
 * existing one. A TAP this call creates is NOT persistent yet: until the caller has finished (port
 * added to the engine, memberships made) any failure is undone by closing the port, which deletes
 * the device with its address and routes. Call `commitPersistent` as the last step. An adopted
 * device is persistent already and closing it leaves it in place. (The macvlan driver uses it too.)
 */
export function plumbTap(opts: {
  netns: string | null;
  ifname: string;
  mac: string;
  mtu: number;
  ip: string | null;
  prefixLen: number | null;
  ownMac: boolean;
  /** IP port security: the only IPv4 source the container may use. */
  ownIp?: string;
  /** Dual stack: the IPv6 address (with prefixLen6), the IPv6 default route, and port security's own IPv6. */
  ip6?: string | null;
  prefixLen6?: number | null;
  defaultRouteVia6?: string | null;
  ownIp6?: string;
  /** IPv6 link-local generation for a new device (IFLA_INET6_ADDR_GEN_MODE), set before it comes up. */
  addrGenMode?: number;
  mode: PlumbMode;
  defaultRouteVia: string | null;
  /** The device's marker (device-marker.ts), set on a new device and on an adopted one that lacks it. */
  alias?: string;
}): { port: TapPort; defaultRoute: boolean; created: boolean } {
  const nl = Rtnetlink.open(opts.netns ?? undefined);
  let port: TapPort | null = null;
  try {
    const existed = nl.linkIndex(opts.ifname) !== 0;
    const where = opts.netns ?? 'the host namespace';
    if (existed && opts.mode === 'create') {
      throw new TsnError('ERR_IFNAME_IN_USE', `interface ${opts.ifname} exists already in ${where}: choose another name (--ifname / -o bridge.name)`);
    }
    if (!existed && opts.mode === 'adopt') {
      throw new TsnError('ERR_DEVICE_GONE', `interface ${opts.ifname} is no longer in ${where}`);
    }
    port = TapPort.open(opts.ifname, {
      netns: opts.netns ?? undefined,
      persist: existed, // an adopted device stays persistent; a new one becomes so only on commit
      ownMac: opts.ownMac ? parseMac(opts.mac) : undefined,
      ownIp: opts.ownIp !== undefined ? parseIpv4(opts.ownIp) : undefined,
      ownIp6: opts.ownIp6 !== undefined ? ipv6Bytes(opts.ownIp6) : undefined,
    });
    let defaultRoute = false;
    // Marked before the device can become persistent: reconcile never meets one of ours unmarked.
    if (opts.alias !== undefined) nl.linkSetAlias(nl.linkIndex(opts.ifname), opts.alias);
    if (!existed) {
      const idx = nl.linkIndex(opts.ifname);
      if (opts.addrGenMode !== undefined) nl.linkSet(idx, { addrGenMode: opts.addrGenMode }); // while down: no link-local is made
      nl.linkSet(idx, { mac: opts.mac, mtu: opts.mtu, up: true });
      if (opts.ip !== null && opts.prefixLen !== null) nl.addrAdd(idx, opts.ip, opts.prefixLen);
      if (opts.ip6 && opts.prefixLen6) nl.addrAdd(idx, opts.ip6, opts.prefixLen6); // no DAD: IPAM hands it out once
      if (opts.defaultRouteVia) {
        try {
          nl.routeAdd({ dst: '0.0.0.0', prefixLen: 0, gateway: opts.defaultRouteVia, ifindex: idx });
          defaultRoute = true;
        } catch (err) {
          if (errCode(err) !== 'EEXIST') throw err; // the sandbox has a default route from another network: keep it
        }
      }
      if (opts.defaultRouteVia6) {
        try {
          nl.routeAdd({ dst: '::', prefixLen: 0, gateway: opts.defaultRouteVia6, ifindex: idx });
        } catch (err) {
          if (errCode(err) !== 'EEXIST') throw err; // as for IPv4: another network's default route stays
        }
      }
    }
    return { port, defaultRoute, created: !existed };
  } catch (err) {
    port?.close(); // a device this call created was never persistent: closing deletes it
    throw err;
  } finally {
    nl.close();
  }
}

/** The last step of a successful connect: the device now outlives the daemon, for the next start to adopt. */
export function commitPersistent(port: TapPort): void {
  port.setPersist(true);
}

/** Undo a port that may or may not have been added to the engine yet. */
function discard(engine: DriverContext['engine'], port: TapPort): void {
  if (port.id >= 0) engine.removePort(port);
  else port.close();
}

/**
 * Check a host interface can become an uplink of a bridge network with MTU `mtu`: a valid name, held by
 * no other network (one network per host interface), existing in the host namespace, carrying the MTU.
 */
function checkUplink(iface: string, mtu: number, others: readonly NetworkRuntime[], hostNetns: string | null): string {
  const name = checkIfname(iface, '-o parent');
  const user = others.find((n) => hostInterfacesOf(n.record.options).includes(name));
  if (user) throw new TsnError('ERR_PARENT_IN_USE', `interface ${name} is the uplink or parent of network ${user.record.name} already: one network per host interface`);
  // A device of ours (a gateway port, a host shim) as an uplink would join two networks at L2.
  const owner = others.find((n) => n.record.gateway?.ifname === name || n.record.options.hostShimName === name);
  if (owner) throw new TsnError('ERR_PARENT_IN_USE', `interface ${name} is network ${owner.record.name}'s own ${owner.record.gateway?.ifname === name ? 'gateway port' : 'host shim'}: an uplink is a host interface to a LAN, not a port of another network`);
  const link = parentLink(name, hostNetns); // ERR_NO_SUCH_PARENT naming it
  if (mtu > link.mtu) throw new TsnError('ERR_BAD_OPTION', `MTU ${mtu} is more than uplink ${name}'s ${link.mtu}: give --mtu ${link.mtu} or less`);
  return name;
}

/** One uplink of a bridge network (a NIC on the bridge), with its watchdog. */
interface BridgeUplink {
  iface: string;
  port: PacketPort;
  watch: ParentWatch;
}

/** How often a network's uplinks are looked at for a loop block that ended (for the log). */
const LOOP_LOG_MS = 1000;

export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge' as const;
  /** -o parent=IFACE is the bridge's too (its first uplink); -o gateway_port is read by plan. */
  readonly optionKeys = { parent: 'parent' } as const;
  readonly ownOptionKeys = ['gateway_port'];
  readonly ipv6 = true;
  private readonly uplinks = new Map<string, BridgeUplink[]>(); // by network id
  private readonly loopLogs = new Map<string, NodeJS.Timeout>(); // by network id, while it has uplinks
  constructor(private readonly ctx: DriverContext) {}

  /** IPAM from --subnet or the default pools; the gateway TAP's name (default tsn- + id), unique; no gateway if internal. */
  plan(req: CreateNetworkRequest, { options }: ParsedNetworkOptions, ctx: NetworkPlanContext): NetworkPlan {
    const ipam = ctx.poolIpam(req);
    const bridgeName = options.bridgeName ?? `tsn-${ctx.id.slice(0, 8)}`;
    options.bridgeName = bridgeName;
    if (ctx.others.some((n) => n.record.options.bridgeName === bridgeName)) {
      throw new TsnError('ERR_IFNAME_IN_USE', `bridge name ${bridgeName} is used by another network: choose another -o bridge.name`);
    }
    const gp = req.options?.gateway_port;
    if (gp !== undefined && gp !== 'true' && gp !== 'false') throw new TsnError('ERR_BAD_OPTION', `-o gateway_port=${gp}: expected true or false`);
    const gatewayPort = gp !== 'false';
    if (!gatewayPort) options.gatewayPort = false; // kept only when off: records of other networks stay as they were
    if (options.parent !== undefined) {
      options.uplinks = [checkUplink(options.parent, options.mtu, ctx.others, ctx.hostNetns)];
      delete options.parent; // a bridge's host interfaces are its uplinks (hostInterfacesOf)
    } else if (!gatewayPort) {
      throw new TsnError('ERR_BAD_OPTION', '-o gateway_port=false without -o parent=IFACE: with neither a gateway port nor an uplink the network reaches nothing beyond itself; use --internal for that');
    }
    // A LAN's own router as the containers' default route (Docker's --aux-address DefaultGatewayIPv4=IP).
    const lanRouter = ipam.auxAddresses.DefaultGatewayIPv4;
    if (lanRouter !== undefined && options.uplinks === undefined) {
      throw new TsnError('ERR_BAD_OPTION', `--aux-address DefaultGatewayIPv4=${lanRouter} without -o parent=IFACE: that router is on a LAN the network has no uplink to`);
    }
    const gateway = options.internal || !gatewayPort ? null : { ifname: bridgeName, mac: macFromIpv4(ipam.gateway), ip: ipam.gateway, prefixLen: ipam.prefixLen };
    return { ipam, gateway, hostRoutedSubnet: gatewayPort };
  }

  createNetwork(net: NetworkRuntime, adopt: boolean): void {
    this.createDomainAndGateway(net, adopt);
    for (const iface of hostInterfacesOf(net.record.options)) {
      try {
        this.openUplink(net, iface);
      } catch (err) {
        // At a restart an uplink that is gone does not take the network down: its containers still
        // reach each other, and `network uplink add` attaches the interface again once it is back.
        if (adopt) {
          this.ctx.log(`network ${net.record.name}: uplink ${iface} not attached: ${(err as Error).message}`);
          continue;
        }
        this.deleteNetwork(net);
        throw err;
      }
    }
  }

  /** `network uplink add`: one more host interface as a port of the network, recorded in its options. */
  addUplink(net: NetworkRuntime, iface: string, others: readonly NetworkRuntime[]): void {
    const rec = net.record;
    if (!net.domain) throw new TsnError('ERR_NETWORK_DOWN', `network ${rec.name} is not attached to the switch (its re-adoption failed; see the daemon log)`);
    const current = hostInterfacesOf(rec.options);
    const attached = (this.uplinks.get(rec.id) ?? []).some((u) => u.iface === iface);
    if (current.includes(iface) && attached) throw new TsnError('ERR_PARENT_IN_USE', `interface ${iface} is an uplink of network ${rec.name} already`);
    if (rec.options.internal) throw new TsnError('ERR_BAD_OPTION', `network ${rec.name} is internal: it reaches nothing beyond itself, so it takes no uplink`);
    // An uplink that was not attached at a restart is opened again under the same name, not added twice.
    checkUplink(iface, rec.options.mtu, others.filter((n) => n !== net), this.ctx.hostNetns);
    this.openUplink(net, iface);
    rec.options.uplinks = current.includes(iface) ? current : [...current, iface]; // also a first-version record's parent, kept
    delete rec.options.parent;
  }

  /**
   * `network uplink rm`: the interface stops being a port (it stays the host's, no longer promiscuous
   * for us). The last uplink of a network that has nothing else beyond itself is refused.
   */
  removeUplink(net: NetworkRuntime, iface: string): void {
    const rec = net.record;
    const current = hostInterfacesOf(rec.options);
    if (!current.includes(iface)) {
      throw new TsnError('ERR_NO_SUCH_PARENT', `interface ${iface} is not an uplink of network ${rec.name}${current.length ? `: its uplinks are ${current.join(', ')}` : ': it has none'}`);
    }
    if (current.length === 1) {
      if (rec.options.gatewayPort === false) throw new TsnError('ERR_BAD_OPTION', `${iface} is the last uplink of network ${rec.name}, which has no gateway port (-o gateway_port=false): without it the network reaches nothing beyond itself; add another uplink first, or remove the network`);
      const router = net.ipam?.auxAddresses.DefaultGatewayIPv4 ?? net.ipam6?.auxAddresses.DefaultGatewayIPv6;
      const which = net.ipam?.auxAddresses.DefaultGatewayIPv4 !== undefined ? 'DefaultGatewayIPv4' : 'DefaultGatewayIPv6';
      if (router !== undefined) throw new TsnError('ERR_BAD_OPTION', `${iface} is the last uplink of network ${rec.name}, and its containers' default route (${which}=${router}) is on that LAN; add another uplink first, or remove the network`);
    }
    const list = this.uplinks.get(rec.id) ?? [];
    const up = list.find((u) => u.iface === iface);
    if (up) this.closeUplink(net, up);
    if (current.length === 1) delete rec.options.uplinks;
    else rec.options.uplinks = current.filter((i) => i !== iface);
    delete rec.options.parent;
  }

  /** The host interface as a port of the network: every frame it carries, learned like any port's, loops watched. */
  private openUplink(net: NetworkRuntime, iface: string): void {
    const rec = net.record;
    const domain = net.domain!;
    const link = parentLink(iface, this.ctx.hostNetns);
    const port = openParentUplink(iface, this.ctx.hostNetns, 'a bridge uplink needs');
    try {
      port.label = `${iface} (uplink)`;
      this.ctx.engine.addPort(port, domain);
      // Frames for the containers' MACs and for whatever lies behind the LAN: all of them, as a bridge port.
      port.setPromisc(true);
      port.setFilter(null, true);
      port.setAllmulti(true);
    } catch (err) {
      if (port.id >= 0) this.ctx.engine.removePort(port);
      else port.close();
      throw err;
    }
    const guard = (domain.loopGuard ??= new LoopGuard());
    guard.onBlocked = (p, why) => this.ctx.log(`network ${rec.name}: uplink ${p.name} blocked for floods for ${LOOP_HOLD_S} s after its last loop frame: ${why}`);
    guard.addUplink(port);
    const watch = new ParentWatch(port, iface, this.ctx.hostNetns, `network ${rec.name}`, this.ctx.log, link.up);
    const list = this.uplinks.get(rec.id) ?? [];
    this.uplinks.set(rec.id, [...list, { iface, port, watch }]);
    if (!this.loopLogs.has(rec.id)) {
      const blocked = new Set<PacketPort>();
      const timer = setInterval(() => {
        for (const u of this.uplinks.get(rec.id) ?? []) {
          const isBlocked = domain.loopGuard?.state(u.port, this.ctx.engine.clock.now())?.blockedSince != null;
          if (blocked.has(u.port) && !isBlocked) this.ctx.log(`network ${rec.name}: uplink ${u.iface} unblocked: no loop frame for ${LOOP_HOLD_S} s`);
          if (isBlocked) blocked.add(u.port);
          else blocked.delete(u.port);
        }
      }, LOOP_LOG_MS);
      timer.unref();
      this.loopLogs.set(rec.id, timer);
    }
  }

  private closeUplink(net: NetworkRuntime, up: BridgeUplink): void {
    const id = net.record.id;
    up.watch.stop();
    const guard = net.domain?.loopGuard ?? null;
    guard?.removeUplink(up.port);
    if (up.port.id >= 0) this.ctx.engine.removePort(up.port); // closing the socket ends its promiscuity
    else up.port.close();
    const rest = (this.uplinks.get(id) ?? []).filter((u) => u !== up);
    if (rest.length) {
      this.uplinks.set(id, rest);
      return;
    }
    this.uplinks.delete(id);
    if (net.domain && guard?.size === 0) net.domain.loopGuard = null;
    clearInterval(this.loopLogs.get(id));
    this.loopLogs.delete(id);
  }

  private createDomainAndGateway(net: NetworkRuntime, adopt: boolean): void {
    const rec = net.record;
    const domain = this.ctx.engine.createDomain(rec.id, { icc: rec.options.icc });
    net.domain = domain;
    if (!rec.gateway) return;
    let port: TapPort | null = null;
    try {
      port = plumbTap({
        netns: this.ctx.hostNetns,
        ifname: rec.gateway.ifname,
        mac: rec.gateway.mac,
        mtu: rec.options.mtu,
        ip: rec.gateway.ip,
        prefixLen: rec.gateway.prefixLen,
        ip6: rec.gateway.ip6 ?? null,
        prefixLen6: rec.gateway.prefixLen6 ?? null,
        ownMac: false, // the host's port is trusted: it routes for everything beyond the network
        mode: adopt ? 'adopt-or-create' : 'create',
        defaultRouteVia: null,
        alias: deviceAlias(this.ctx.owner, rec.id, 'gateway'),
      }).port;
      this.ctx.engine.addPort(port, domain);
      domain.fdb.addStatic(parseMac(rec.gateway.mac), port);
      commitPersistent(port);
      net.gatewayPort = port;
    } catch (err) {
      if (port) discard(this.ctx.engine, port);
      this.ctx.engine.removeDomain(domain);
      net.domain = null;
      throw err;
    }
  }

  deleteNetwork(net: NetworkRuntime): void {
    for (const up of this.uplinks.get(net.record.id) ?? []) this.closeUplink(net, up);
    const port = net.gatewayPort;
    if (port instanceof TapPort && port.isOpen) {
      try {
        port.setPersist(false);
      } catch (err) {
        // Deleted from outside (EBADFD): nothing left to remove, and the network must still go.
        this.ctx.log(`network ${net.record.name}: gateway port ${port.name}: ${(err as Error).message}`);
      }
    }
    if (net.domain) this.ctx.engine.removeDomain(net.domain); // closes the gateway port: the device goes
    net.domain = null;
    net.gatewayPort = null;
  }

  connect(net: NetworkRuntime, ep: EndpointRecord, adopt: boolean): TapPort {
    const rec = net.record;
    if (!net.domain) {
      throw new TsnError('ERR_NETWORK_DOWN', `network ${rec.name} is not attached to the switch (its re-adoption failed; see the daemon log)`);
    }
    const place = placement(ep, this.ctx.hostNetns, adopt);
    const { port, defaultRoute } = plumbTap({
      netns: place.netns,
      ifname: place.ifname,
      mac: ep.mac,
      mtu: rec.options.mtu,
      ip: place.configure ? ep.ip : null,
      prefixLen: ep.prefixLen,
      ownMac: true,
      ownIp: rec.options.portSecurity === 'ip' && ep.ip ? ep.ip : undefined,
      ip6: place.configure ? (ep.ip6 ?? null) : null,
      prefixLen6: ep.prefixLen6 ?? null,
      ownIp6: rec.options.portSecurity === 'ip' && ep.ip6 ? ep.ip6 : undefined,
      mode: adopt ? 'adopt' : 'create',
      defaultRouteVia: rec.options.internal || !place.configure ? null : (net.ipam?.auxAddresses.DefaultGatewayIPv4 ?? rec.gateway?.ip ?? null),
      defaultRouteVia6: rec.options.internal || !place.configure ? null : (net.ipam6?.auxAddresses.DefaultGatewayIPv6 ?? rec.gateway?.ip6 ?? null),
      alias: deviceAlias(this.ctx.owner, rec.id, 'endpoint', ep.id),
    });
    try {
      this.ctx.engine.addPort(port, net.domain);
      commitPersistent(port);
    } catch (err) {
      discard(this.ctx.engine, port);
      throw err;
    }
    if (!adopt) ep.defaultRoute = defaultRoute;
    return port;
  }

  /** `network inspect`: the uplinks, when the network has any, with their loop guards. */
  inspect(net: NetworkRuntime): Record<string, unknown> {
    const ifaces = hostInterfacesOf(net.record.options);
    if (ifaces.length === 0) return {};
    const open = this.uplinks.get(net.record.id) ?? [];
    const now = this.ctx.engine.clock.now();
    const Uplinks = ifaces.map((iface) => {
      const up = open.find((u) => u.iface === iface);
      if (!up) return { Interface: iface, Attached: false };
      const loop = net.domain?.loopGuard?.state(up.port, now) ?? null;
      return {
        Interface: iface,
        Index: up.port.ifindex,
        Attached: !up.port.gone && up.port.isOpen,
        Up: up.watch.up,
        DownEvents: up.port.downEvents,
        Reopens: up.port.reopens,
        Loop: loop && { Blocked: loop.blockedSince !== null, BlockedFor: loop.blockedSince !== null ? Math.round(now - loop.blockedSince) : null, LoopFrames: loop.loopFrames, Spoofed: loop.spoofed, BlockedFloods: loop.blockedFloods, Blocks: loop.blocks },
      };
    });
    return { Uplinks };
  }

  disconnect(_net: NetworkRuntime, ep: EndpointRuntime): void {
    const port = ep.port;
    if (!port) return;
    if (port instanceof TapPort && port.isOpen) {
      try {
        port.setPersist(false);
      } catch (err) {
        this.ctx.log(`endpoint ${ep.record.id}: could not clear persistence: ${(err as Error).message}`);
      }
    }
    this.ctx.engine.removePort(port); // closing the last descriptor of a non-persistent TAP deletes it
    ep.port = null;
  }
}
