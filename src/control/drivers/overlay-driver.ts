/**
 * The overlay driver (Docker's `overlay`, in user space): one L2 domain spanning hosts. Local
 * containers attach exactly as on a bridge network (a TAP made inside the sandbox; the bridge driver
 * does that part), but the network has no gateway port and no default route: it is the containers'
 * own L2 segment, as Docker's overlay is without docker_gwbridge. Remote MACs are reached through a
 * VxlanPort in the domain, which encapsulates into VXLAN over UDP.
 *
 * Per host, one VtepSocketPort per local VTEP address and port (198.18.0.1:4789, [fd00::1]:4789),
 * shared by every overlay network on it, each with its own VNI; it is opened with the first network
 * that needs it and closed with the last. A VTEP is IPv4 or IPv6 (VXLAN over UDP/IPv6), its peers and
 * static entries of the same family; records keep addresses as text, and the VTEP's underlay turns
 * them into the uint32 the data plane carries (overlay/underlay.ts). The underlay MTU is the MTU of
 * the link that holds the VTEP address; the network's MTU (what endpoints get) defaults to it minus
 * 50 (70 over IPv6), and an explicit --mtu above that is refused, because such frames could only be dropped. `network inspect` re-reads the underlay MTU and
 * shows the effective MTU (and a warning when the underlay shrank below what endpoints were given).
 *
 * Static remote entries (`fdb add NETWORK MAC --vtep IP [--ip ADDR]`) live in the network record and
 * are reinstalled at start; local endpoints' IP -> MAC pairs are static neighbor entries, so ARP for
 * them is answered without flooding the underlay.
 *
 * Multi-host state (the same VNI, subnet and non-overlapping addresses on every host) is the user's
 * to keep consistent for now: pass -o vni, --subnet and --ip-range/--ip on each host. docs/overlay-etcd.md
 * sketches how a cluster store would keep it.
 */
import { parseMac, formatMac } from '../../packet/mac.js';
import { UdpUnderlay } from '../../dataplane/overlay/udp-underlay.js';
import { vtepNumberOf, vtepTextOf, type Underlay } from '../../dataplane/overlay/underlay.js';
import { vxlanOverlayMtuOverhead } from '../../dataplane/overlay/frame-fit.js';
import { VtepSocketPort } from '../../dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../dataplane/ports/vxlan-port.js';
import { formatIpv4, parseCidr, parseIpv4 } from '../cidr.js';
import { cidr6Contains, formatIpv6Address, parseCidr6, parseIpv6Address } from '../ipam6.js';
import { formatIpv6, parseIpv6 } from '../../packet/ipv6.js';
import { TsnError } from '../../errors.js';
import { checkUserMac } from '../mac-address.js';
import type { EndpointRecord, NetworkRecord, OverlayRecord } from '../model.js';
import type { CreateNetworkRequest, ParsedNetworkOptions } from '../network-options.js';
import { OVERLAY_OPTION_KEYS, checkVtepAddress, parseOverlayOptions, vtepFamily, vtepWithPort } from '../overlay-options.js';
import { Rtnetlink, withRtnetlink } from '../rtnetlink.js';
import { BridgeDriver } from './bridge-driver.js';
import { EncryptedVteps } from './encrypted-vteps.js';
import { ENCRYPTION_OPTION_KEYS, parseEncryptionOptions } from '../overlay-encryption-options.js';
import { WG_OVERHEAD } from '../../native/wireguard-addon.js';
import type { DriverContext, EndpointRuntime, NetworkDriver, NetworkPlan, NetworkPlanContext, NetworkRuntime } from './network-driver.js';

/** VXLAN over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const OVERLAY_MTU_OVERHEAD = 50;

/** What VXLAN takes off the underlay's MTU for the VTEP `vtep`: 50, or 70 over IPv6 (outer IPv6 is 40 bytes). */
export function overlayMtuOverhead(vtep: string): number {
  return vxlanOverlayMtuOverhead(vtepFamily(vtep));
}

/**
 * Segments of an endpoint's GSO super-frames so that one fits one UDP_SEGMENT message: a datagram is
 * at most VXLAN 8 + Ethernet 14 + MTU bytes, a message at most 65507 (and 64 datagrams). 44 at MTU 1450.
 */
