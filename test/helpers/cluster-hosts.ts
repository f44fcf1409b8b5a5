/**
 * A cluster for tests: an "underlay" namespace holding a Linux bridge (the underlay switch) and a real
 * etcd on 10.250.0.254, and N "hosts", each a namespace with a veth into that bridge (VTEP
 * 10.250.0.H) and its own tsnet-switch daemon (own state dir and socket) started with
 * --cluster-store pointing at that etcd. Sandboxes are further namespaces, connected through the CLI.
 *
 *   underlay netns:  br0 (10.250.0.254, etcd :2379) ── u<tag>N ══ veth ══ eth0 (10.250.0.N) : host N netns
 */
import { TestDaemon } from './daemon.js';
import { TestEtcd } from './etcd.js';
import { addNetns, delNetns, nsExec, sh, uniqueTag } from './netns.js';

export const ETCD_IP = '10.250.0.254';
export const vtepOf = (n: number) => `10.250.0.${n}`;

export interface ClusterHost {
  n: number;
  id: string;
  vtep: string;
  daemon: TestDaemon;
}

export class TestCluster {
  readonly tag = uniqueTag();
  readonly underlay = `tsnt-${this.tag}-u`;
  readonly etcd = new TestEtcd(this.underlay, ETCD_IP);
  readonly hosts: ClusterHost[] = [];
  private readonly sandboxes: string[] = [];

  /** `ttls[i]`: host i+1's --cluster-ttl. */
  async setup(ttls: number[]): Promise<void> {
    await addNetns(this.underlay);
    await sh('ip', ['-n', this.underlay, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', this.underlay, 'addr', 'add', `${ETCD_IP}/24`, 'dev', 'br0']);
    await sh('ip', ['-n', this.underlay, 'link', 'set', 'br0', 'up']);
    await this.etcd.start();
    for (let i = 0; i < ttls.length; i++) await this.addHost(ttls[i]);
  }

  async addHost(ttl: number, opts: { cluster?: boolean } = {}): Promise<ClusterHost> {
    const n = this.hosts.length + 1;
    const id = `host${n}`;
    const vtep = vtepOf(n);
    const args = opts.cluster === false ? [] : ['--cluster-store', this.etcd.storeUrl, '--host-id', id, '--advertise-addr', vtep, '--cluster-ttl', String(ttl)];
    const daemon = new TestDaemon(args);
    const host = { n, id, vtep, daemon };
    this.hosts.push(host);
    await addNetns(daemon.hostNs);
    const outer = `u${this.tag}${n}`;
    await sh('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', `i${this.tag}${n}`]);
    await sh('ip', ['link', 'set', outer, 'netns', this.underlay]);
    await sh('ip', ['-n', this.underlay, 'link', 'set', outer, 'master', 'br0', 'up']);
    await sh('ip', ['link', 'set', `i${this.tag}${n}`, 'netns', daemon.hostNs, 'name', 'eth0']);
    await sh('ip', ['-n', daemon.hostNs, 'addr', 'add', `${vtep}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', daemon.hostNs, 'link', 'set', 'eth0', 'up']);
    await daemon.start();
    return host;
  }

  /** A new empty sandbox namespace (deleted at teardown). */
  async sandbox(): Promise<string> {
    const name = `tsnt-${this.tag}-s${this.sandboxes.length + 1}`;
    this.sandboxes.push(name);
    await addNetns(name);
    return name;
  }

  /** Wait until `check` holds (polling every 100 ms); returns the milliseconds it took. */
  static async until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      if (await check().catch(() => false)) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async teardown(): Promise<void> {
    for (const h of this.hosts) await h.daemon.teardown().catch(() => undefined);
    for (const s of this.sandboxes) await delNetns(s);
    await this.etcd.teardown().catch(() => undefined);
    await delNetns(this.underlay);
  }
}

/** One ping (up to `waitS` seconds, a probe every 10 ms) from a sandbox; true if answered. */
export async function pingOnce(ns: string, ip: string, waitS = 2): Promise<boolean> {
  return nsExec(ns, 'ping', ['-c', '1', '-i', '0.01', '-w', String(waitS), '-q', ip], { timeoutMs: (waitS + 3) * 1000 }).then(
    () => true,
    () => false,
  );
}
