/**
 * The macvlan and ipvlan drivers (Docker's, in user space): a network is an L2 domain whose uplink is
 * an AF_PACKET socket on a parent interface of the host (PacketPort) and whose containers each get a
 * TAP made directly inside their namespace, as the bridge driver's (plumbTap). The demux stages
 * (src/dataplane/stages/macvlan-demux.ts, ipvlan-demux.ts) apply each mode's rules.
 *
 *   macvlan: every container has a MAC of its own (02:42 + its IPv4 address, or --mac) and shows up
 *            on the parent's LAN as a host of its own; modes bridge, private, vepa, passthru (one
 *            container, which gets the parent's MAC by default, owns the parent).
 *   ipvlan:  mode l2; every container has the parent's MAC, demux is by IPv4 address, ARP for a
 *            container is answered with the parent's MAC; IP port security is always on.
 *
 * The host shim (`-o host_shim=IP`): a persistent TAP in the daemon's host namespace, holding IP/32,
 * attached to the network like a container but local in every mode, plus one /32 route per endpoint
 * through it. With it the host reaches its own containers, which the kernel drivers never allow; the
 * /32 routes win over any route the host has for the LAN's subnet through the parent itself.
 *
 * Parent state: a parent that does not exist is ERR_NO_SUCH_PARENT at create. Down and up again:
 * PacketPort counts it and traffic resumes by itself. Deleted and made again under the same name: a
 * one-second watchdog notices (rtnetlink: the parent's index changed) and reopens the socket with the
 * same memberships. Every step undoes itself on failure; devices persist across daemon restarts.
 *
 * Connect order: plumbTap makes the TAP NOT persistent; the port joins the network (memberships and
 * socket filter), the shim route goes in, and only then commitPersistent. Until that last step any
 * failure just closes the port, which deletes a new device with its address and routes. Disconnect
 * never throws once the port is closed: an uplink that cannot be synced is logged and counted.
 */
import { constants as osConstants } from 'node:os';
import { addParentMember, createParentNetwork, removeParentMember, removeParentNetwork } from '../../dataplane/parent-network-setup.js';
import type { MacvlanMode, ParentNetwork } from '../../dataplane/parent-networks.js';
import type { PacketPort } from '../../dataplane/ports/packet-port.js';
import { openParentUplink, ParentWatch } from './parent-uplink.js';
import { TapPort } from '../../dataplane/ports/tap-port.js';
import { formatMac, parseMac } from '../../packet/mac.js';
import { parseIpv4 } from '../cidr.js';
import { TsnError } from '../../errors.js';
import { macFromIpv4, randomLocalMac } from '../mac-address.js';
import { deviceAlias } from '../device-marker.js';
import type { EndpointRecord } from '../model.js';
import type { CreateNetworkRequest, ParsedNetworkOptions } from '../network-options.js';
import { hostInterfacesOf, PARENT_OPTION_KEYS, parentLink, planParentNetwork } from '../parent-network-options.js';
import { Rtnetlink } from '../rtnetlink.js';
import { ADDR_GEN_MODE_NONE, commitPersistent, ipv6Bytes, plumbTap } from './bridge-driver.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkPlan, NetworkPlanContext, NetworkRuntime } from './network-driver.js';
import { placement } from '../runtime-moved-tap.js';

interface ParentRuntime {
  net: ParentNetwork;
  uplink: PacketPort;
  shim: TapPort | null;
  shimMac: string | null;
  watch: ParentWatch;
  /** The parent's promiscuity before our memberships: more afterwards means the kernel went promiscuous for them. */
  basePromiscuity: number;
}

function errCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

export class MacvlanDriver implements NetworkDriver {
  private readonly runtimes = new Map<string, ParentRuntime>(); // by network id

  constructor(
    private readonly ctx: DriverContext,
    readonly name: 'macvlan' | 'ipvlan',
  ) {}

  readonly optionKeys = PARENT_OPTION_KEYS;

  /** Dual stack: macvlan demultiplexes by MAC; ipvlan by IPv6 destination too (stages/ipvlan-demux.ts). */
  readonly ipv6 = true;

  /** Parent, mode, host shim, MTU and IPAM (parent-network-options.ts); no gateway port. */
  plan(req: CreateNetworkRequest, parsed: ParsedNetworkOptions, ctx: NetworkPlanContext): NetworkPlan {
    const ipam = planParentNetwork(this.name, req, parsed, {
      id: ctx.id,
      others: ctx.others.map((n) => ({ name: n.record.name, subnet: n.ipam?.subnet ?? null, interfaces: hostInterfacesOf(n.record.options), shimName: n.record.options.hostShimName ?? null })),
      hostNetns: ctx.hostNetns,
    });
    return { ipam, gateway: null };
  }

