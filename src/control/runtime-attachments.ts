/**
 * Runtime attachments: what the CNI plugin (src/cni/) and the netavark plugin (src/netavark/) ask
 * of the daemon. A runtime names an attachment by (container id, interface name), as CNI does, not
 * by our endpoint id, and hands over a namespace path; it expects
 *   - ADD to make the network on first use from its configuration (subnet, gateway, driver options),
 *     to take a fixed address when an external IPAM plugin chose one, and to refuse a second ADD of
 *     the same (container, ifname);
 *   - DEL to succeed when the attachment is unknown or half-made (the spec's idempotence);
 *   - CHECK to say whether the interface is still there as it was made;
 *   - GC to remove every attachment of a network whose container is not in a list of valid ones.
 * The attachment is an ordinary endpoint (EndpointRecord.containerId set), so `network inspect`,
 * `stats`, capture and a daemon restart treat it like any other. Networks and endpoints are made
 * through NetworkRequests, so on a cluster network (--cluster-store) the address is claimed and the
 * endpoint published in the store as for `connect`.
 */
import type { CreateNetworkRequest, Daemon } from './daemon.js';
import type { EndpointRuntime, NetworkRuntime } from './drivers/network-driver.js';
import { parseCidr, parseIpv4 } from './cidr.js';
import { TsnError } from '../errors.js';
import type { EndpointRecord } from './model.js';
import { Rtnetlink } from './rtnetlink.js';
import type { NetworkRequests } from './network-requests.js';

export interface AttachRequest {
  network: string;
  containerId: string;
  ifname: string;
  /** The container's namespace file (CNI_NETNS). */
  netns: string;
  /** A fixed address (an external IPAM plugin's choice), with its prefix length. */
  ip?: string;
  prefixLen?: number;
  mac?: string;
  /** Routes to install in the container beyond the driver's default route (an IPAM plugin's). */
  routes?: { dst: string; gw?: string }[];
  /** How to make the network if it does not exist yet; also checked against an existing one. */
  create?: Omit<CreateNetworkRequest, 'name'>;
}

export interface AttachmentView {
  endpoint: EndpointRecord;
  network: { name: string; id: string; driver: string; subnet: string | null; gateway: string | null; mtu: number };
  /** Routes in the container that this attachment made (the default route included). */
  routes: { dst: string; gw: string }[];
  /** Whether this ADD made the network. */
  created?: boolean;
}

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkContainerId(id: string): string {
  if (!CONTAINER_ID_RE.test(id) || id.length > 256) {
    throw new TsnError('ERR_BAD_CONTAINER_ID', `container id ${JSON.stringify(id)}: expected 1-256 characters [a-zA-Z0-9_.-], starting with a letter or digit`);
  }
  return id;
}

export class RuntimeAttachments {
  /** Routes each attachment installed beyond the driver's default route (for CHECK and the result); not persisted. */
  private readonly extraRoutes = new Map<string, { dst: string; gw: string }[]>();

  constructor(
    private readonly daemon: Daemon,
    private readonly requests: NetworkRequests,
  ) {}

  /** The endpoint of (containerId, ifname), on any network. */
  find(containerId: string, ifname: string): { rt: NetworkRuntime; ep: EndpointRuntime } | null {
    for (const rt of this.daemon.networkRuntimes()) {
      for (const ep of rt.endpoints.values()) {
        if (ep.record.containerId === containerId && ep.record.ifname === ifname) return { rt, ep };
      }
    }
    return null;
  }

  private view(rt: NetworkRuntime, ep: EndpointRecord): AttachmentView {
    const gw = rt.record.options.internal ? null : (rt.record.gateway?.ip ?? rt.ipam?.gateway ?? null);
    const routes = [...(ep.defaultRoute && gw ? [{ dst: '0.0.0.0/0', gw }] : []), ...(this.extraRoutes.get(ep.id) ?? [])];
    return {
      endpoint: ep,
      network: { name: rt.record.name, id: rt.record.id, driver: rt.record.driver, subnet: rt.ipam?.subnet ?? null, gateway: gw, mtu: rt.record.options.mtu },
      routes,
    };
  }

