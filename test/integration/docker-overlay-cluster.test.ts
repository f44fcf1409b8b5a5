/**
 * A Docker overlay across two hosts through a real cluster store: each host is a namespace with its own
 * dockerd (test/helpers/dockerd.ts: private /run, data root and sockets) and its own tsnet-switch daemon
 * with --cluster-store pointing at a real etcd on an underlay bridge. `docker network create -d tsnet
 * -o tsnet.driver=overlay -o tsnet.name=ov` on host 1 makes the cluster network; the same on host 2
 * joins it (Docker's networks are `local` scope: one per dockerd); containers on the two hosts ping each
 * other across VXLAN, with their addresses claimed in the store.
 *
 *   underlay netns: br0 (10.251.0.254, etcd) ── veth ── eth0 10.251.0.1 : host 1 (dockerd + tsnet)
 *                                            └── veth ── eth0 10.251.0.2 : host 2 (dockerd + tsnet)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost, TEST_IMAGE } from '../helpers/dockerd.js';
import { TestEtcd } from '../helpers/etcd.js';
import { addNetns, delNetns, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
const ETCD_IP = '10.251.0.254';
const SUBNET = '10.202.0.0/24';

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skip)('Docker overlay through the cluster store (two dockerds, real etcd)', () => {
  const tag = uniqueTag();
  const underlay = `tsnu-${tag}`;
  const etcd = new TestEtcd(underlay, ETCD_IP);
  const hosts = [new DockerHost(), new DockerHost()];
  const [h1, h2] = hosts;
  const clusterArgs = (n: number) => ['--cluster-store', etcd.storeUrl, '--host-id', `host${n}`, '--advertise-addr', `10.251.0.${n}`, '--cluster-ttl', '5'];

  beforeAll(async () => {
    await addNetns(underlay);
    await sh('ip', ['-n', underlay, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', underlay, 'addr', 'add', `${ETCD_IP}/24`, 'dev', 'br0']);
    await sh('ip', ['-n', underlay, 'link', 'set', 'br0', 'up']);
    await etcd.start();
    for (const [i, h] of hosts.entries()) {
      const n = i + 1;
      await h.setup();
      const outer = `u${tag}${n}`;
      await sh('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', `i${tag}${n}`]);
      await sh('ip', ['link', 'set', outer, 'netns', underlay]);
      await sh('ip', ['-n', underlay, 'link', 'set', outer, 'master', 'br0', 'up']);
      await sh('ip', ['link', 'set', `i${tag}${n}`, 'netns', h.hostNs, 'name', 'eth0']);
      await sh('ip', ['-n', h.hostNs, 'addr', 'add', `10.251.0.${n}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', h.hostNs, 'link', 'set', 'eth0', 'up']);
      await h.startDockerd();
      await h.startTsnet(clusterArgs(n));
      await h.importImage();
    }
  }, 180_000);

  afterAll(async () => {
    for (const h of hosts) await h.cleanup();
    await etcd.teardown().catch(() => undefined);
    await delNetns(underlay);
    for (const h of hosts) expect(h.leftovers()).toEqual([]);
  }, 240_000);

  const create = (h: DockerHost, dockerName: string, subnet: string) =>
    h.docker(['network', 'create', '-d', 'tsnet', '--ipam-driver', 'tsnet', '--subnet', subnet, '-o', 'tsnet.driver=overlay', '-o', 'tsnet.name=ov', dockerName]);
  const ipOf = (h: DockerHost, c: string) => h.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "ov").IPAddress}}', c]);
  const networks = async (h: DockerHost) => (JSON.parse(await h.tsnetOk(['network', 'ls', '--json'])) as { name: string; id: string; docker: string | null }[]);
  const storeKeys = async (prefix: string) => (await etcd.ctl(['get', '--prefix', prefix, '--keys-only'])).split('\n').filter(Boolean);

  it('host 1 makes the cluster network, host 2 joins it; containers on both ping each other; addresses are claimed cluster-wide', async () => {
    const made = await create(h1, 'ov', SUBNET);
    expect(made.code, made.stderr + h1.tsnetLog.slice(-2000)).toBe(0);
    const id = (await networks(h1)).find((n) => n.name === 'ov')!.id;
    expect(await storeKeys('/tsnet/v1/docker/')).toEqual([`/tsnet/v1/docker/${id}/host1`]);
    await until('host 2 to make the cluster network from the store', async () => (await networks(h2)).some((n) => n.id === id));

    // Bad input first: host 2's Docker asks for another subnet under the same name. Docker shows our
    // error naming both; nothing is tied to the cluster network.
    const wrong = await create(h2, 'ovbad', '10.203.0.0/24');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('--subnet 10.203.0.0/24: cluster network ov (made on host host1) has subnet 10.202.0.0/24');
    expect((await networks(h2)).find((n) => n.id === id)?.docker).toBeNull();
    expect((await h2.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).split('\n')).not.toContain('ovbad');

    const joined = await create(h2, 'ov', SUBNET);
    expect(joined.code, joined.stderr + h2.tsnetLog.slice(-2000)).toBe(0);
    expect((await networks(h2)).find((n) => n.id === id)?.docker).toBe(joined.stdout.trim());
    expect((await storeKeys('/tsnet/v1/docker/')).sort()).toEqual([`/tsnet/v1/docker/${id}/host1`, `/tsnet/v1/docker/${id}/host2`]);
    const inspected = JSON.parse(await h2.dockerOk(['network', 'inspect', 'ov'])) as { IPAM: { Config: { Subnet: string }[] } }[];
    expect(inspected[0].IPAM.Config[0].Subnet).toBe(SUBNET);

    await h1.dockerOk(['run', '-d', '--name', 'c1', '--network', 'ov', TEST_IMAGE, 'sleep', '600']);
    await h2.dockerOk(['run', '-d', '--name', 'c2', '--network', 'ov', TEST_IMAGE, 'sleep', '600']);
    const [ip1, ip2] = [await ipOf(h1, 'c1'), await ipOf(h2, 'c2')];
    // Each host's first address: without the store both would be .2.
    expect(ip1).not.toBe(ip2);
    // Host 2's container has the cluster network's gateway, which host 2's Docker got from our IPAM.
    expect(await h2.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "ov").Gateway}}', 'c2'])).toBe('10.202.0.1');
    expect((await storeKeys(`/tsnet/v1/ipam/${id}/`)).sort()).toEqual([`/tsnet/v1/ipam/${id}/${ip1}`, `/tsnet/v1/ipam/${id}/${ip2}`].sort());
    expect(await h1.dockerOk(['exec', 'c1', 'ping', '-c', '3', '-W', '2', ip2])).toContain('3 packets received');
    expect(await h2.dockerOk(['exec', 'c2', 'ping', '-c', '2', '-W', '2', ip1])).toContain('2 packets received');
    // The frames crossed both switches: c1's port counted them, and host 1's VTEP sent VXLAN.
    const stats = JSON.parse(await h1.tsnetOk(['stats', '--json'])) as { ports: { network: string; port: string; rxPackets: number; txPackets: number }[] };
    const c1Port = stats.ports.find((p) => p.network === 'ov' && p.port === 'c1:eth0');
    expect(c1Port?.rxPackets ?? 0).toBeGreaterThanOrEqual(3);
    const vtep = stats.ports.find((p) => p.network === 'ov' && /vxlan/.test(p.port));
    expect(vtep?.txPackets ?? 0).toBeGreaterThanOrEqual(3);

    // Host 2's daemon crashes and comes back: its Docker network is still the cluster network there
    // (the tie is in its state and in the store), and c2 still reaches c1 across hosts.
    await h2.stopTsnet('SIGKILL');
    await h2.startTsnet(clusterArgs(2));
    expect((await networks(h2)).find((n) => n.id === id)?.docker).toBe(joined.stdout.trim());
    await until('c2 to reach c1 again after the restart', async () => (await h2.docker(['exec', 'c2', 'ping', '-c', '1', '-W', '1', ip1])).stdout.includes('1 packets received'), 20_000);

    // c1's address is host 1's in the store: host 2's Docker cannot have it.
    const taken = await h2.docker(['run', '--rm', '--network', 'ov', '--ip', ip1, TEST_IMAGE, 'true']);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain(`requested IP ${ip1} is claimed in the cluster by host host1`);

    // A container that goes gives its address back to the cluster: host 1 can take c2's now.
    await h2.dockerOk(['rm', '-f', 'c2']);
    await until(`c2's claim ${ip2} to leave the store`, async () => !(await storeKeys(`/tsnet/v1/ipam/${id}/`)).includes(`/tsnet/v1/ipam/${id}/${ip2}`));
    await h1.dockerOk(['run', '-d', '--name', 'c3', '--network', 'ov', '--ip', ip2, TEST_IMAGE, 'sleep', '600']);
    expect(await ipOf(h1, 'c3')).toBe(ip2);
    expect(await h1.dockerOk(['exec', 'c3', 'ping', '-c', '1', '-W', '2', ip1])).toContain('1 packets received');

    // `tsnet-switch network rm` does not pull a network from under the Docker networks using it.
    const rm = await h1.tsnetCli(['network', 'rm', 'ov']);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain('is a Docker network on host1, host2');

    // Host 1's `docker network rm` unties host 1 only: host 2 still has it (and its Docker network works).
    await h1.dockerOk(['rm', '-f', 'c1', 'c3']);
    await h1.dockerOk(['network', 'rm', 'ov']);
    expect(await storeKeys('/tsnet/v1/docker/')).toEqual([`/tsnet/v1/docker/${id}/host2`]);
    expect((await networks(h1)).find((n) => n.id === id)?.docker).toBeNull();
    await h2.dockerOk(['run', '--rm', '--network', 'ov', TEST_IMAGE, 'true']);
    // The last Docker network for it goes: so does the cluster network, on both hosts and in the store.
    await h2.dockerOk(['network', 'rm', 'ov']);
    await until('the cluster network to leave both hosts', async () => !(await networks(h1)).some((n) => n.id === id) && !(await networks(h2)).some((n) => n.id === id));
    expect(await storeKeys(`/tsnet/v1/`).then((ks) => ks.filter((k) => k.includes(id)))).toEqual([]);
  }, 240_000);
});