  private runtime(net: NetworkRuntime): ParentRuntime {
    const r = this.runtimes.get(net.record.id);
    if (!r) throw new TsnError('ERR_PARENT_UNAVAILABLE', `network ${net.record.name} has no data plane: its parent ${net.record.options.parent} could not be opened when the daemon started`);
    return r;
  }

  createNetwork(rt: NetworkRuntime, adopt: boolean): void {
    const rec = rt.record;
    const opts = rec.options;
    const parent = opts.parent!;
    const link = parentLink(parent, this.ctx.hostNetns);
    const uplink = openParentUplink(parent, this.ctx.hostNetns, 'macvlan and ipvlan need');
    uplink.label = `${parent} (parent)`;
    const engine = this.ctx.engine;
    let net: ParentNetwork;
    try {
      net = createParentNetwork(engine, rec.id, uplink, { kind: this.name, mode: (this.name === 'ipvlan' ? 'bridge' : opts.mode) as MacvlanMode, parentMac: uplink.parentMac });
    } catch (err) {
      uplink.close();
      throw err;
    }
    rt.domain = net.domain;
    const onReopen = () => {
      if (uplink.parentMac === net.parentMac) return;
      this.ctx.log(`network ${rec.name}: parent ${parent} came back with another MAC (${formatMac(uplink.parentMac)})${this.name === 'ipvlan' ? ': the endpoints keep the old one until reconnected' : ''}`);
      net.parentMac = uplink.parentMac;
    };
    const watch = new ParentWatch(uplink, parent, this.ctx.hostNetns, `network ${rec.name}`, this.ctx.log, link.up, onReopen);
    const r: ParentRuntime = { net, uplink, shim: null, shimMac: null, watch, basePromiscuity: link.promiscuity };
    this.runtimes.set(rec.id, r);
    if (opts.hostShim === undefined) return;
    try {
      this.addShim(rt, r, adopt);
    } catch (err) {
      this.deleteNetwork(rt);
      throw err;
    }
  }

  private addShim(rt: NetworkRuntime, r: ParentRuntime, adopt: boolean): void {
    const opts = rt.record.options;
    const ip = opts.hostShim!;
    const ifname = opts.hostShimName!;
    const mac = this.name === 'ipvlan' ? formatMac(r.uplink.parentMac) : macFromIpv4(ip);
    const { port } = plumbTap({
      netns: this.ctx.hostNetns,
      ifname,
      mac,
      mtu: opts.mtu,
      ip,
      prefixLen: 32, // no route to the whole subnet: only the /32 routes of the endpoints go through the shim
      ownMac: this.name === 'macvlan',
      ownIp: this.name === 'ipvlan' ? ip : undefined,
      mode: adopt ? 'adopt-or-create' : 'create',
      defaultRouteVia: null,
      alias: deviceAlias(this.ctx.owner, rt.record.id, 'shim'),
    });
    // On failure addParentMember closes the port: a shim made just now (not yet persistent) goes with it.
    addParentMember(this.ctx.engine, r.net, port, { mac: this.name === 'macvlan' ? parseMac(mac) : undefined, ip: parseIpv4(ip), shim: true });
    try {
      commitPersistent(port);
    } catch (err) {
      this.logSyncError(`network ${rt.record.name}: host shim`, removeParentMember(this.ctx.engine, r.net, port));
      throw err;
    }
    port.label = `${ifname} (host shim)`;
    r.shim = port;
    r.shimMac = mac;
  }

  deleteNetwork(rt: NetworkRuntime): void {
    const r = this.runtimes.get(rt.record.id);
    if (r) {
      r.watch.stop();
      if (r.shim?.isOpen) {
        try {
          r.shim.setPersist(false);
        } catch (err) {
          this.ctx.log(`network ${rt.record.name}: host shim: could not clear persistence: ${(err as Error).message}`);
        }
      }
      removeParentNetwork(this.ctx.engine, r.net); // closes the uplink socket and the shim TAP (the device goes)
      this.runtimes.delete(rt.record.id);
    } else if (rt.domain) {
      this.ctx.engine.removeDomain(rt.domain);
    }
    rt.domain = null;
    rt.gatewayPort = null;
  }

