/**
 * Several tsnet-switch "hosts" on one underlay segment: a LAN namespace with a Linux bridge, and per
 * host a daemon (its own namespace), a veth into the bridge holding the host's VTEP address
 * (`${net}.${i}/24`), and an empty container namespace. For overlay tests across hosts; everything is
 * registered with `onTeardown`.
 */
import { TestDaemon } from './daemon.js';
import { addNetns, delNetns, plumb, sh, uniqueTag } from './netns.js';

export interface UnderlayHost {
  d: TestDaemon;
  /** The host's container namespace (empty). */
  c: string;
  /** The host's VTEP address. */
  vtep: string;
}

export async function underlayHosts(count: number, net: string, onTeardown: (f: () => Promise<void>) => void): Promise<{ tag: string; lan: string; hosts: UnderlayHost[] }> {
  const tag = uniqueTag();
  const lan = `tsnt-${tag}-lan`;
  onTeardown(() => delNetns(lan));
  await addNetns(lan);
  await sh('ip', ['-n', lan, 'link', 'add', 'br0', 'type', 'bridge']);
  await sh('ip', ['-n', lan, 'link', 'set', 'br0', 'up']);
  const hosts: UnderlayHost[] = [];
  for (let i = 1; i <= count; i++) {
    const d = new TestDaemon();
    onTeardown(() => d.teardown());
    await d.setup();
    const c = `tsnt-${tag}-c${i}`;
    onTeardown(() => delNetns(c));
    await addNetns(c);
    const dev = `te${tag}${i}`;
    await sh('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `tl${tag}${i}`]);
    await sh('ip', ['link', 'set', `tl${tag}${i}`, 'netns', lan]);
    await sh('ip', ['-n', lan, 'link', 'set', `tl${tag}${i}`, 'master', 'br0', 'up']);
    const [, b, c3] = net.split('.');
    await plumb(d.hostNs, dev, `02:00:${Number(b).toString(16).padStart(2, '0')}:${Number(c3).toString(16).padStart(2, '0')}:01:${i.toString(16).padStart(2, '0')}`, `${net}.${i}/24`);
    hosts.push({ d, c, vtep: `${net}.${i}` });
  }
  return { tag, lan, hosts };
}
