/**
 * ClusterRequests: the API requests that change cluster networks, each one store transaction plus
 * the local change, in an order that leaves nothing half-made:
 *
 *   network create -d overlay  local create (validates everything) -> txn: names/<name>, vnis/<vni>
 *                              created only if absent, with networks/<id> -> on a lost race the local
 *                              network is removed and the error names the winner (exactly one wins)
 *   network rm                 refused while any host has endpoints on it (unless --force) -> txn
 *                              deleting the network's keys -> local remove; the others follow the watch
 *   connect                    claim an address (txn: ipam/<net>/<ip> created only if absent; the next
 *                              candidate on a lost race) -> local connect with that address -> put the
 *                              endpoint on the host's lease; any failure undoes the earlier steps
 *   disconnect                 delete the endpoint and its claim -> local disconnect
 *   fdb add / del              a static endpoint for a host outside the cluster (a kernel VXLAN peer):
 *                              no lease, its own VTEP; every host installs it
 *   cluster gc HOST            a dead host's address claims and static leftovers, refused while it lives
 *
 * Docker (src/docker/, a `local`-scope remote driver: each host's dockerd has a network of its own):
 *   docker network create      the first host creates the cluster network as above (viaDocker, and
 *     -o tsnet.name=NAME       docker/<net>/<host> in the same txn); a host where NAME exists in the
 *                              cluster already ties its Docker network to it (adoptForDocker), after
 *                              checking Docker asked for the same subnet, gateway, VNI and encryption
 *   IpamDriver.RequestAddress  an unbound claim (endpoint null) plus the local reservation; the
 *                              CreateEndpoint that follows binds it (connect with addressReserved);
 *                              ReleaseAddress deletes it only if it is still this host's and unbound
 *   docker network rm          unties this host's Docker network; a viaDocker network is removed
 *                              from the cluster when no host's Docker network and no endpoint uses it
 *
 * Requests on other networks go straight to the daemon. With the store away, every request here fails
 * before changing anything (ClusterAgent.requireStore).
 */
import { randomBytes } from 'node:crypto';
import type { ConnectRequest, CreateNetworkRequest } from '../control/daemon.js';
import { TsnError } from '../errors.js';
import { NetworkIpam, type IpamState } from '../control/ipam.js';
import { isIpv6Text } from '../control/ipam6.js';
import { checkUserMac } from '../control/mac-address.js';
import type { EndpointRecord, NetworkRecord } from '../control/model.js';
import type { NetworkRuntime } from '../control/drivers/network-driver.js';
import { FIRST_DEFAULT_VNI, OVERLAY_OPTION_KEYS, VNI_MAX } from '../control/overlay-options.js';
import { checkClusterVtep } from './cluster-options.js';
import { formatIpv4, parseIpv4 } from '../control/cidr.js';
import type { ClusterAgent } from './cluster-agent.js';
import { prefixEnd } from './etcd-client.js';
import type { ClusterEndpointRecord, ClusterNetworkRecord, DockerUse } from './cluster-view.js';

/** How many address candidates connect tries before giving up (each lost to a concurrent claim). */
const CLAIM_ATTEMPTS = 64;

export class ClusterRequests {
  constructor(private readonly agent: ClusterAgent) {}

  private get daemon() {
    return this.agent.daemon;
  }

  /** The local network of a name or id, if it is a cluster network. */
  clusterNetwork(ref: string): NetworkRuntime | null {
    const rt = this.daemon.networkRuntimes().find((n) => n.record.name === ref || n.record.id === ref || (ref.length >= 4 && n.record.id.startsWith(ref)));
    return rt && this.agent.isCluster(rt) ? rt : null;
  }

