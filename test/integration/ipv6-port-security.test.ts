/**
 * IPv6 under port_security=ip with the kernel's own frames: two containers (namespaces) on a running
 * daemon's network. Their kernels derive link-local addresses, run duplicate address detection and
 * resolve each other with NS/NA, and ping6 works; an address we never assigned, and a forged Neighbor
 * Advertisement for the other container's address (sent on a packet socket), are dropped and counted
 * by name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { daemonWithSandboxes } from '../helpers/daemon.js';
import { nsExec, privilegedSkipReason, sh } from '../helpers/netns.js';

const skip = privilegedSkipReason(['python3']);
if (skip) console.warn(`skipping IPv6 port security tests: ${skip}`);

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

/** eth0's link-local address in `ns` once DAD is over. */
async function linkLocal(ns: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const out = await nsExec(ns, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    const m = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(out);
    if (m && !/tentative/.test(out)) return m[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no link-local address on eth0 in ${ns}`);
}

describe.skipIf(skip !== null)('IPv6 port security with real kernel frames', () => {
  it('passes DAD, NS/NA and ping6 between link-local addresses; drops foreign sources and forged NA', async () => {
    const { d, ns } = await daemonWithSandboxes(2, [], (f) => cleanup.push(f));
    const [c1, c2] = ns;
    await d.ok(['network', 'create', '--subnet', '10.82.0.0/24', '-o', 'port_security=ip', 'sec6']);
    for (const c of ns) {
      await d.ok(['connect', 'sec6', '--netns', c]);
      await nsExec(c, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.eth0.disable_ipv6=0']);
    }
    const ll1 = await linkLocal(c1);
    const ll2 = await linkLocal(c2);
    const drops = async () => {
      const stats = JSON.parse(await d.ok(['stats', '--json']));
      return (stats.networks.find((n: { network: string }) => n.network === 'sec6').drops ?? {}) as Record<string, number>;
    };
    // The kernels' NS/NA and echo, from their own link-local addresses, get through.
    await nsExec(c1, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', `${ll2}%eth0`]);
    await nsExec(c2, 'ping', ['-6', '-c', '1', '-W', '2', `${ll1}%eth0`]);
    const before = await drops();
    for (const r of ['spoofed-src-ipv6', 'spoofed-nd', 'ipv6-router-msg', 'bad-ipv6']) expect(before[r] ?? 0, r).toBe(0);

    // An address the daemon never assigned: whatever c1 sends from it (NS, echo) is dropped.
    await sh('ip', ['-n', c1, '-6', 'addr', 'add', 'fd00:82::99/64', 'dev', 'eth0', 'nodad']);
    const spoofed = await nsExec(c1, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '1', '-I', 'fd00:82::99', 'fd00:82::3']).then(() => true, () => false);
    expect(spoofed).toBe(false);
    expect((await drops())['spoofed-src-ipv6']).toBeGreaterThan(0);

    // A forged Neighbor Advertisement: c1 claims c2's link-local address with its own MAC.
    const mac1 = (await nsExec(c1, 'cat', ['/sys/class/net/eth0/address'])).trim();
    // Built by hand and sent on a packet socket (checksum included: the switch does not look at it, c2 would).
    const py = `
import socket, struct
mac = bytes.fromhex("${mac1.replace(/:/g, '')}")
src = socket.inet_pton(socket.AF_INET6, "${ll1}"); dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
tgt = socket.inet_pton(socket.AF_INET6, "${ll2}")
icmp = bytes([136, 0, 0, 0, 0x20, 0, 0, 0]) + tgt + bytes([2, 1]) + mac
pseudo = src + dst + struct.pack("!I", len(icmp)) + bytes([0, 0, 0, 58])
data = pseudo + icmp; s = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
while s >> 16: s = (s & 0xffff) + (s >> 16)
icmp = icmp[:2] + struct.pack("!H", ~s & 0xffff) + icmp[4:]
ip6 = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + src + dst
f = bytes.fromhex("333300000001") + mac + bytes.fromhex("86dd") + ip6 + icmp
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); p.bind(("eth0", 0))
for _ in range(3): p.send(f)
`;
    await nsExec(c1, 'python3', ['-c', py], { timeoutMs: 30_000 });
    for (let i = 0; i < 50 && ((await drops())['spoofed-nd'] ?? 0) < 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await drops())['spoofed-nd']).toBe(3);
    // c2 still reaches c1 by its real address.
    await nsExec(c2, 'ping', ['-6', '-c', '1', '-W', '2', `${ll1}%eth0`]);
  }, 120_000);
});
