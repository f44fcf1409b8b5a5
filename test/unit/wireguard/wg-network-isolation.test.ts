/**
 * One WireGuard session per pair of hosts carries every encrypted overlay between them, so the key
 * proves which host sent a frame, not which network it may send into. Host A has encrypted networks
 * VNI 42 (peer B) and VNI 43 (peer C only); B, a peer of 42, sends a frame tagged VNI 43. Before the
 * fix (found by this stop's review) A delivered it into network 43, learned B there and unicast the
 * reply back to B. Now it is dropped as vxlan-not-a-peer and nothing is learned, while B's frames of
 * its own network 42 still arrive. Real WireGuard underlays over loopback, real handshakes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { WireguardUnderlay } from '../../../src/dataplane/wireguard/wireguard-underlay.js';
import { wgNative } from '../../../src/native/wireguard-addon.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';

const macBytes = (m: number) => Array.from({ length: 6 }, (_, i) => Math.floor(m / 2 ** (8 * (5 - i))) & 0xff);
const eth = (dst: number, src: number, payloadByte: number) => Uint8Array.from([...macBytes(dst), ...macBytes(src), 0x88, 0xb5, ...new Array(46).fill(payloadByte)]);
const identity = () => {
  const n = wgNative();
  const privateKey = n.wgGenerateKey();
  return { privateKey, publicKey: n.wgX25519PublicKey(privateKey) };
};

const engines: SwitchEngine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});

describe('encrypted overlays sharing a WireGuard VTEP', () => {
  it("drops a peer's frame for a network it is not a peer of (vxlan-not-a-peer), delivers its own network's", async () => {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const [ka, kb, kc] = [identity(), identity(), identity()];
    const [A_IP, B_IP, C_IP] = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const swA = new SwitchEngine({ poolSlots: 128 });
    const swB = new SwitchEngine({ poolSlots: 128 });
    engines.push(swA, swB);

    const wgA = new WireguardUnderlay(A_IP, port, { identity: ka, vxlanPort: 4789, tunnelMtu: 1440 });
    wgA.setPeers([
      { publicKey: kb.publicKey, vtep: B_IP, endpoint: B_IP, port },
      { publicKey: kc.publicKey, vtep: C_IP, endpoint: C_IP, port },
    ]);
    const sockA = new VtepSocketPort('wgA', wgA);
    swA.addDetachedPort(sockA);
    const d42 = swA.createDomain('net42');
    const d43 = swA.createDomain('net43');
    const vx42 = new VxlanPort('vx42', { vni: 42, vtep: sockA, peers: [parseIpv4(B_IP)], underlayMtu: 1500 });
    const vx43 = new VxlanPort('vx43', { vni: 43, vtep: sockA, peers: [parseIpv4(C_IP)], underlayMtu: 1500 });
    // What the overlay driver sets from each network's own peers (encrypted-vteps.ts onNetworkPeers).
    vx42.authenticatedSenders = new Set([parseIpv4(B_IP)]);
    vx43.authenticatedSenders = new Set([parseIpv4(C_IP)]);
    for (const [vx, d] of [[vx42, d42], [vx43, d43]] as const) {
      sockA.attach(vx);
      swA.addPort(vx, d);
    }
    const a42 = new MemoryPort('a42', { ownMac: 0x02420a2a0002 });
    const a43 = new MemoryPort('a43', { ownMac: 0x02420a2b0002 });
    swA.addPort(a42, d42);
    swA.addPort(a43, d43);

    // Host B: a peer of network 42 only, with both VNIs configured towards A.
    const wgB = new WireguardUnderlay(B_IP, port, { identity: kb, vxlanPort: 4789, tunnelMtu: 1440 });
    wgB.setPeers([{ publicKey: ka.publicKey, vtep: A_IP, endpoint: A_IP, port }]);
    const sockB = new VtepSocketPort('wgB', wgB);
    swB.addDetachedPort(sockB);
    const B_MAC = 0x02420a2b00bb;
    const senders = [42, 43].map((vni) => {
      const d = swB.createDomain(`b${vni}`);
      const vx = new VxlanPort(`vx${vni}`, { vni, vtep: sockB, peers: [parseIpv4(A_IP)], underlayMtu: 1500 });
      sockB.attach(vx);
      swB.addPort(vx, d);
      const p = new MemoryPort(`b${vni}`, { ownMac: B_MAC });
      swB.addPort(p, d);
      return p;
    });
    const pump = () => {
      swA.drain();
      swB.drain();
    };
    const waitFor = async (done: () => boolean) => {
      for (let i = 0; i < 150 && !done(); i++) {
        await new Promise((r) => setTimeout(r, 20));
        pump();
      }
    };

    // Its own network first (this also makes the session): delivered, B learned behind its VTEP.
    senders[0].inject(eth(0xffffffffffff, B_MAC, 0x42));
    pump();
    await waitFor(() => a42.sent.length > 0);
    expect(a42.take()).toHaveLength(1);
    expect(d42.fdb.get(B_MAC)?.remote).toBe(parseIpv4(B_IP) | 0);

    // Then network 43's VNI, over the same established session.
    senders[1].inject(eth(0xffffffffffff, B_MAC, 0x43));
    pump();
    await waitFor(() => (sockA.counters.dropsByReason()['vxlan-not-a-peer'] ?? 0) > 0 || a43.sent.length > 0);
    expect(a43.take()).toHaveLength(0);
    expect(sockA.counters.dropsByReason()['vxlan-not-a-peer']).toBe(1);
    expect(d43.fdb.get(B_MAC)).toBeUndefined();
  }, 20_000);
});