  async createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    if (req.driver !== 'overlay') return this.daemon.createNetwork(req);
    if (req.ipv6 || req.subnet6 !== undefined) {
      throw new TsnError('ERR_BAD_OPTION', '--ipv6 on a cluster overlay: its IPv6 addresses would need claims in the store, which are not built yet (a dual-stack overlay works with static -o peers on a daemon without --cluster-store, one IPv6 --ip-range per host)');
    }
    const a = this.agent;
    const opts: Record<string, string> = {};
    let vniText: string | undefined;
    for (const [k, v] of Object.entries(req.options ?? {})) {
      const field = OVERLAY_OPTION_KEYS[k];
      if (field === 'peers') {
        throw new TsnError('ERR_BAD_OPTION', `-o ${k}=${v}: with --cluster-store the peers of an overlay network are the live hosts with endpoints on it, found through the store; drop -o peers (static peers are for daemons without --cluster-store)`);
      }
      if (k === 'encrypted.peers') {
        throw new TsnError('ERR_BAD_OPTION', `-o ${k}=${v}: with --cluster-store the peers' WireGuard keys come from the store (each host publishes its own); drop -o encrypted.peers`);
      }
      if (field === 'vtep' && v !== a.vtep) {
        throw new TsnError('ERR_BAD_OPTION', `-o ${k}=${v}: with --cluster-store each host's VTEP is its --advertise-addr (${a.vtep} here); drop -o vtep`);
      }
      if (field === 'vni') vniText = v;
      else if (field !== 'vtep') opts[k] = v;
    }
    a.requireStore();
    if (a.view.names.has(req.name)) {
      if (req.docker) return this.adoptForDocker(req, vniText, opts);
      throw new TsnError('ERR_NETWORK_EXISTS', `network ${req.name} exists in the cluster already (id ${a.view.names.get(req.name)})`);
    }
    let vni: number;
    if (vniText !== undefined) {
      if (!/^\d{1,8}$/.test(vniText) || Number(vniText) < 1 || Number(vniText) > VNI_MAX) throw new TsnError('ERR_BAD_OPTION', `-o vni=${vniText}: expected a VXLAN network identifier 1..${VNI_MAX}`);
      vni = Number(vniText);
    } else {
      const used = new Set((await a.client.rangePrefix(a.keys.vnis)).kvs.map((kv) => Number(kv.key.slice(a.keys.vnis.length))));
      vni = FIRST_DEFAULT_VNI;
      while (used.has(vni)) vni++;
    }
    const id = randomBytes(6).toString('hex');
    a.pending.add(req.name);
    try {
      const rec = this.daemon.createNetwork({
        ...req,
        id,
        options: { ...opts, vni: String(vni), vtep: a.vtep, port: opts.port ?? String(a.port), learning: opts.learning ?? 'false' },
      });
      const ipam = rec.ipam as IpamState;
      const net: ClusterNetworkRecord = {
        id,
        name: rec.name,
        vni,
        port: rec.overlay!.port,
        subnet: ipam.subnet,
        gateway: ipam.gateway,
        ...(ipam.ipRange ? { ipRange: ipam.ipRange } : {}),
        ...(ipam.auxAddresses ? { auxAddresses: ipam.auxAddresses } : {}),
        mtu: rec.options.mtu,
        learning: rec.overlay!.learning,
        created: rec.created,
        createdBy: a.hostId,
        ...(rec.overlay!.encrypted ? { encrypted: { port: rec.overlay!.encrypted.port } } : {}),
        ...(req.docker ? { viaDocker: true } : {}),
      };
      const dockerUse: DockerUse | null = req.docker ? { networkId: req.docker.networkId } : null;
      const nameKey = a.keys.name(rec.name);
      const vniKey = a.keys.vni(vni);
      let t;
      try {
        t = await a.client.txn(
          [
            { key: nameKey, target: 'CREATE', createRevision: 0 },
            { key: vniKey, target: 'CREATE', createRevision: 0 },
          ],
          [
            { put: { key: a.keys.network(id), value: JSON.stringify(net) } },
            { put: { key: nameKey, value: id } },
            { put: { key: vniKey, value: id } },
            ...(dockerUse ? [{ put: { key: a.keys.docker(id, a.hostId), value: JSON.stringify(dockerUse) } }] : []),
          ],
          [{ range: { key: nameKey } }, { range: { key: vniKey } }],
        );
      } catch (err) {
        this.daemon.removeNetwork(rec.name, true);
        throw err;
      }
      if (!t.succeeded) {
        this.daemon.removeNetwork(rec.name, true);
        const byName = t.ranges[0]?.[0]?.value;
        if (byName) throw new TsnError('ERR_NETWORK_EXISTS', `network ${rec.name} exists in the cluster already (id ${byName}): another host created it first`);
        throw new TsnError('ERR_VNI_IN_USE', `VNI ${vni} is used by cluster network ${t.ranges[1]?.[0]?.value ?? '?'}: choose another -o vni=N, or omit it to get a free one`);
      }
      a.noteOwnChange(id, t.revision);
      a.adopt(id);
      a.log(`cluster: network ${rec.name} (${id}) published: VNI ${vni}, subnet ${ipam.subnet}`);
      return rec;
    } finally {
      a.pending.delete(req.name);
      a.scheduleReconcile();
    }
  }

  /**
   * `docker network create -o tsnet.name=NAME` on a host where NAME is a cluster network already
   * (another host's Docker, or the CLI, made it): this host's Docker network becomes that network
   * here, if Docker asked for what it is. The local network exists: the agent made it from the store.
   */
  private async adoptForDocker(req: CreateNetworkRequest & { docker?: { networkId: string } }, vniText: string | undefined, opts: Record<string, string>): Promise<NetworkRecord> {
    const a = this.agent;
    const id = a.view.names.get(req.name)!;
    const n = a.view.networks.get(id)?.value;
    const rt = this.daemon.networkRuntimes().find((x) => x.record.id === id);
    if (!n || !rt) throw new TsnError('ERR_NETWORK_EXISTS', `network ${req.name} exists in the cluster (id ${id}) but is not made on this host yet${a.createFailure(id) ? `: ${a.createFailure(id)}` : ''}; try again, or see the daemon's log`);
    if (rt.record.docker) throw new TsnError('ERR_NETWORK_EXISTS', `network ${req.name} is Docker network ${rt.record.docker.networkId.slice(0, 12)} on this host already: use that one`);
    const from = `cluster network ${req.name} (made on host ${n.createdBy})`;
    const mismatch = (what: string, asked: string, has: string) =>
      new TsnError('ERR_BAD_OPTION', `${what} ${asked}: ${from} has ${has}; give the same on every host (or leave it out where it may be left out)`);
    if (req.subnet !== undefined && req.subnet !== n.subnet) throw mismatch('--subnet', req.subnet, `subnet ${n.subnet}`);
    if (req.gateway !== undefined && req.gateway !== n.gateway) throw mismatch('--gateway', req.gateway, `gateway ${n.gateway}`);
    if (req.ipRange !== undefined && req.ipRange !== (n.ipRange ?? null)) throw mismatch('--ip-range', req.ipRange, n.ipRange ? `ip-range ${n.ipRange}` : 'no ip-range');
    if (vniText !== undefined && Number(vniText) !== n.vni) throw mismatch('-o vni', vniText, `VNI ${n.vni}`);
    const encrypted = opts.encrypted === 'true' || opts.encrypted === '1';
    if (opts.encrypted !== undefined && encrypted !== !!n.encrypted) throw mismatch('-o encrypted', opts.encrypted, n.encrypted ? 'encryption on' : 'encryption off');
    const use: DockerUse = { networkId: req.docker!.networkId };
    // Only while the network is still in the store (its record's create revision is not 0).
    const netKey = a.keys.network(id);
    const t = await a.client.txn([{ key: netKey, target: 'CREATE', createRevision: 0, result: 'GREATER' }], [{ put: { key: a.keys.docker(id, a.hostId), value: JSON.stringify(use) } }]);
    if (!t.succeeded) throw new TsnError('ERR_NO_SUCH_NETWORK', `cluster network ${req.name} was removed from the store meanwhile: create it again`);
    a.log(`cluster: Docker network ${use.networkId.slice(0, 12)} is cluster network ${req.name} (${id}) on this host`);
    return this.daemon.setDockerNetwork(rt.record.name, use);
  }

  /** Docker's DeleteNetwork: untie this host's Docker network; a viaDocker network goes with the last one. */
  async removeDockerNetwork(ref: string): Promise<void> {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.removeNetwork(ref, true);
    const a = this.agent;
    a.requireStore();
    const id = rt.record.id;
    await a.client.delete(a.keys.docker(id, a.hostId));
    this.daemon.setDockerNetwork(rt.record.name, null);
    const [users, eps] = await Promise.all([a.client.rangePrefix(a.keys.dockers(id)), a.client.rangePrefix(a.keys.endpoints(id))]);
    const viaDocker = a.view.networks.get(id)?.value.viaDocker === true;
    if (!viaDocker || users.kvs.length || eps.kvs.length) {
      const why = !viaDocker ? 'it was not made by Docker' : `${users.kvs.length} other host(s) have a Docker network for it and ${eps.kvs.length} endpoint(s) are on it`;
      a.log(`cluster: Docker network for ${rt.record.name} removed on this host; the cluster network stays (${why})`);
      return;
    }
    try {
      await this.removeNetwork(rt.record.name, false);
      a.log(`cluster: network ${rt.record.name} (${id}) removed from the cluster with the last Docker network for it`);
    } catch (err) {
      a.log(`cluster: network ${rt.record.name} stays in the cluster: ${(err as Error).message}`);
    }
  }

  async removeNetwork(ref: string, force: boolean): Promise<void> {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.removeNetwork(ref, force);
    const a = this.agent;
    a.requireStore();
    const id = rt.record.id;
    if (!force) {
      const users = (await a.client.rangePrefix(a.keys.dockers(id))).kvs.map((kv) => kv.key.slice(a.keys.dockers(id).length));
      if (users.length) throw new TsnError('ERR_NETWORK_IN_USE', `network ${rt.record.name} is a Docker network on ${users.sort().join(', ')}: \`docker network rm\` it there, or use --force`);
    }
    const eps = (await a.client.rangePrefix(a.keys.endpoints(id))).kvs;
    if (eps.length && !force) {
      const byHost = new Map<string, number>();
      for (const kv of eps) {
        const h = (JSON.parse(kv.value) as ClusterEndpointRecord).host ?? 'static';
        byHost.set(h, (byHost.get(h) ?? 0) + 1);
      }
      throw new TsnError('ERR_NETWORK_IN_USE', `network ${rt.record.name} has ${eps.length} endpoint(s) in the cluster (${[...byHost].map(([h, n]) => `${n} on ${h}`).join(', ')}); disconnect them or use --force`);
    }
    a.pending.add(rt.record.name);
    try {
      const vni = rt.record.overlay!.vni;
      const t = await a.client.txn(
        [],
        [
          { delete: { key: a.keys.network(id) } },
          { delete: { key: a.keys.name(rt.record.name) } },
          { delete: { key: a.keys.vni(vni) } },
          { delete: { key: a.keys.addresses(id), rangeEnd: prefixEnd(a.keys.addresses(id)) } },
          { delete: { key: a.keys.endpoints(id), rangeEnd: prefixEnd(a.keys.endpoints(id)) } },
          { delete: { key: a.keys.dockers(id), rangeEnd: prefixEnd(a.keys.dockers(id)) } },
        ],
      );
      a.noteOwnChange(id, t.revision);
      this.daemon.removeNetwork(rt.record.name, true);
      a.forget(id);
    } finally {
      a.pending.delete(rt.record.name);
      a.scheduleReconcile();
    }
  }

  /** The first address the network's IPAM would hand out, with every address the store holds taken. */
  private candidate(rt: NetworkRuntime, taken: Iterable<string>): string {
    const ipam = NetworkIpam.fromJSON(rt.ipam!.toJSON());
    for (const ip of taken) {
      try {
        ipam.allocate(ip);
      } catch {
        // reserved or outside the subnet: not a candidate anyway
      }
    }
    return ipam.allocate();
  }

  /** This host's claim of an address no endpoint holds yet (a connect in flight, or an IPAM reservation). */
  private unboundClaim(): string {
    return JSON.stringify({ host: this.agent.hostId, endpoint: null });
  }

  /**
   * Claim an address in the store for this host: the requested one, or the first free one. `reserved`:
   * the address was reserved for this endpoint already (reserveAddress), so this host's own unbound
   * claim of it is the claim.
   */
  private async claim(rt: NetworkRuntime, requested: string | undefined, reserved = false): Promise<{ ip: string; key: string }> {
    const a = this.agent;
    const claim = this.unboundClaim();
    if (requested !== undefined) {
      const ip = formatIpv4(parseIpv4(requested, '--ip'));
      if (!rt.ipam!.contains(ip)) throw new TsnError('ERR_IP_OUT_OF_SUBNET', `--ip ${ip} is not in ${rt.record.name}'s subnet ${rt.ipam!.subnet}`);
      const why = rt.ipam!.reservedReason(ip);
      if (why) throw new TsnError('ERR_IP_IN_USE', `requested IP ${ip} is not available: it is ${why}`);
      const key = a.keys.address(rt.record.id, ip);
      const t = await a.client.txn([{ key, target: 'CREATE', createRevision: 0 }], [{ put: { key, value: claim } }], [{ range: { key } }]);
      if (!t.succeeded && reserved && t.ranges[0]?.[0]?.value === claim) return { ip, key };
      if (!t.succeeded) {
        const held = JSON.parse(t.ranges[0]?.[0]?.value ?? '{}') as { host?: string; endpoint?: string | null };
        throw new TsnError('ERR_IP_IN_USE', `requested IP ${ip} is claimed in the cluster by host ${held.host ?? '?'}${held.endpoint ? ` (endpoint ${held.endpoint})` : ''}; choose another address, or omit --ip`);
      }
      return { ip, key };
    }
    const held = new Set((await a.client.rangePrefix(a.keys.addresses(rt.record.id))).kvs.map((kv) => kv.key.slice(a.keys.addresses(rt.record.id).length)));
    for (let i = 0; i < CLAIM_ATTEMPTS; i++) {
      const ip = this.candidate(rt, held); // ERR_POOL_EXHAUSTED when the cluster has used them all
      const key = a.keys.address(rt.record.id, ip);
      const t = await a.client.txn([{ key, target: 'CREATE', createRevision: 0 }], [{ put: { key, value: claim } }]);
      if (t.succeeded) return { ip, key };
      held.add(ip); // another host took it meanwhile: the next one
    }
    throw new TsnError('ERR_IP_IN_USE', `no address of ${rt.record.name} could be claimed in ${CLAIM_ATTEMPTS} attempts (other hosts took each candidate first); try again`);
  }

  async connect(ref: string, req: ConnectRequest): Promise<EndpointRecord> {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.connect(ref, req);
    const a = this.agent;
    a.requireStore();
    if (req.mac !== undefined) checkUserMac(req.mac);
    const { ip, key } = await this.claim(rt, req.ip, req.addressReserved === true && req.ip !== undefined);
    const release = () => a.client.delete(key).catch((err) => a.log(`cluster: could not release claim ${ip}: ${(err as Error).message}`));
    let ep: EndpointRecord;
    try {
      ep = this.daemon.connect(rt.record.name, { ...req, ip });
    } catch (err) {
      await release();
      throw err;
    }
    try {
      const rec: ClusterEndpointRecord = { host: a.hostId, mac: ep.mac, ip: ep.ip };
      await a.client.txn(
        [],
        [
          { put: { key, value: JSON.stringify({ host: a.hostId, endpoint: ep.id }) } },
          { put: { key: a.keys.endpoint(rt.record.id, ep.id), value: JSON.stringify(rec), lease: a.lease! } },
        ],
      );
    } catch (err) {
      this.daemon.disconnect(rt.record.name, ep.id);
      await release();
      throw err;
    }
    return ep;
  }

  /** IpamDriver.RequestAddress on a cluster network: an unbound claim in the store, then the local reservation. */
  async reserveAddress(ref: string, want?: string, family: 4 | 6 = 4): Promise<{ ip: string; prefixLen: number }> {
    const rt = this.clusterNetwork(ref);
    // A cluster network has no IPv6 (refused at create): the daemon refuses an IPv6 reservation by name.
    if (!rt || family === 6) return this.daemon.reserveAddress(ref, want, family);
    const a = this.agent;
    a.requireStore();
    const { ip, key } = await this.claim(rt, want);
    try {
      return this.daemon.reserveAddress(rt.record.name, ip);
    } catch (err) {
      await a.client.txn([{ key, target: 'VALUE', value: this.unboundClaim() }], [{ delete: { key } }]).catch(() => undefined);
      throw err;
    }
  }

  /** IpamDriver.ReleaseAddress: the claim goes only if it is still this host's and no endpoint took it. */
  async releaseAddress(ref: string, ip: string): Promise<void> {
    const rt = this.clusterNetwork(ref);
    if (!rt || isIpv6Text(ip)) return void this.daemon.releaseAddress(ref, ip); // IPv6: never claimed in the store
    if ([...rt.endpoints.values()].some((e) => e.record.ip === ip)) return; // its disconnect releases it
    const a = this.agent;
    a.requireStore();
    const key = a.keys.address(rt.record.id, ip);
    await a.client.txn([{ key, target: 'VALUE', value: this.unboundClaim() }], [{ delete: { key } }]);
    this.daemon.releaseAddress(rt.record.name, ip);
  }

  async disconnect(ref: string, endpointRef: string): Promise<EndpointRecord> {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.disconnect(ref, endpointRef);
    const a = this.agent;
    a.requireStore();
    const e = [...rt.endpoints.values()].find((x) => x.record.id === endpointRef || (endpointRef.length >= 4 && x.record.id.startsWith(endpointRef)) || (x.record.sandbox.kind === 'netns' && x.record.sandbox.name === endpointRef) || x.record.ifname === endpointRef);
    if (!e) return this.daemon.disconnect(rt.record.name, endpointRef); // its not-found error, with the list
    const ops = [{ delete: { key: a.keys.endpoint(rt.record.id, e.record.id) } }, ...(e.record.ip ? [{ delete: { key: a.keys.address(rt.record.id, e.record.ip) } }] : [])];
    await a.client.txn([], ops);
    return this.daemon.disconnect(rt.record.name, e.record.id);
  }

  /** `fdb add` on a cluster network: a static endpoint of a host outside the cluster, for every host. */
  async fdbAdd(ref: string, req: { mac: string; vtep: string; ip?: string; ip6?: string }) {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.fdbAdd(ref, req);
    if (req.ip6 !== undefined) throw new TsnError('ERR_BAD_OPTION', `--ip6 ${req.ip6}: cluster overlays are IPv4 only so far`);
    const a = this.agent;
    a.requireStore();
    const mac = checkUserMac(req.mac);
    const vtep = checkClusterVtep(req.vtep, '--vtep');
    if ([...a.view.hosts.values()].some((h) => h.value.vtep === vtep)) {
      throw new TsnError('ERR_BAD_OPTION', `--vtep ${vtep} is a cluster host's VTEP: its endpoints come from the store; a static entry is for a host outside the cluster`);
    }
    let ip: string | null = null;
    if (req.ip !== undefined) {
      ip = formatIpv4(parseIpv4(req.ip, '--ip'));
      if (!rt.ipam!.contains(ip)) throw new TsnError('ERR_IP_OUT_OF_SUBNET', `--ip ${ip} is not in ${rt.record.name}'s subnet ${rt.ipam!.subnet}`);
    }
    const epId = `static-${mac.replace(/:/g, '')}`;
    const rec: ClusterEndpointRecord = { host: null, mac, ip, vtep };
    const puts = [{ put: { key: a.keys.endpoint(rt.record.id, epId), value: JSON.stringify(rec) } }];
    if (ip) {
      const key = a.keys.address(rt.record.id, ip);
      const t = await a.client.txn([{ key, target: 'CREATE', createRevision: 0 }], [{ put: { key, value: JSON.stringify({ host: `static:${vtep}`, endpoint: epId }) } }, ...puts], [{ range: { key } }]);
      if (!t.succeeded) throw new TsnError('ERR_IP_IN_USE', `--ip ${ip} is claimed in the cluster already: ${t.ranges[0]?.[0]?.value}`);
    } else {
      await a.client.txn([], puts);
    }
    a.log(`cluster: static endpoint ${mac}${ip ? ` ${ip}` : ''} behind ${vtep} published on ${rt.record.name}`);
    return { network: rt.record.name, mac, vtep, ip };
  }

  async fdbDel(ref: string, macText: string) {
    const rt = this.clusterNetwork(ref);
    if (!rt) return this.daemon.fdbDel(ref, macText);
    const a = this.agent;
    a.requireStore();
    const mac = checkUserMac(macText);
    const epId = `static-${mac.replace(/:/g, '')}`;
    const e = a.view.endpoints.get(rt.record.id)?.get(epId)?.value;
    if (!e) throw new TsnError('ERR_NO_SUCH_FDB_ENTRY', `no static cluster entry for ${mac} on ${rt.record.name} (entries of cluster hosts go with their endpoints: disconnect them)`);
    await a.client.txn([], [{ delete: { key: a.keys.endpoint(rt.record.id, epId) } }, ...(e.ip ? [{ delete: { key: a.keys.address(rt.record.id, e.ip) } }] : [])]);
    return { network: rt.record.name, mac, type: 'static' as const };
  }

  /** `cluster gc HOST`: release a dead host's address claims (and any endpoint keys it left). */
  async gc(host: string): Promise<{ host: string; addresses: string[]; endpoints: number }> {
    const a = this.agent;
    a.requireStore();
    if (host === a.hostId) throw new TsnError('ERR_HOST_ALIVE', `host ${host} is this daemon: disconnect its endpoints instead`);
    const hostKey = await a.client.range(a.keys.host(host));
    if (hostKey.kvs.length) throw new TsnError('ERR_HOST_ALIVE', `host ${host} is alive (its lease is held): gc is for hosts that are gone; stop its daemon first, or disconnect its endpoints there`);
    const all = await a.client.rangePrefix(`${a.keys.root}ipam/`);
    const addresses: string[] = [];
    const ops = [];
    for (const kv of all.kvs) {
      try {
        if ((JSON.parse(kv.value) as { host?: string }).host !== host) continue;
      } catch {
        continue;
      }
      ops.push({ delete: { key: kv.key } });
      addresses.push(kv.key.slice(`${a.keys.root}ipam/`.length));
    }
    // Its Docker networks' ties (docker/<net>/<host>): a viaDocker network can go once the others' do.
    for (const kv of (await a.client.rangePrefix(`${a.keys.root}docker/`)).kvs) {
      if (a.keys.parse(kv.key)?.b === host) ops.push({ delete: { key: kv.key } });
    }
    const eps = await a.client.rangePrefix(`${a.keys.root}endpoints/`);
    let endpoints = 0;
    for (const kv of eps.kvs) {
      try {
        if ((JSON.parse(kv.value) as ClusterEndpointRecord).host !== host) continue;
      } catch {
        continue;
      }
      ops.push({ delete: { key: kv.key } });
      endpoints++;
    }
    // etcd caps the operations of one txn (128 by default): delete in chunks.
    for (let i = 0; i < ops.length; i += 100) await a.client.txn([], ops.slice(i, i + 100));
    if (addresses.length === 0 && endpoints === 0) {
      const known = new Set<string>();
      for (const m of a.view.addresses.values()) for (const c of m.values()) known.add(c.host);
      throw new TsnError('ERR_NO_SUCH_HOST', `host ${JSON.stringify(host)} holds nothing in the cluster store; hosts holding addresses: ${[...known].sort().join(', ') || 'none'}`);
    }
    a.log(`cluster: gc ${host}: released ${addresses.length} address(es), ${endpoints} endpoint key(s)`);
    return { host, addresses, endpoints };
  }
}