  endpointMac(rt: NetworkRuntime, requested: string | null, ip: string | null): { mac: string; shared: boolean } {
    const r = this.runtime(rt);
    const parentMac = formatMac(r.uplink.parentMac);
    if (this.name === 'ipvlan') {
      if (requested !== null && requested !== parentMac) {
        throw new TsnError('ERR_BAD_OPTION', `--mac ${requested}: ipvlan endpoints share the parent's MAC ${parentMac}; drop --mac`);
      }
      return { mac: parentMac, shared: true };
    }
    if (rt.record.options.mode === 'passthru') {
      this.checkPassthruFree(rt, r);
      return { mac: requested ?? parentMac, shared: false };
    }
    const mac = requested ?? (ip ? macFromIpv4(ip) : randomLocalMac());
    if (mac === parentMac) throw new TsnError('ERR_MAC_IN_USE', `MAC ${mac} is the parent ${rt.record.options.parent}'s own (only a passthru endpoint takes it)`);
    if (mac === r.shimMac) throw new TsnError('ERR_MAC_IN_USE', `MAC ${mac} is the host shim's`);
    return { mac, shared: false };
  }

  private checkPassthruFree(rt: NetworkRuntime, r: ParentRuntime): void {
    if (r.net.children.length > 0) {
      throw new TsnError('ERR_NETWORK_FULL', `network ${rt.record.name} is macvlan passthru: its one endpoint owns parent ${rt.record.options.parent} already; disconnect it first, or use mode bridge`);
    }
  }

  connect(rt: NetworkRuntime, ep: EndpointRecord, adopt: boolean): TapPort {
    const r = this.runtime(rt);
    const opts = rt.record.options;
    if (opts.mode === 'passthru') this.checkPassthruFree(rt, r);
    const place = placement(ep, this.ctx.hostNetns, adopt);
    const { port, defaultRoute } = plumbTap({
      netns: place.netns,
      ifname: place.ifname,
      mac: ep.mac,
      mtu: opts.mtu,
      ip: place.configure ? ep.ip : null,
      prefixLen: ep.prefixLen,
      ownMac: this.name === 'macvlan',
      ownIp: (this.name === 'ipvlan' || opts.portSecurity === 'ip') && ep.ip ? ep.ip : undefined,
      ip6: place.configure ? (ep.ip6 ?? null) : null,
      prefixLen6: ep.prefixLen6 ?? null,
      ownIp6: (this.name === 'ipvlan' || opts.portSecurity === 'ip') && ep.ip6 ? ep.ip6 : undefined,
      // ipvlan children share the parent's MAC, so EUI-64 would give them one link-local address: none.
      addrGenMode: this.name === 'ipvlan' ? ADDR_GEN_MODE_NONE : undefined,
      mode: adopt ? 'adopt' : 'create',
      defaultRouteVia: opts.internal || !rt.ipam || !place.configure ? null : rt.ipam.gateway,
      // The LAN's IPv6 router: --gateway V6 (the first host unless given).
      defaultRouteVia6: opts.internal || !rt.ipam6 || !place.configure ? null : rt.ipam6.gateway,
      alias: deviceAlias(this.ctx.owner, rt.record.id, 'endpoint', ep.id),
    });
    // The TAP is not persistent yet (unless adopted): closing the port undoes it. On failure
    // addParentMember has closed it already.
    addParentMember(this.ctx.engine, r.net, port, { mac: this.name === 'macvlan' ? parseMac(ep.mac) : undefined, ip: ep.ip ? parseIpv4(ep.ip) : undefined, ip6: this.name === 'ipvlan' && ep.ip6 ? ipv6Bytes(ep.ip6) : undefined });
    let routed = false;
    try {
      if (r.shim && ep.ip) {
        this.shimRoute(r, ep.ip, true);
        routed = true;
      }
      commitPersistent(port); // the last step: from here on the device outlives the daemon
    } catch (err) {
      if (routed) {
        try {
          this.shimRoute(r, ep.ip!, false);
        } catch (e) {
          this.ctx.log(`endpoint ${ep.id}: undoing the host shim route: ${(e as Error).message}`);
        }
      }
      this.logSyncError(`endpoint ${ep.id}`, removeParentMember(this.ctx.engine, r.net, port));
      throw err;
    }
    if (!adopt) ep.defaultRoute = defaultRoute;
    return port;
  }

