/**
 * Interop with a real WireGuard peer: Debian's wireguard-go (userspace, the kernel here has no
 * WireGuard) on "host B", configured with `wg set`, carrying the kernel's own vxlan device; on "host A"
 * our encrypted VTEP (WireguardUnderlay) in a switch on this event loop. B's VTEP address is its
 * underlay address, so B routes it through wg0 by policy (wg-quick's fwmark rule), as a host that
 * runs WireGuard next to its VXLAN would. Checked: the handshake completes (both sides say so), an ARP
 * request from A is answered by B's kernel through the tunnel, and B's pings cross back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { WireguardUnderlay } from '../../src/dataplane/wireguard/wireguard-underlay.js';
import { wgNative } from '../../src/native/wireguard-addon.js';
import { parseIpv4 } from '../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, ipv4Bytes, macBytes } from '../helpers/frames.js';
import { addNetns, delNetns, nsExec, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';
import { startWireguardGo } from '../helpers/wireguard-go.js';

const skip = privilegedSkipReason(['wireguard-go', 'wg']);
if (skip) console.warn(`skipping wireguard-go interop: ${skip}`);

const A1 = 0x02420a630001;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

function arpRequest(srcMac: number, srcIp: string, dstIp: string): Uint8Array {
  const arp = [0, 1, 8, 0, 6, 4, 0, 1, ...macBytes(srcMac), ...ipv4Bytes(srcIp), 0, 0, 0, 0, 0, 0, ...ipv4Bytes(dstIp)];
  return ethFrame(BROADCAST, srcMac, 0x0806, [...arp, ...new Array(18).fill(0)]);
}

describe.skipIf(skip !== null)('interop with wireguard-go', () => {
  it('completes the handshake and carries VXLAN both ways with the kernel vxlan behind wireguard-go', async () => {
    const tag = uniqueTag();
    const nsA = `tsnt-${tag}-a`;
    const nsB = `tsnt-${tag}-b`;
    await addNetns(nsA);
    cleanup.push(() => delNetns(nsA));
    await addNetns(nsB);
    cleanup.push(() => delNetns(nsB));
    const va = `wa${tag}`;
    await sh('ip', ['link', 'add', va, 'netns', nsA, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsB]);
    await nsExec(nsA, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', va]);
    await nsExec(nsA, 'ip', ['link', 'set', va, 'up']);
    await nsExec(nsB, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
    await nsExec(nsB, 'ip', ['link', 'set', 'eth0', 'up']);

    const n = wgNative();
    const privateKey = n.wgGenerateKey();
    const me = { privateKey, publicKey: n.wgX25519PublicKey(privateKey) };
    const b = await startWireguardGo(nsB, { listenPort: 51820, address: '10.77.0.2', mtu: 1440, peer: { publicKey: me.publicKey, vtep: '10.77.0.1', endpoint: '10.77.0.1:51820' } });
    cleanup.push(() => b.stop());
    await nsExec(nsB, 'ip', ['link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '42', 'local', '10.77.0.2', 'remote', '10.77.0.1', 'dstport', '4789']);
    await nsExec(nsB, 'ip', ['addr', 'add', '10.99.0.2/24', 'dev', 'vxlan0']);
    await nsExec(nsB, 'ip', ['link', 'set', 'vxlan0', 'up']);

    const sw = new SwitchEngine({ poolSlots: 128 });
    cleanup.push(() => sw.close());
    const wg = new WireguardUnderlay('10.77.0.1', 51820, { identity: me, vxlanPort: 4789, tunnelMtu: 1440, netns: `/var/run/netns/${nsA}` });
    wg.setPeers([{ publicKey: b.publicKey, vtep: '10.77.0.2', endpoint: '10.77.0.2', port: 51820 }]);
    const sock = new VtepSocketPort('wg', wg);
    sw.addDetachedPort(sock);
    const domain = sw.createDomain('ov');
    const vx = new VxlanPort('vxlan42', { vni: 42, vtep: sock, peers: [parseIpv4('10.77.0.2')], underlayMtu: 1440 });
    sock.attach(vx);
    sw.addPort(vx, domain);
    const local = new MemoryPort('c', { ownMac: A1 });
    sw.addPort(local, domain);

    // ARP for B's vxlan0 address until B's kernel answers through the tunnel.
    const end = Date.now() + 15_000;
    let reply: Uint8Array | undefined;
    while (!reply) {
      if (Date.now() > end) throw new Error(`no ARP reply; drops: ${JSON.stringify(sock.counters.dropsByReason())}; wg show: ${await nsExec(nsB, 'wg', ['show', 'wg0'])}`);
      local.inject(arpRequest(A1, '10.99.0.1', '10.99.0.2'));
      sw.drain();
      await new Promise((r) => setTimeout(r, 100));
      reply = local.take().find((f) => f.frame[12] === 0x08 && f.frame[13] === 0x06 && f.frame[21] === 2)?.frame;
    }
    expect([...reply.subarray(28, 32)]).toEqual(ipv4Bytes('10.99.0.2')); // sender protocol address: B's
    expect(wg.describePeers()[0].Session).toBe('established');
    const show = await nsExec(nsB, 'wg', ['show', 'wg0', 'latest-handshakes']);
    expect(Number(show.trim().split(/\s+/)[1])).toBeGreaterThan(0);
    const transfer = (await nsExec(nsB, 'wg', ['show', 'wg0', 'transfer'])).trim().split(/\s+/);
    expect(Number(transfer[1])).toBeGreaterThan(0); // B received bytes from us
    expect(Number(transfer[2])).toBeGreaterThan(0); // and sent bytes to us
    expect(sock.counters.totalDrops() - sock.counters.dropCount('wg-no-session')).toBe(0);
  });
});