  /** Make the network from the runtime's configuration, or check that the existing one matches it. */
  private async ensureNetwork(req: AttachRequest): Promise<{ rt: NetworkRuntime; created: boolean }> {
    const existing = this.daemon.networkRuntimes().find((n) => n.record.name === req.network);
    const want = req.create ?? {};
    if (!existing) {
      await this.requests.createNetwork({ name: req.network, ...want });
      return { rt: this.daemon.networkRuntimes().find((n) => n.record.name === req.network)!, created: true };
    }
    if (want.driver !== undefined && want.driver !== existing.record.driver) {
      throw new TsnError('ERR_NETWORK_MISMATCH', `network ${req.network} exists with driver ${existing.record.driver}, but the configuration asks for ${want.driver}`);
    }
    if (want.subnet !== undefined && existing.ipam && parseCidr(want.subnet).text !== existing.ipam.subnet) {
      throw new TsnError('ERR_NETWORK_MISMATCH', `network ${req.network} exists with subnet ${existing.ipam.subnet}, but the configuration says ${want.subnet}`);
    }
    if (want.gateway !== undefined && existing.ipam && want.gateway !== existing.ipam.gateway) {
      throw new TsnError('ERR_NETWORK_MISMATCH', `network ${req.network} exists with gateway ${existing.ipam.gateway}, but the configuration says ${want.gateway}`);
    }
    return { rt: existing, created: false };
  }

  async add(req: AttachRequest): Promise<AttachmentView> {
    checkContainerId(req.containerId);
    if (!req.netns.startsWith('/')) throw new TsnError('ERR_BAD_SANDBOX', `netns ${JSON.stringify(req.netns)}: expected the absolute path of a namespace file (CNI_NETNS)`);
    const other = this.find(req.containerId, req.ifname);
    if (other) {
      throw new TsnError('ERR_ENDPOINT_EXISTS', `container ${req.containerId} has ${req.ifname} on network ${other.rt.record.name} already (endpoint ${other.ep.record.id}): DEL it first`);
    }
    const routes = (req.routes ?? []).map((r) => ({ ...parseCidr(r.dst, { what: 'route dst' }), gw: r.gw }));
    for (const r of routes) if (r.gw !== undefined) parseIpv4(r.gw);
    const { rt, created } = await this.ensureNetwork(req);
    try {
      if (req.prefixLen !== undefined && rt.ipam && req.prefixLen !== rt.ipam.prefixLen) {
        throw new TsnError('ERR_NETWORK_MISMATCH', `address ${req.ip}/${req.prefixLen} does not fit network ${rt.record.name}, whose subnet is ${rt.ipam.subnet}`);
      }
      const ep = await this.requests.connect(rt.record.name, { netns: req.netns, ip: req.ip, mac: req.mac, ifname: req.ifname, containerId: req.containerId });
      try {
        this.extraRoutes.set(ep.id, this.installRoutes(rt, ep, routes));
      } catch (err) {
        await this.requests.disconnect(rt.record.name, ep.id);
        throw err;
      }
      return { ...this.view(rt, ep), created };
    } catch (err) {
      // A network this ADD made goes with it when the ADD fails (nothing half-made stays).
      if (created && rt.endpoints.size === 0) await this.requests.removeNetwork(rt.record.name, false);
      throw err;
    }
  }

  /** Routes an IPAM plugin asked for, in the container; the default route the driver made is skipped. */
  private installRoutes(rt: NetworkRuntime, ep: EndpointRecord, routes: { text: string; network: number; prefixLen: number; gw?: string }[]): { dst: string; gw: string }[] {
    const gwDefault = rt.record.options.internal ? null : (rt.record.gateway?.ip ?? rt.ipam?.gateway ?? null);
    const made: { dst: string; gw: string }[] = [];
    if (routes.length === 0) return made;
    const nl = Rtnetlink.open(ep.sandboxPath);
    try {
      const idx = nl.linkIndex(ep.ifname);
      for (const r of routes) {
        const gw = r.gw ?? gwDefault;
        if (r.prefixLen === 0 && ep.defaultRoute && gw === gwDefault) continue; // the driver's own
        if (!gw) throw new TsnError('ERR_BAD_OPTION', `route ${r.text}: no gateway given and network ${rt.record.name} has none`);
        const dst = r.text.split('/')[0];
        try {
          nl.routeAdd({ dst, prefixLen: r.prefixLen, gateway: gw, ifindex: idx });
          made.push({ dst: r.text, gw });
        } catch (err) {
          if ((err as { code?: string }).code === 'EEXIST' && r.prefixLen === 0) continue; // the container has a default route from another network
          throw new TsnError('ERR_BAD_OPTION', `route ${r.text} via ${gw} in ${ep.sandboxPath}: ${(err as Error).message}`);
        }
      }
    } finally {
      nl.close();
    }
    return made;
  }

