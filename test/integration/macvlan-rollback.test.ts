/**
 * The macvlan driver's failure paths, driven in process (so a step can be made to fail): a test
 * namespace plays the host, with a parent `p0` (one end of a veth pair); a sandbox namespace gets the endpoint's TAP.
 * A connect that fails at any step before its last (commitPersistent) leaves no device, no membership
 * and no shim route, and throws the step's own error; a disconnect whose uplink cannot be synced
 * still completes (logged and counted).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MacvlanDriver } from '../../src/control/drivers/macvlan-driver.js';
import type { NetworkRuntime } from '../../src/control/drivers/network-driver.js';
import type { EndpointRecord, NetworkRecord } from '../../src/control/model.js';
import { PacketPort } from '../../src/dataplane/ports/packet-port.js';
import { TapPort } from '../../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { addNetns, delNetns, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping macvlan driver rollback tests: ${skip}`);

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
  cleanup = [];
});

const SHIM_IP = '10.93.0.254';

async function setup(opts: { shim?: boolean } = {}) {
  const tag = uniqueTag();
  const hostNs = `tsnt-${tag}-mh`;
  const sandboxNs = `tsnt-${tag}-ms`;
  cleanup.push(() => delNetns(hostNs), () => delNetns(sandboxNs));
  await addNetns(hostNs);
  await addNetns(sandboxNs);
  await sh('ip', ['-n', hostNs, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'lan0']);
  await sh('ip', ['-n', hostNs, 'link', 'set', 'dev', 'p0', 'up']);
  await sh('ip', ['-n', hostNs, 'link', 'set', 'dev', 'lan0', 'up']);
  const engine = new SwitchEngine({ poolSlots: 64 });
  const logs: string[] = [];
  const driver = new MacvlanDriver({ engine, hostNetns: `/var/run/netns/${hostNs}`, log: (m) => logs.push(m) }, 'macvlan');
  const shimName = `tsm${tag}`.slice(0, 15);
  const record: NetworkRecord = {
    id: `net${tag}`,
    name: 'mv',
    driver: 'macvlan',
    created: new Date(0).toISOString(),
    options: { mtu: 1500, icc: true, internal: true, bridgeName: null, parent: 'p0', mode: 'bridge', ...(opts.shim ? { hostShim: SHIM_IP, hostShimName: shimName } : {}) },
    ipam: null,
    gateway: null,
  };
  const rt: NetworkRuntime = { record, ipam: null, domain: null, gatewayPort: null, endpoints: new Map() };
  const ep: EndpointRecord = {
    id: `ep${tag}`,
    networkId: record.id,
    sandbox: { kind: 'netns', name: sandboxNs },
    sandboxPath: `/var/run/netns/${sandboxNs}`,
    ifname: 'eth0',
    mac: '02:42:0a:5d:00:02',
    ip: '10.93.0.2',
    prefixLen: 24,
    defaultRoute: false,
    created: new Date(0).toISOString(),
  };
  cleanup.push(() => {
    if (rt.domain) driver.deleteNetwork(rt);
    engine.close();
  });
  const parent = () => driver.inspect(rt).Parent as { MembershipMacs: string[]; SyncFailures: number };
  const linkIn = (ns: string, ifname: string) => sh('ip', ['-n', ns, '-d', 'link', 'show', 'dev', ifname]).catch(() => null);
  const shimRoutes = async () => (await sh('ip', ['-n', hostNs, 'route', 'show'])).split('\n').filter((l) => l.includes(shimName));
  return { hostNs, sandboxNs, engine, driver, rt, ep, logs, shimName, parent, linkIn, shimRoutes };
}

/** Make the uplink's next filter change fail (as SO_ATTACH_FILTER did with ENOMEM before the fallback). */
function failNextFilter(): void {
  vi.spyOn(PacketPort.prototype, 'setFilter').mockImplementationOnce(() => {
    throw Object.assign(new Error('injected: setsockopt SO_ATTACH_FILTER failed'), { code: 'EINJECTED' });
  });
}