  disconnect(rt: NetworkRuntime, ep: EndpointRuntime): void {
    const port = ep.port;
    if (!port) return;
    const r = this.runtimes.get(rt.record.id);
    if (port instanceof TapPort && port.isOpen) {
      try {
        port.setPersist(false);
      } catch (err) {
        this.ctx.log(`endpoint ${ep.record.id}: could not clear persistence: ${(err as Error).message}`);
      }
    }
    if (r) {
      if (r.shim && ep.record.ip) {
        try {
          this.shimRoute(r, ep.record.ip, false);
        } catch (err) {
          this.ctx.log(`endpoint ${ep.record.id}: host shim route: ${(err as Error).message}`);
        }
      }
      // Closing the last descriptor of a non-persistent TAP deletes it; never throws.
      this.logSyncError(`endpoint ${ep.record.id}`, removeParentMember(this.ctx.engine, r.net, port));
    } else {
      this.ctx.engine.removePort(port);
    }
    ep.port = null;
  }

  /** A member left but the uplink could not be synced (removeParentMember's error): say so, the next change syncs it. */
  private logSyncError(who: string, err: Error | null): void {
    if (err) this.ctx.log(`${who}: left the network, but the parent's memberships and filter could not be updated (the next change retries): ${err.message}`);
  }

  /** Add or delete the host's /32 route to an endpoint through the shim (EEXIST / ESRCH are fine). */
  private shimRoute(r: ParentRuntime, ip: string, add: boolean): void {
    const nl = Rtnetlink.open(this.ctx.hostNetns ?? undefined);
    try {
      const ifindex = nl.linkIndex(r.shim!.name);
      if (ifindex === 0) throw new TsnError('ERR_INTERNAL', `host shim ${r.shim!.name} has vanished from the host namespace`);
      const route = { dst: ip, prefixLen: 32, ifindex };
      try {
        if (add) nl.routeAdd(route);
        else nl.routeDel(route);
      } catch (err) {
        if (errCode(err) !== (add ? 'EEXIST' : 'ESRCH')) throw err;
      }
    } finally {
      nl.close();
    }
  }

  inspect(rt: NetworkRuntime): Record<string, unknown> {
    const r = this.runtimes.get(rt.record.id);
    const opts = rt.record.options;
    if (!r) return { Parent: { Interface: opts.parent, Mode: opts.mode, Attached: false } };
    let promiscuity: number | null = null;
    try {
      promiscuity = r.watch.missing ? null : parentLink(opts.parent!, this.ctx.hostNetns).promiscuity;
    } catch {
      promiscuity = null;
    }
    const u = r.uplink;
    let delivery: string;
    if (u.unicastRefused !== null) delivery = `promiscuous: the parent refused a unicast membership (${u.unicastRefused}); the socket filter keeps other hosts' frames out`;
    else if (u.membershipMode === 'promisc') delivery = 'promiscuous (passthru: every frame to the one endpoint)';
    else if (this.name === 'ipvlan') delivery = "the parent's own MAC (shared by every endpoint)";
    else if (u.unicastMacSet().size === 0) delivery = 'no members yet';
    else if (promiscuity !== null && promiscuity > r.basePromiscuity) delivery = "unicast membership per endpoint MAC; the parent's driver has no unicast filter, so the kernel made it promiscuous";
    else delivery = "unicast membership per endpoint MAC, in the parent's unicast filter";
    return {
      Parent: {
        Interface: opts.parent,
        Index: u.ifindex,
        MacAddress: formatMac(u.parentMac),
        Mode: opts.mode,
        Attached: !u.gone && u.isOpen,
        Up: r.watch.up,
        Membership: u.membershipMode,
        MembershipMacs: u.unicastMacs,
        Delivery: delivery,
        Promiscuity: promiscuity,
        VnetHdrLen: u.vnetHdrLen,
        DownEvents: u.downEvents,
        Reopens: u.reopens,
        // The kernel socket filter: 'attached', or wanted but left off (too long / over optmem_max: the
        // socket reads everything, the demux drops what is for nobody).
        Filter: { State: u.filterState, Instructions: u.filterInstructions, Fallbacks: u.filterFallbacks },
        SyncFailures: r.net.uplinkSyncFailures,
        Errno: u.lastErrno ? (Object.entries(osConstants.errno).find(([, v]) => v === u.lastErrno)?.[0] ?? u.lastErrno) : null,
      },
      HostShim: r.shim ? { Interface: r.shim.name, MacAddress: r.shimMac, IPv4Address: `${opts.hostShim}/32` } : null,
    };
  }
}
