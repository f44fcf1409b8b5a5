/**
 * Netns and link plumbing through rtnetlink (native/src/netlink.c, netns.c) and TAPs made directly
 * inside a namespace (tapOpen({ netns })). Everything happens in namespaces the tests create; the
 * host namespace is only looked at (`ip -j link show`), never changed. `ip -j` output is the
 * independent cross-check.
 */
import { readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Rtnetlink, withRtnetlink } from '../../src/control/rtnetlink.js';
import { native } from '../../src/native/addon.js';
import { addNetns, delNetns, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping rtnetlink integration tests: ${skip}`);

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  const fns = cleanup.reverse();
  cleanup = [];
  for (const f of fns) {
    try {
      await f();
    } catch {
      /* keep cleaning up */
    }
  }
});

/** A fresh namespace with lo up, deleted after the test; returns its name and path. */
async function netns(suffix = ''): Promise<{ ns: string; path: string }> {
  const ns = `tsnl-${uniqueTag()}${suffix}`;
  cleanup.push(() => delNetns(ns));
  await addNetns(ns);
  return { ns, path: `/var/run/netns/${ns}` };
}

/** A socket in `path`, closed after the test. */
function nlIn(path: string): Rtnetlink {
  const nl = Rtnetlink.open(path);
  cleanup.push(() => nl.close());
  return nl;
}

/** A TAP made inside the namespace at `path`, its descriptor closed after the test. */
function tapIn(path: string, name: string, persist = false): { fd: number; name: string } {
  const tap = native().tapOpen(name, { netns: path, persist });
  cleanup.push(() => {
    if (persist) native().tapSetPersist(tap.fd, false);
    native().closeFd(tap.fd);
  });
  return tap;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  address?: string;
  mtu: number;
  flags: string[];
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; broadcast?: string }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
}

async function ipLinks(ns?: string): Promise<IpLink[]> {
  return JSON.parse(await sh('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show'])) as IpLink[];
}

function threadNetns(): string {
  return readlinkSync('/proc/thread-self/ns/net');
}

/** Run fn, expect it to throw, return the error. */
function thrown(fn: () => unknown): Error & { code?: string; errno?: number; syscall?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, got none');
}

describe.skipIf(skip !== null)('rtnetlink and TAPs in network namespaces', () => {
  it('makes a TAP inside a namespace, not in the host, and stays in its own namespace', async () => {
    const { ns, path } = await netns();
    const before = threadNetns();
    const name = `tn${uniqueTag()}`;
    const tap = tapIn(path, name);
    expect(tap.name).toBe(name);
    expect(threadNetns()).toBe(before);

    expect((await ipLinks(ns)).map((l) => l.ifname)).toContain(name);
    expect((await ipLinks()).map((l) => l.ifname)).not.toContain(name);

    const nl = nlIn(path);
    const idx = nl.linkIndex(name);
    expect(idx).toBeGreaterThan(0);
    const info = nl.linkInfo(idx);
    expect(info).toMatchObject({ index: idx, name, up: false, kind: 'tun' });
    expect(info.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // The same name is not known in our own namespace.
    withRtnetlink(undefined, (host) => expect(host.linkIndex(name)).toBe(0));
    expect(threadNetns()).toBe(before);
  });

  it('sets MAC, MTU and up, then renames, as ip sees it', async () => {
    const { ns, path } = await netns();
    const name = `tn${uniqueTag()}`;
    tapIn(path, name);
    const nl = nlIn(path);
    const idx = nl.linkIndex(name);

    nl.linkSet(idx, { mac: '02:42:0A:00:00:07', mtu: 1400, up: true });
    let info = nl.linkInfo(idx);
    expect(info).toMatchObject({ name, mac: '02:42:0a:00:00:07', mtu: 1400, up: true });
    let link = (await ipLinks(ns)).find((l) => l.ifindex === idx);
    expect(link).toMatchObject({ ifname: name, address: '02:42:0a:00:00:07', mtu: 1400 });
    expect(link?.flags).toContain('UP');

    nl.linkSet(idx, { up: false });
    const renamed = `tr${uniqueTag()}`;
    nl.linkSet(idx, { name: renamed, up: true });
    info = nl.linkInfo(idx);
    expect(info).toMatchObject({ index: idx, name: renamed, up: true, mtu: 1400 });
    expect(nl.linkIndex(name)).toBe(0);
    expect(nl.linkIndex(renamed)).toBe(idx);
    link = (await ipLinks(ns)).find((l) => l.ifindex === idx);
    expect(link?.ifname).toBe(renamed);

    nl.linkSet(idx, { up: false });
    expect(nl.linkInfo(idx).up).toBe(false);
  });

  it('adds, lists and deletes an IPv4 address', async () => {
    const { ns, path } = await netns();
    const name = `tn${uniqueTag()}`;
    tapIn(path, name);
    const nl = nlIn(path);
    const idx = nl.linkIndex(name);
    nl.linkSet(idx, { up: true });

    nl.addrAdd(idx, '10.0.3.2', 24);
    const ip = JSON.parse(await sh('ip', ['-j', '-n', ns, 'addr', 'show', 'dev', name])) as IpAddr[];
    const v4 = ip[0]?.addr_info.filter((a) => a.family === 'inet');
    expect(v4).toEqual([expect.objectContaining({ local: '10.0.3.2', prefixlen: 24, broadcast: '10.0.3.255' })]);

    expect(nl.addrList(idx)).toEqual([{ index: idx, address: '10.0.3.2', prefixLen: 24 }]);
    const all = nl.addrList();
    expect(all).toContainEqual({ index: 1, address: '127.0.0.1', prefixLen: 8 });
    expect(all).toContainEqual({ index: idx, address: '10.0.3.2', prefixLen: 24 });
    // The kernel's prefix route came with the address.
    expect(nl.routeList()).toContainEqual(expect.objectContaining({ dst: '10.0.3.0', prefixLen: 24, ifindex: idx }));

    nl.addrDel(idx, '10.0.3.2', 24);
    expect(nl.addrList(idx)).toEqual([]);
    expect(thrown(() => nl.addrDel(idx, '10.0.3.2', 24)).code).toBe('EADDRNOTAVAIL');
  });

  it('adds a default route via a gateway, lists it, deletes it', async () => {
    const { ns, path } = await netns();
    const name = `tn${uniqueTag()}`;
    tapIn(path, name);
    const nl = nlIn(path);
    const idx = nl.linkIndex(name);
    nl.linkSet(idx, { up: true });
    nl.addrAdd(idx, '10.0.4.2', 24);

    nl.routeAdd({ dst: '0.0.0.0', prefixLen: 0, gateway: '10.0.4.1' });
    nl.routeAdd({ dst: '10.9.0.0', prefixLen: 16, ifindex: idx });
    const routes = nl.routeList();
    expect(routes).toContainEqual({ dst: '0.0.0.0', prefixLen: 0, gateway: '10.0.4.1', ifindex: idx, table: 254 });
    expect(routes).toContainEqual({ dst: '10.9.0.0', prefixLen: 16, ifindex: idx, table: 254 });
    const ipRoutes = JSON.parse(await sh('ip', ['-j', '-n', ns, 'route', 'show'])) as IpRoute[];
    expect(ipRoutes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.0.4.1', dev: name, protocol: 'static' }));
    expect(ipRoutes).toContainEqual(expect.objectContaining({ dst: '10.9.0.0/16', dev: name }));
    expect(thrown(() => nl.routeAdd({ dst: '0.0.0.0', prefixLen: 0, gateway: '10.0.4.1' })).code).toBe('EEXIST');

    nl.routeDel({ dst: '0.0.0.0', prefixLen: 0 });
    nl.routeDel({ dst: '10.9.0.0', prefixLen: 16, ifindex: idx });
    expect(nl.routeList().filter((r) => r.prefixLen === 0 || r.dst === '10.9.0.0')).toEqual([]);
    expect(thrown(() => nl.routeDel({ dst: '0.0.0.0', prefixLen: 0 })).code).toBe('ESRCH');
  });

  it('deletes a link', async () => {
    const { ns, path } = await netns();
    const name = `tn${uniqueTag()}`;
    tapIn(path, name);
    const nl = nlIn(path);
    const idx = nl.linkIndex(name);
    nl.linkDel(idx);
    expect(nl.linkIndex(name)).toBe(0);
    expect((await ipLinks(ns)).map((l) => l.ifname)).not.toContain(name);
    expect(thrown(() => nl.linkInfo(idx)).code).toBe('ENODEV');
    expect(thrown(() => nl.linkDel(idx)).code).toBe('ENODEV');
  });

  it('moves a link from one namespace to another', async () => {
    const a = await netns('a');
    const b = await netns('b');
    const name = `tn${uniqueTag()}`;
    tapIn(a.path, name);
    const nlA = nlIn(a.path);
    const nlB = nlIn(b.path);
    nlA.linkSetNetns(nlA.linkIndex(name), b.path);
    expect(nlA.linkIndex(name)).toBe(0);
    const idx = nlB.linkIndex(name);
    expect(idx).toBeGreaterThan(0);
    expect((await ipLinks(b.ns)).map((l) => l.ifname)).toContain(name);
    const e = thrown(() => nlB.linkSetNetns(idx, '/var/run/netns/tsnl-no-such-ns'));
    expect(e.code).toBe('ENOENT');
    expect(e.message).toContain('/var/run/netns/tsnl-no-such-ns');
  });

  it('re-attaches to a persistent TAP made in a namespace after its first descriptor closed', async () => {
    const { ns, path } = await netns();
    const name = `tp${uniqueTag()}`;
    const first = native().tapOpen(name, { netns: path, persist: true });
    cleanup.push(async () => {
      // If the test failed half-way, make sure the device does not outlive the namespace's users.
      await sh('ip', ['-n', ns, 'link', 'del', name]).catch(() => undefined);
    });
    const nl = nlIn(path);
    const idx = nl.linkIndex(name);
    native().closeFd(first.fd);
    expect(nl.linkIndex(name)).toBe(idx); // persistent: still there

    const second = native().tapOpen(name, { netns: path });
    expect(second.name).toBe(name);
    expect(nl.linkIndex(name)).toBe(idx); // the same device, not a new one
    expect(nl.linkInfo(idx).carrier).toBe(true); // a descriptor is attached again

    native().tapSetPersist(second.fd, false);
    native().closeFd(second.fd);
    expect(nl.linkIndex(name)).toBe(0);
  });

  describe('errors', () => {
    it('a missing namespace path is ENOENT naming the path', async () => {
      const missing = `/var/run/netns/tsnl-missing-${uniqueTag()}`;
      const before = threadNetns();
      let e = thrown(() => native().tapOpen(`tn${uniqueTag()}`, { netns: missing }));
      expect(e).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'open' });
      expect(e.message).toContain(missing);
      e = thrown(() => Rtnetlink.open(missing));
      expect(e.code).toBe('ENOENT');
      expect(e.message).toContain(missing);
      // A file that is not a namespace.
      e = thrown(() => Rtnetlink.open('/etc/hostname'));
      expect(e).toMatchObject({ code: 'EINVAL', syscall: 'setns' });
      expect(threadNetns()).toBe(before);
    });

    it('a failure inside the namespace still brings the thread back', async () => {
      const { path } = await netns();
      const before = threadNetns();
      // TUNSETIFF on a name taken by a non-TAP device (lo) fails while we are inside the namespace.
      const e = thrown(() => native().tapOpen('lo', { netns: path }));
      expect(e).toMatchObject({ syscall: 'ioctl' });
      expect(e.message).toContain('TUNSETIFF');
      expect(threadNetns()).toBe(before);
    });

    it('addrAdd on a missing ifindex is ENODEV; a duplicate address is EEXIST', async () => {
      const { path } = await netns();
      const name = `tn${uniqueTag()}`;
      tapIn(path, name);
      const nl = nlIn(path);
      const idx = nl.linkIndex(name);

      let e = thrown(() => nl.addrAdd(999_999, '10.0.5.2', 24));
      expect(e).toMatchObject({ code: 'ENODEV', errno: 19, syscall: 'RTM_NEWADDR' });
      expect(e.message).toContain('10.0.5.2/24');
      expect(e.message).toContain('ifindex 999999');

      nl.addrAdd(idx, '10.0.5.2', 24);
      e = thrown(() => nl.addrAdd(idx, '10.0.5.2', 24));
      expect(e).toMatchObject({ code: 'EEXIST', syscall: 'RTM_NEWADDR' });
      expect(e.message).toContain(`dev ${name}`);
    });

    it('bad arguments are ERR_INVALID_ARG_VALUE naming the value', async () => {
      const { path } = await netns();
      const name = `tn${uniqueTag()}`;
      tapIn(path, name);
      const nl = nlIn(path);
      const idx = nl.linkIndex(name);
      const cases: [() => unknown, string][] = [
        [() => nl.addrAdd(idx, '10.0.0.300', 24), '10.0.0.300'],
        [() => nl.addrAdd(idx, 'not-an-ip', 24), 'not-an-ip'],
        [() => nl.addrAdd(idx, '10.0.6.2', 33), '33'],
        [() => nl.routeAdd({ dst: '0.0.0.0', prefixLen: 0, gateway: '10.0.0.1.1' }), '10.0.0.1.1'],
        [() => nl.linkSet(idx, { mac: '02:42:0a:00:00' }), '02:42:0a:00:00'],
        [() => nl.linkSet(idx, { mac: '02-42-0a-00-00-07' }), '02-42-0a-00-00-07'],
        [() => nl.linkSet(idx, { name: 'a-name-that-is-too-long' }), 'a-name-that-is-too-long'],
        [() => nl.linkIndex('bad/name'), 'bad/name'],
        [() => nl.linkIndex('eth%d'), 'eth%d'], // '%' is a name pattern to the kernel
        [() => nl.linkSet(idx, { name: 'tn%d' }), 'tn%d'],
        [() => nl.linkInfo(-1), '-1'],
      ];
      for (const [fn, value] of cases) {
        const e = thrown(fn);
        expect(e.code, e.message).toBe('ERR_INVALID_ARG_VALUE');
        expect(e.message).toContain(value);
      }
      expect(thrown(() => nl.routeAdd({ dst: '10.7.0.0', prefixLen: 16 })).code).toBe('ERR_INVALID_ARG_VALUE');
      // The kernel's own explanation travels in the message (NETLINK_EXT_ACK).
      const e = thrown(() => nl.routeAdd({ dst: '10.7.1.0', prefixLen: 16, ifindex: idx }));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toMatch(/10\.7\.1\.0\/16/);
    });

    it("refuses a TAP name with '%' (TUNSETIFF would pick a name of its own) and makes no device", async () => {
      const { path, ns } = await netns();
      const before = await sh('ip', ['-n', ns, '-o', 'link', 'show']);
      const e = thrown(() => tapIn(path, 'tn%d'));
      expect(e.code, e.message).toBe('ERR_INVALID_ARG_VALUE');
      expect(e.message).toContain("'%'");
      expect(await sh('ip', ['-n', ns, '-o', 'link', 'show'])).toBe(before);
    });

    it('a closed socket refuses politely; withRtnetlink always closes', async () => {
      const { path } = await netns();
      const nl = Rtnetlink.open(path);
      nl.close();
      nl.close();
      expect(thrown(() => nl.linkIndex('lo')).code).toBe('ERR_RTNETLINK_CLOSED');

      let seen: Rtnetlink | undefined;
      expect(withRtnetlink(path, (s) => ((seen = s), s.linkIndex('lo')))).toBe(1);
      expect(seen?.closed).toBe(true);
      expect(() =>
        withRtnetlink(path, (s) => {
          seen = s;
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(seen?.closed).toBe(true);
      await expect(
        withRtnetlink(path, async (s) => {
          seen = s;
          await new Promise((r) => setTimeout(r, 5));
          expect(s.closed).toBe(false);
          return s.linkIndex('lo');
        }),
      ).resolves.toBe(1);
      expect(seen?.closed).toBe(true);
    });
  });
});