describe.skipIf(skip !== null)('macvlan driver rollback', () => {
  it('a connect whose parent membership fails throws that error and leaves no device behind', async () => {
    const { driver, rt, ep, sandboxNs, parent, linkIn } = await setup();
    driver.createNetwork(rt, false);
    failNextFilter();
    expect(() => driver.connect(rt, ep, false)).toThrow(expect.objectContaining({ code: 'EINJECTED' }));
    expect(await linkIn(sandboxNs, 'eth0')).toBeNull();
    expect(parent().MembershipMacs).toEqual([]);
    // Nothing left in the way: the same endpoint connects now, its device persistent (the last step).
    const port = driver.connect(rt, ep, false);
    expect(port.isOpen).toBe(true);
    expect(await linkIn(sandboxNs, 'eth0')).toMatch(/persist on/);
    expect(parent().MembershipMacs).toEqual([ep.mac]);
  });

  it('a connect whose last step (persistence) fails undoes the membership, the host shim route and the device', async () => {
    const { driver, rt, ep, sandboxNs, shimName, hostNs, parent, linkIn, shimRoutes } = await setup({ shim: true });
    driver.createNetwork(rt, false);
    expect(await linkIn(hostNs, shimName)).toMatch(/persist on/);
    expect(parent().MembershipMacs).toHaveLength(1); // the shim's
    const persist = vi.spyOn(TapPort.prototype, 'setPersist').mockImplementationOnce(() => {
      throw Object.assign(new Error('injected: ioctl TUNSETPERSIST failed'), { code: 'EINJECTED' });
    });
    expect(() => driver.connect(rt, ep, false)).toThrow(expect.objectContaining({ code: 'EINJECTED' }));
    expect(persist).toHaveBeenCalledWith(true);
    expect(await linkIn(sandboxNs, 'eth0')).toBeNull();
    expect(parent().MembershipMacs).toHaveLength(1);
    expect(parent().MembershipMacs).not.toContain(ep.mac);
    expect(await shimRoutes()).toEqual([]);
    expect(rt.domain!.ports).toHaveLength(2); // the uplink and the shim
  });

  it('a host shim whose membership fails leaves no shim device and the network is not made', async () => {
    const { driver, rt, hostNs, shimName, linkIn } = await setup({ shim: true });
    // The first filter is the network's own (no members yet); the second comes with the shim's membership.
    const real = PacketPort.prototype.setFilter;
    let calls = 0;
    vi.spyOn(PacketPort.prototype, 'setFilter').mockImplementation(function (this: PacketPort, macs, groups) {
      if (++calls === 2) throw Object.assign(new Error('injected: setsockopt SO_ATTACH_FILTER failed'), { code: 'EINJECTED' });
      return real.call(this, macs, groups);
    });
    expect(() => driver.createNetwork(rt, false)).toThrow(expect.objectContaining({ code: 'EINJECTED' }));
    expect(await linkIn(hostNs, shimName)).toBeNull();
    expect(rt.domain).toBeNull();
  });

  it('a disconnect whose uplink cannot be synced still completes: the port and device go, the failure is logged and counted', async () => {
    const { driver, rt, ep, sandboxNs, parent, linkIn, logs } = await setup();
    driver.createNetwork(rt, false);
    const port = driver.connect(rt, ep, false);
    failNextFilter();
    const epRt = { record: ep, port: port as TapPort | null };
    expect(() => driver.disconnect(rt, epRt)).not.toThrow();
    expect(epRt.port).toBeNull();
    expect(port.isOpen).toBe(false);
    expect(await linkIn(sandboxNs, 'eth0')).toBeNull();
    expect(parent().SyncFailures).toBe(1);
    expect(logs.join('\n')).toMatch(/memberships and filter could not be updated.*injected/);
  });
});
