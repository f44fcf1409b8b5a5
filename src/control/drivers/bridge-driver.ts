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
import { TapPort } from '../../dataplane/ports/tap-port.js';
import { TsnError } from '../errors.js';
import type { EndpointRecord } from '../model.js';
import { Rtnetlink } from '../rtnetlink.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkRuntime } from './network-driver.js';

function errCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/** Open (or adopt) a persistent TAP in `netns` and configure it; undo on failure. (The macvlan driver uses it too.) */
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
  adopt: boolean;
  defaultRouteVia: string | null;
}): { port: TapPort; defaultRoute: boolean } {
  const nl = Rtnetlink.open(opts.netns ?? undefined);
  let port: TapPort | null = null;
  try {
    const existed = nl.linkIndex(opts.ifname) !== 0;
    if (existed && !opts.adopt) {
      throw new TsnError('ERR_IFNAME_IN_USE', 409, `interface ${opts.ifname} exists already in ${opts.netns ?? 'the host namespace'}: choose another name (--ifname / -o bridge.name)`);
    }
    port = TapPort.open(opts.ifname, {
      netns: opts.netns ?? undefined,
      persist: true,
      ownMac: opts.ownMac ? parseMac(opts.mac) : undefined,
      ownIp: opts.ownIp !== undefined ? parseIpv4(opts.ownIp) : undefined,
    });
    let defaultRoute = false;
    if (!existed) {
      const idx = nl.linkIndex(opts.ifname);
      nl.linkSet(idx, { mac: opts.mac, mtu: opts.mtu, up: true });
      if (opts.ip !== null && opts.prefixLen !== null) nl.addrAdd(idx, opts.ip, opts.prefixLen);
      if (opts.defaultRouteVia) {
        try {
          nl.routeAdd({ dst: '0.0.0.0', prefixLen: 0, gateway: opts.defaultRouteVia, ifindex: idx });
          defaultRoute = true;
        } catch (err) {
          if (errCode(err) !== 'EEXIST') throw err; // the sandbox has a default route from another network: keep it
        }
      }
    }
    return { port, defaultRoute };
  } catch (err) {
    if (port) {
      try {
        port.setPersist(false);
      } catch {
        /* closing below removes it anyway if it was never persistent */
      }
      port.close();
    }
    throw err;
  } finally {
    nl.close();
  }
}

export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge' as const;
  constructor(private readonly ctx: DriverContext) {}

  createNetwork(net: NetworkRuntime, adopt: boolean): void {
    const rec = net.record;
    const domain = this.ctx.engine.createDomain(rec.id, { icc: rec.options.icc });
    net.domain = domain;
    if (!rec.gateway) return;
    try {
      const { port } = plumbTap({
        netns: this.ctx.hostNetns,
        ifname: rec.gateway.ifname,
        mac: rec.gateway.mac,
        mtu: rec.options.mtu,
        ip: rec.gateway.ip,
        prefixLen: rec.gateway.prefixLen,
        ownMac: false, // the host's port is trusted: it routes for everything beyond the network
        adopt,
        defaultRouteVia: null,
      });
      this.ctx.engine.addPort(port, domain);
      domain.fdb.addStatic(parseMac(rec.gateway.mac), port);
      net.gatewayPort = port;
    } catch (err) {
      this.ctx.engine.removeDomain(domain);
      net.domain = null;
      throw err;
    }
  }

  deleteNetwork(net: NetworkRuntime): void {
    const port = net.gatewayPort;
    if (port instanceof TapPort && port.isOpen) port.setPersist(false);
    if (net.domain) this.ctx.engine.removeDomain(net.domain); // closes the gateway port: the device goes
    net.domain = null;
    net.gatewayPort = null;
  }

  connect(net: NetworkRuntime, ep: EndpointRecord, adopt: boolean): TapPort {
    const rec = net.record;
    const { port, defaultRoute } = plumbTap({
      netns: ep.sandboxPath,
      ifname: ep.ifname,
      mac: ep.mac,
      mtu: rec.options.mtu,
      ip: ep.ip,
      prefixLen: ep.prefixLen,
      ownMac: true,
      ownIp: rec.options.portSecurity === 'ip' && ep.ip ? ep.ip : undefined,
      adopt,
      defaultRouteVia: rec.options.internal || !rec.gateway ? null : rec.gateway.ip,
    });
    if (!adopt) ep.defaultRoute = defaultRoute;
    this.ctx.engine.addPort(port, net.domain!);
    return port;
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