  /** DEL: the attachment goes, if there is one; an unknown one is no error. */
  async remove(containerId: string, ifname: string): Promise<{ removed: EndpointRecord | null }> {
    const found = this.find(containerId, ifname);
    if (!found) return { removed: null };
    this.extraRoutes.delete(found.ep.record.id);
    return { removed: await this.requests.disconnect(found.rt.record.name, found.ep.record.id) };
  }

  /** CHECK: the attachment exists, is switched, and its interface in the container still has its MAC and address. */
  check(containerId: string, ifname: string): AttachmentView {
    const found = this.find(containerId, ifname);
    if (!found) throw new TsnError('ERR_NO_SUCH_ATTACHMENT', `container ${containerId} has no ${ifname} on any tsnet network (was it ADDed?)`);
    const { rt, ep } = found;
    const rec = ep.record;
    if (!ep.port) throw new TsnError('ERR_ATTACHMENT_BROKEN', `${rec.ifname} of container ${containerId} is not attached to the switch (the daemon could not re-adopt it; see its log)`);
    let nl: Rtnetlink;
    try {
      nl = Rtnetlink.open(rec.sandboxPath);
    } catch (err) {
      throw new TsnError('ERR_ATTACHMENT_BROKEN', `container ${containerId}: namespace ${rec.sandboxPath} cannot be entered: ${(err as Error).message}`);
    }
    try {
      const idx = nl.linkIndex(rec.ifname);
      if (idx === 0) throw new TsnError('ERR_ATTACHMENT_BROKEN', `container ${containerId}: ${rec.ifname} is no longer in ${rec.sandboxPath}`);
      const link = nl.linkInfo(idx);
      if (link.mac !== rec.mac) throw new TsnError('ERR_ATTACHMENT_BROKEN', `container ${containerId}: ${rec.ifname} has MAC ${link.mac}, the switch expects ${rec.mac} (port security drops its frames)`);
      if (rec.ip && !nl.addrList(idx).some((a) => a.address === rec.ip && a.prefixLen === rec.prefixLen)) {
        throw new TsnError('ERR_ATTACHMENT_BROKEN', `container ${containerId}: ${rec.ifname} lost its address ${rec.ip}/${rec.prefixLen}`);
      }
      const view = this.view(rt, rec);
      const table = nl.routeList();
      for (const r of view.routes) {
        const [dst, len] = r.dst.split('/');
        if (!table.some((t) => t.dst === dst && t.prefixLen === Number(len) && t.gateway === r.gw && t.table === 254)) {
          throw new TsnError('ERR_ATTACHMENT_BROKEN', `container ${containerId}: route ${r.dst} via ${r.gw} is missing`);
        }
      }
      return view;
    } finally {
      nl.close();
    }
  }

  /** GC: remove the attachments of `network` whose (container, ifname) is not in `valid`; errors are collected, not fatal. */
  async gc(network: string, valid: { containerId: string; ifname: string }[]): Promise<{ removed: EndpointRecord[]; errors: string[] }> {
    const keep = new Set(valid.map((v) => `${v.containerId}\u0000${v.ifname}`));
    const rt = this.daemon.networkRuntimes().find((n) => n.record.name === network);
    const removed: EndpointRecord[] = [];
    const errors: string[] = [];
    if (!rt) return { removed, errors };
    for (const ep of [...rt.endpoints.values()]) {
      const cid = ep.record.containerId;
      if (cid === undefined || keep.has(`${cid}\u0000${ep.record.ifname}`)) continue; // not a runtime's, or still valid
      try {
        this.extraRoutes.delete(ep.record.id);
        removed.push(await this.requests.disconnect(rt.record.name, ep.record.id));
      } catch (err) {
        errors.push(`endpoint ${ep.record.id} (container ${cid}): ${(err as Error).message}`);
      }
    }
    return { removed, errors };
  }
}