export function gsoSegmentsPerMessage(mtu: number): number {
  return Math.max(1, Math.min(64, Math.floor(65507 / (8 + 14 + mtu))));
}

export interface UnderlayLink {
  ifindex: number;
  name: string;
  mtu: number;
}

export type UnderlayFactory = (localIp: string, port: number) => Underlay;

interface VtepUse {
  port: VtepSocketPort;
  users: number;
}

/** fe80::/64 + the modified EUI-64 of `mac` (RFC 4291 appendix A), as the kernel derives it by default. */
function linkLocalOf(mac: string): string {
  const m = mac.split(':').map((x) => parseInt(x, 16));
  const b = new Uint8Array(16);
  b.set([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
  return formatIpv6(b, 0);
}

export class OverlayDriver implements NetworkDriver {
  readonly name = 'overlay' as const;
  /** IPv6 inside the VXLAN: endpoints are bridge-style TAPs (Neighbor Solicitations for known addresses are answered locally by arp-suppress, as ARP is). */
  readonly ipv6 = true;
  private readonly local: BridgeDriver;
  private readonly vteps = new Map<string, VtepUse>();
  private readonly vxlanPorts = new Map<string, VxlanPort>(); // by network id
  private readonly openUnderlay: UnderlayFactory;
  /** `-o encrypted=true`: WireGuard underlays, one per VTEP address and port (encrypted-vteps.ts). */
  readonly encrypted: EncryptedVteps;

  constructor(
    private readonly ctx: DriverContext,
    openUnderlay?: UnderlayFactory,
  ) {
    this.local = new BridgeDriver(ctx);
    this.openUnderlay = openUnderlay ?? ((ip, port) => new UdpUnderlay(ip, port, { netns: ctx.hostNetns ?? undefined }));
    this.encrypted = new EncryptedVteps({
      stateDir: ctx.stateDir,
      netns: ctx.hostNetns ?? undefined,
      log: ctx.log,
      onNetworkPeers: (netId, vteps) => {
        const vx = this.vxlanPorts.get(netId);
        if (vx) vx.authenticatedSenders = new Set(vteps.map((v) => parseIpv4(v)));
      },
    });
  }

  /** Keys `-o` accepts for this driver, besides the common ones (overlay-options.ts parses them). */
  readonly ownOptionKeys = [...Object.keys(OVERLAY_OPTION_KEYS), ...ENCRYPTION_OPTION_KEYS];

  /**
   * IPv4 and IPv6 addresses of the host namespace and the link each is on: not loopback, nor IPv6
   * link-local (a VTEP address needs no zone); IPv6 in canonical text, as records keep it.
   */
  private hostAddresses(): { address: string; link: UnderlayLink; tap: boolean }[] {
    const nl = Rtnetlink.open(this.ctx.hostNetns ?? undefined);
    try {
      const v6 = nl
        .addrList(undefined, 6)
        .map((a) => ({ ...a, address: formatIpv6Address(parseIpv6Address(a.address)) }))
        .filter((a) => a.address !== '::1' && !/^fe[89ab]/.test(a.address));
      return [...nl.addrList().filter((a) => !a.address.startsWith('127.')), ...v6]
        .map((a) => {
          const info = nl.linkInfo(a.index);
          return { address: a.address, link: { ifindex: a.index, name: info.name, mtu: info.mtu }, tap: info.kind === 'tun' };
        });
    } finally {
      nl.close();
    }
  }

  /** The link holding `vtep`, or null if the host has no such address (any more). */
  underlayLink(vtep: string): UnderlayLink | null {
    return this.hostAddresses().find((a) => a.address === vtep)?.link ?? null;
  }

  /**
   * Check a `network create -d overlay` request before anything is made: no gateway port, the overlay
   * options and the MTU (prepare), then IPAM from --subnet or the default pools.
   */
  plan(req: CreateNetworkRequest, { options, given }: ParsedNetworkOptions, ctx: NetworkPlanContext): NetworkPlan {
    if (options.bridgeName !== null) throw new TsnError('ERR_BAD_OPTION', '-o bridge.name: the overlay driver makes no gateway port; drop the option');
    const prepared = this.prepare(req.options ?? {}, given.has('mtu') ? options.mtu : null, ctx.others.map((n) => n.record));
    options.mtu = prepared.mtu;
    return { ipam: ctx.poolIpam(req), gateway: null, overlay: prepared.overlay };
  }

  /**
   * The overlay options, and the MTU endpoints will get (default underlay MTU - 50; an explicit one
   * must fit). Nothing is made.
   */
  private prepare(options: Record<string, string>, explicitMtu: number | null, others: readonly NetworkRecord[]): { overlay: OverlayRecord; mtu: number } {
    const addrs = this.hostAddresses();
    const overlay = parseOverlayOptions(options, {
      hostAddresses: addrs.map((a) => a.address),
      // A default VTEP is never a TAP's address (bridge networks' gateway ports are TAPs on this host).
      defaultCandidates: addrs.filter((a) => !a.tap).map((a) => a.address),
      others: others.flatMap((r) => (r.overlay ? [r.overlay] : [])),
    });
    const encrypted = parseEncryptionOptions(options, overlay.vtep, { peersFromStore: this.encrypted.peersFromStore });
    if (encrypted) {
      overlay.encrypted = encrypted;
      if (overlay.peers.length === 0) overlay.peers = encrypted.peers.map((p) => p.vtep); // BUM to every encrypted peer
    }
    const link = addrs.find((a) => a.address === overlay.vtep)!.link;
    const overhead = overlayMtuOverhead(overlay.vtep);
    const fit = link.mtu - overhead - (encrypted ? WG_OVERHEAD : 0);
    if (fit < 68) {
      throw new TsnError('ERR_BAD_OPTION', `the underlay ${link.name} (${overlay.vtep}) has MTU ${link.mtu}: VXLAN adds ${overhead} bytes, which leaves less than IPv4's minimum of 68; raise the underlay's MTU`);
    }
    if (explicitMtu !== null && explicitMtu > fit) {
      throw new TsnError(
        'ERR_BAD_OPTION',
        `MTU ${explicitMtu} does not fit the underlay: VXLAN${vtepFamily(overlay.vtep) === 6 ? ' over IPv6' : ''} adds ${overhead} bytes and ${link.name} (${overlay.vtep}) has MTU ${link.mtu}; expected at most ${fit} (the default), or raise the underlay's MTU`,
      );
    }
    return { overlay, mtu: explicitMtu ?? fit };
  }

  private vtepKey(ov: OverlayRecord): string {
    return ov.encrypted ? EncryptedVteps.key(ov) : vtepWithPort(ov.vtep, ov.port);
  }

  private acquireVtep(ov: OverlayRecord): VtepSocketPort {
    const key = this.vtepKey(ov);
    const use = this.vteps.get(key);
    if (use) {
      use.users++;
      return use.port;
    }
    let underlay: Underlay;
    try {
      underlay = ov.encrypted ? this.encrypted.open(ov, this.underlayLink(ov.vtep)?.mtu ?? 1500) : this.openUnderlay(ov.vtep, ov.port);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EADDRINUSE' && ov.encrypted) {
        throw new TsnError('ERR_VTEP_IN_USE', `UDP port ${ov.encrypted.port} on ${ov.vtep} is in use (EADDRINUSE): another WireGuard endpoint holds it (wireguard-go, another daemon); choose another -o encrypted.port=N`);
      }
      if (code === 'EADDRINUSE') {
        throw new TsnError('ERR_VTEP_IN_USE', `UDP port ${ov.port} on ${ov.vtep} is in use (EADDRINUSE): another VTEP holds it (a kernel vxlan device with this dstport, another daemon); choose another -o port=N`);
      }
      if (code === 'EADDRNOTAVAIL') {
        const dad = vtepFamily(ov.vtep) === 6 ? ' (an IPv6 address still in duplicate address detection cannot be bound yet: wait a moment, or add it with nodad)' : '';
        throw new TsnError('ERR_BAD_OPTION', `VTEP address ${ov.vtep} is not an address of this host (EADDRNOTAVAIL)${dad}: give the underlay interface that address, or choose another -o vtep=IP`);
      }
      throw err;
    }
    const port = new VtepSocketPort(`vtep ${key}`, underlay);
    this.ctx.engine.addDetachedPort(port);
    this.vteps.set(key, { port, users: 1 });
    return port;
  }

  private releaseVtep(ov: OverlayRecord): void {
    const key = this.vtepKey(ov);
    const use = this.vteps.get(key);
    if (!use) return;
    if (--use.users > 0) return;
    this.vteps.delete(key);
    if (ov.encrypted) this.encrypted.forget(ov);
    this.ctx.engine.removePort(use.port); // closes the sockets
  }

  private vxlan(net: NetworkRuntime): VxlanPort {
    const vx = this.vxlanPorts.get(net.record.id);
    if (!vx) throw new TsnError('ERR_INTERNAL', `overlay network ${net.record.name} has no VXLAN port (it failed to start: see the daemon log)`);
    return vx;
  }

  createNetwork(net: NetworkRuntime, adopt: boolean): void {
    const rec = net.record;
    const ov = rec.overlay;
    if (!ov) throw new TsnError('ERR_STATE_CORRUPT', `overlay network ${rec.name} has no overlay settings in its record`);
    this.local.createNetwork(net, adopt); // the L2 domain (no gateway port: the record has none)
    let sock: VtepSocketPort | null = null;
    let vx: VxlanPort | null = null;
    try {
      sock = this.acquireVtep(ov);
      if (ov.encrypted) this.encrypted.update(rec);
      const link = this.underlayLink(ov.vtep);
      const subnet = net.ipam ? parseCidr(net.ipam.subnet) : null;
      vx = new VxlanPort(`vxlan${ov.vni}`, {
        vni: ov.vni,
        vtep: sock,
        peers: ov.peers.map((p) => vtepNumberOf(sock!.underlay, p)),
        learning: ov.learning,
        // Encrypted: the "underlay" VXLAN sees is the WireGuard tunnel, 60 bytes smaller than the link.
        underlayMtu: (link?.mtu ?? rec.options.mtu + overlayMtuOverhead(ov.vtep) + (ov.encrypted ? WG_OVERHEAD : 0)) - (ov.encrypted ? WG_OVERHEAD : 0),
        subnet: subnet ? { network: subnet.network, prefixLen: subnet.prefixLen } : undefined,
      });
      vx.label = `vxlan ${ov.vni} (${ov.peers.length} peer${ov.peers.length === 1 ? '' : 's'})`;
      if (net.ipam6) {
        const c6 = parseCidr6(net.ipam6.subnet);
        const prefix = new Uint8Array(16);
        parseIpv6(formatIpv6Address(c6.network), prefix, 0);
        vx.subnet6 = { prefix, prefixLen: c6.prefixLen };
      }
      // Before it can receive: an encrypted network takes frames from its own WireGuard peers only.
      if (ov.encrypted) vx.authenticatedSenders = new Set(this.encrypted.peerVteps(rec).map((v) => parseIpv4(v)));
      sock.attach(vx);
      this.ctx.engine.addPort(vx, net.domain!);
      const now = this.ctx.engine.clock.now();
      for (const s of ov.staticFdb) {
        const mac = parseMac(s.mac);
        net.domain!.fdb.addStatic(mac, vx, now, vtepNumberOf(sock.underlay, s.vtep));
        if (s.ip) vx.neighbors.addStatic(parseIpv4(s.ip), mac, now);
        if (s.ip6) vx.neighbors6.addStatic(s.ip6, mac, now);
      }
      this.vxlanPorts.set(rec.id, vx);
    } catch (err) {
      if (vx) {
        this.ctx.engine.removePort(vx);
        sock?.detach(vx);
      }
      if (sock) {
        if (ov.encrypted) this.encrypted.update(rec, true);
        this.releaseVtep(ov);
      }
      this.local.deleteNetwork(net);
      if (err instanceof Error && /VNI \d+ is used/.test(err.message)) {
        throw new TsnError('ERR_VNI_IN_USE', `VNI ${ov.vni} is used by another overlay network on VTEP ${this.vtepKey(ov)}: choose another -o vni=N`);
      }
      throw err;
    }
  }

  deleteNetwork(net: NetworkRuntime): void {
    const vx = this.vxlanPorts.get(net.record.id);
    if (vx) {
      this.ctx.engine.removePort(vx);
      this.vxlanPorts.delete(net.record.id);
      if (net.record.overlay?.encrypted) this.encrypted.update(net.record, true);
      if (net.record.overlay) this.releaseVtep(net.record.overlay);
    }
    this.local.deleteNetwork(net);
  }

  connect(net: NetworkRuntime, ep: EndpointRecord, adopt: boolean) {
    const port = this.local.connect(net, ep, adopt);
    try {
      // One TSO super-frame from the container = one UDP_SEGMENT message (<= 64 KB of datagrams): the
      // sender makes one send and the receiver one super-frame per super-frame, instead of a second,
      // tiny one for the last few segments.
      withRtnetlink(ep.sandboxPath, (nl) => nl.linkSet(nl.linkIndex(ep.ifname), { gsoMaxSegs: gsoSegmentsPerMessage(net.record.options.mtu) }));
    } catch (err) {
      this.ctx.log(`endpoint ${ep.id}: could not cap gso_max_segs (${(err as Error).message}); frames still go, in more datagram runs`);
    }
    const vx = this.vxlanPorts.get(net.record.id);
    if (vx && ep.ip) vx.neighbors.addStatic(parseIpv4(ep.ip), parseMac(ep.mac), this.ctx.engine.clock.now());
    if (vx) {
      const now = this.ctx.engine.clock.now();
      if (ep.ip6) vx.neighbors6.addStatic(ep.ip6, parseMac(ep.mac), now);
      // Its link-local address too (the kernel's EUI-64 of the MAC): no remote frame may claim it.
      vx.neighbors6.addStatic(linkLocalOf(ep.mac), parseMac(ep.mac), now);
    }
    return port;
  }

  disconnect(net: NetworkRuntime, ep: EndpointRuntime): void {
    const vx = this.vxlanPorts.get(net.record.id);
    if (vx && ep.record.ip) vx.neighbors.remove(parseIpv4(ep.record.ip), parseMac(ep.record.mac));
    if (vx) {
      if (ep.record.ip6) vx.neighbors6.remove(ep.record.ip6, parseMac(ep.record.mac));
      vx.neighbors6.remove(linkLocalOf(ep.record.mac), parseMac(ep.record.mac));
    }
    this.local.disconnect(net, ep);
  }

  /** `network inspect`: an `Overlay` section, with the underlay MTU read again and the effective MTU. */
  inspect(net: NetworkRuntime): Record<string, unknown> {
    if (net.record.overlay?.encrypted) return { Overlay: { ...this.overlaySection(net), Encryption: this.encrypted.describe(net.record) } };
    return { Overlay: this.overlaySection(net) };
  }

  private overlaySection(net: NetworkRuntime): Record<string, unknown> {
    const ov = net.record.overlay!;
    const vx = this.vxlanPorts.get(net.record.id);
    const link = this.underlayLink(ov.vtep);
    const tunnel = ov.encrypted ? WG_OVERHEAD : 0; // VXLAN rides the WireGuard tunnel: 60 bytes less
    if (vx && link && link.mtu - tunnel !== vx.underlayMtu) {
      this.ctx.log(`network ${net.record.name}: underlay ${link.name} MTU is now ${link.mtu} (was ${vx.underlayMtu + tunnel})`);
      vx.underlayMtu = link.mtu - tunnel;
    }
    const underlayMtu = link?.mtu ?? (vx ? vx.underlayMtu + tunnel : null);
    const fit = underlayMtu === null ? null : underlayMtu - overlayMtuOverhead(ov.vtep) - tunnel;
    const effective = fit === null ? net.record.options.mtu : Math.min(net.record.options.mtu, fit);
    const out: Record<string, unknown> = {
      VNI: ov.vni,
      VTEP: vtepWithPort(ov.vtep, ov.port),
      Peers: ov.peers,
      Learning: ov.learning,
      UnderlayInterface: link?.name ?? null,
      UnderlayMTU: underlayMtu,
      EffectiveMTU: effective,
      SourcePorts: vx ? [...vx.vtep.underlay.sourcePorts] : [],
      StaticFDB: ov.staticFdb.map((s) => ({ MacAddress: s.mac, VTEP: s.vtep, IPv4Address: s.ip, ...(s.ip6 ? { IPv6Address: s.ip6 } : {}) })),
      Neighbors: vx ? vx.neighbors.size : 0,
      ArpSuppressed: vx ? vx.neighbors.suppressed : 0,
      ...(net.ipam6 ? { Neighbors6: vx ? vx.neighbors6.size : 0, NdSuppressed: vx ? vx.neighbors6.suppressed : 0 } : {}),
      Attached: vx !== undefined,
    };
    if (fit !== null && net.record.options.mtu > fit) {
      out.Warning = `endpoints have MTU ${net.record.options.mtu} but the underlay (${link?.name ?? ov.vtep}, MTU ${underlayMtu}) carries at most ${fit}: larger packets are dropped and answered with ICMP frag-needed`;
    }
    return out;
  }

  /** `fdb add NETWORK MAC --vtep IP [--ip ADDR]`: a static entry for a MAC behind a remote VTEP. */
  fdbAdd(net: NetworkRuntime, macText: string, vtepText: string, ipText: string | null, ip6Text: string | null = null): { mac: string; vtep: string; ip: string | null; ip6?: string } {
    const ov = this.overlayOf(net);
    const mac = checkUserMac(macText);
    const vtep = checkVtepAddress(vtepText, '--vtep', vtepFamily(ov.vtep), ov.vtep);
    if (vtep === ov.vtep) throw new TsnError('ERR_BAD_OPTION', `--vtep ${vtep} is this host's own VTEP: a static remote entry names another host's VTEP address`);
    for (const e of net.endpoints.values()) {
      if (e.record.mac === mac) throw new TsnError('ERR_MAC_IN_USE', `MAC ${mac} is local endpoint ${e.record.id}'s on ${net.record.name}: a remote entry cannot take it`);
    }
    let ip: string | null = null;
    if (ipText !== null) {
      ip = formatIpv4(parseIpv4(ipText, '--ip'));
      if (net.ipam && !net.ipam.contains(ip)) throw new TsnError('ERR_IP_OUT_OF_SUBNET', `--ip ${ip} is not in ${net.record.name}'s subnet ${net.ipam.subnet}`);
      for (const e of net.endpoints.values()) {
        if (e.record.ip === ip) throw new TsnError('ERR_IP_IN_USE', `--ip ${ip} is local endpoint ${e.record.id}'s on ${net.record.name}`);
      }
    }
    let ip6: string | null = null;
    if (ip6Text !== null) {
      if (!net.ipam6) throw new TsnError('ERR_BAD_OPTION', `--ip6 ${ip6Text}: network ${net.record.name} has no IPv6 subnet (it was made without --ipv6)`);
      const v = parseIpv6Address(ip6Text, '--ip6');
      if (!cidr6Contains(parseCidr6(net.ipam6.subnet), v)) throw new TsnError('ERR_IP_OUT_OF_SUBNET', `--ip6 ${ip6Text} is not in ${net.record.name}'s IPv6 subnet ${net.ipam6.subnet}`);
      ip6 = formatIpv6Address(v);
      for (const e of net.endpoints.values()) {
        if (e.record.ip6 === ip6) throw new TsnError('ERR_IP_IN_USE', `--ip6 ${ip6} is local endpoint ${e.record.id}'s on ${net.record.name}`);
      }
    }
    const vx = this.vxlan(net);
    const now = this.ctx.engine.clock.now();
    const macNum = parseMac(mac);
    const old = ov.staticFdb.find((s) => s.mac === mac);
    if (old?.ip) vx.neighbors.remove(parseIpv4(old.ip), macNum);
    if (old?.ip6) vx.neighbors6.remove(old.ip6, macNum);
    net.domain!.fdb.addStatic(macNum, vx, now, vtepNumberOf(vx.vtep.underlay, vtep));
    if (ip) vx.neighbors.addStatic(parseIpv4(ip), macNum, now);
    if (ip6) vx.neighbors6.addStatic(ip6, macNum, now);
    const entry = { mac, vtep, ip, ...(ip6 ? { ip6 } : {}) };
    ov.staticFdb = [...ov.staticFdb.filter((s) => s.mac !== mac), entry];
    return entry;
  }

  /** `fdb del NETWORK MAC`: a static remote entry, or a learned one. Returns what was removed. */
  fdbDel(net: NetworkRuntime, macText: string): { mac: string; type: 'static' | 'learned' } {
    const ov = this.overlayOf(net);
    let macNum: number;
    try {
      macNum = parseMac(macText);
    } catch {
      throw new TsnError('ERR_BAD_MAC', `MAC address ${JSON.stringify(macText)} is malformed: expected six hex bytes like 02:42:0a:00:00:02`);
    }
    const mac = formatMac(macNum);
    const fdb = net.domain!.fdb;
    const s = ov.staticFdb.find((x) => x.mac === mac);
    const vx = this.vxlan(net);
    if (s) {
      fdb.remove(macNum);
      if (s.ip) vx.neighbors.remove(parseIpv4(s.ip), macNum);
      if (s.ip6) vx.neighbors6.remove(s.ip6, macNum);
      ov.staticFdb = ov.staticFdb.filter((x) => x !== s);
      return { mac, type: 'static' };
    }
    const e = fdb.get(macNum);
    if (e && !e.isStatic && e.port === vx) {
      fdb.remove(macNum);
      return { mac, type: 'learned' };
    }
    const known = ov.staticFdb.map((x) => x.mac);
    throw new TsnError(
      'ERR_NO_SUCH_FDB_ENTRY',
      `no remote entry for ${mac} on ${net.record.name}${e?.isStatic ? ' (it is a local endpoint\'s: disconnect the endpoint instead)' : ''}; static remote entries: ${known.length ? known.join(', ') : 'none'}`,
    );
  }

  private overlayOf(net: NetworkRuntime): OverlayRecord {
    if (net.record.driver !== 'overlay' || !net.record.overlay) {
      throw new TsnError('ERR_BAD_OPTION', `network ${net.record.name} uses the ${net.record.driver} driver: remote (--vtep) FDB entries are for overlay networks`);
    }
    return net.record.overlay;
  }

  /**
   * From the cluster store (src/cluster/cluster-agent.ts): a remote endpoint's MAC behind `vtep`, and
   * its IP -> MAC for ARP answered here. Not kept in the record: the store is its source of truth.
   */
  installRemote(net: NetworkRuntime, mac: string, vtep: string, ip: string | null): void {
    const vx = this.vxlan(net);
    const now = this.ctx.engine.clock.now();
    const macNum = parseMac(mac);
    net.domain!.fdb.addStatic(macNum, vx, now, vtepNumberOf(vx.vtep.underlay, vtep));
    if (ip) vx.neighbors.addStatic(parseIpv4(ip), macNum, now);
  }

  uninstallRemote(net: NetworkRuntime, mac: string, ip: string | null): void {
    const vx = this.vxlanPorts.get(net.record.id);
    if (!vx) return;
    const macNum = parseMac(mac);
    const e = net.domain!.fdb.get(macNum);
    if (e && e.port === vx) net.domain!.fdb.remove(macNum);
    if (ip) vx.neighbors.remove(parseIpv4(ip), macNum);
  }

  /** The VTEPs that get this network's broadcasts and unknown unicast (head-end replication). */
  setPeers(net: NetworkRuntime, peers: readonly string[]): void {
    const vx = this.vxlan(net);
    vx.setPeers(peers.map((p) => vtepNumberOf(vx.vtep.underlay, p)));
    vx.label = `vxlan ${vx.vni} (${peers.length} peer${peers.length === 1 ? '' : 's'})`;
  }

  peersOf(net: NetworkRuntime): string[] {
    const vx = this.vxlanPorts.get(net.record.id);
    return vx ? vx.peers.map((p) => vtepTextOf(vx.vtep.underlay, p)) : [];
  }

  /** `stats`: the VTEP sockets (NetworkDriver.stats). */
  stats(): Record<string, unknown> {
    return { vteps: this.vtepStats() };
  }

  /** Per VTEP socket: what it received, and what it dropped before a VNI was known (IPv6: its remote addresses, numbered or refused). */
  vtepStats() {
    return [...this.vteps.entries()].map(([key, use]) => {
      const remotes = use.port.underlay instanceof UdpUnderlay ? use.port.underlay.addressCounts() : null;
      return {
        vtep: key,
        networks: [...use.port.networks.keys()].sort((a, b) => a - b),
        sourcePorts: [...use.port.underlay.sourcePorts],
        ...(remotes ? { remoteVteps: remotes } : {}),
        ...use.port.counters.toJSON(),
      };
    });
  }
}
