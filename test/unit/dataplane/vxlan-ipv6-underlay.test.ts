/**
 * What an IPv6 underlay (VXLAN over UDP/IPv6) changes above it, over the in-memory IPv6 underlay (no
 * root): the MTU (a 40-byte outer header: inner frames of at most underlay - 56, endpoints' MTU
 * underlay - 70, ICMP frag-needed and Packet Too Big saying so), remote VTEPs carried as the
 * underlay's numbers (learned from the sender, sent to by number, peers as numbers) and shown as
 * their IPv6 text in trace and `fdb show`. IPv4 underlays keep 36/50.
 */
import { describe, expect, it } from 'vitest';
import { fdbRows } from '../../../src/control/render/fdb-view.js';
import type { NetworkRuntime } from '../../../src/control/drivers/network-driver.js';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { VXLAN_IPV4_MTU_OVERHEAD, VXLAN_IPV6_MTU_OVERHEAD, vxlanOverlayMtuOverhead } from '../../../src/dataplane/overlay/frame-fit.js';
import { MemoryUnderlay, MemoryUnderlay6 } from '../../../src/dataplane/overlay/memory-underlay.js';
import { localVtepText, vtepNumberOf, vtepTextOf } from '../../../src/dataplane/overlay/underlay.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { internetChecksum } from '../../../src/packet/checksum.js';
import { parseIpv4 } from '../../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, l4Frame6, tcpFrame } from '../../helpers/frames.js';

const A1 = 0x02420a140002;
const X = 0x02420a140009;

function vxlanPayload(vni: number, inner: Uint8Array): Uint8Array {
  const p = new Uint8Array(8 + inner.length);
  p[0] = 0x08;
  p[4] = vni >> 16;
  p[5] = (vni >> 8) & 0xff;
  p[6] = vni & 0xff;
  p.set(inner, 8);
  return p;
}

function host6(underlayMtu = 1500) {
  const clock = new VirtualClock(1000);
  const sw = new SwitchEngine({ clock, poolSlots: 64 });
  const underlay = new MemoryUnderlay6('fd00::1');
  const sock = new VtepSocketPort('vtep [fd00::1]:4789', underlay);
  sw.addDetachedPort(sock);
  const domain = sw.createDomain('ov');
  const peers = ['fd00::2', 'fd00::3'].map((p) => vtepNumberOf(underlay, p));
  const vx = new VxlanPort('vxlan4097', { vni: 4097, vtep: sock, peers, underlayMtu, subnet: { network: parseIpv4('10.20.0.0'), prefixLen: 16 } });
  sock.attach(vx);
  sw.addPort(vx, domain);
  const a1 = new MemoryPort('a1', { ownMac: A1 });
  sw.addPort(a1, domain);
  const settle = () => {
    for (let i = 0; i < 20; i++) if (sw.drain() + (underlay.pending ? sw.runBurst([sock]) : 0) === 0) return;
  };
  return { sw, underlay, sock, vx, a1, domain, settle };
}

describe('VXLAN over an IPv6 underlay (data plane)', () => {
  it('takes 56 bytes off the underlay for the inner frame and 70 for the endpoints, where IPv4 takes 36 and 50', () => {
    expect([VXLAN_IPV4_MTU_OVERHEAD, VXLAN_IPV6_MTU_OVERHEAD]).toEqual([36, 56]);
    expect([vxlanOverlayMtuOverhead(4), vxlanOverlayMtuOverhead(6)]).toEqual([50, 70]);
    const { vx } = host6(1500);
    expect([vx.maxInnerFrame, vx.overlayMtu]).toEqual([1444, 1430]);
    const sock4 = new VtepSocketPort('vtep4', new MemoryUnderlay(parseIpv4('198.18.0.1')));
    const vx4 = new VxlanPort('vxlan1', { vni: 1, vtep: sock4, underlayMtu: 1500 });
    expect([vx4.maxInnerFrame, vx4.overlayMtu]).toEqual([1464, 1450]);
  });

  it('floods to the peers by number, learns a sender behind its number, then sends unicast to it only', () => {
    const { underlay, vx, a1, domain, settle } = host6();
    a1.inject(ethFrame(BROADCAST, A1, 0x0806));
    settle();
    expect(underlay.take().map((d) => underlay.vtepText(d.dst)).sort()).toEqual(['fd00::2', 'fd00::3']);
    const c = underlay.vtepNumber('fd00::9'); // a sender that is no peer: numbered when first seen
    underlay.inject(c, vxlanPayload(4097, ethFrame(A1, X)));
    settle();
    expect(a1.take()).toHaveLength(1);
    const e = domain.fdb.get(X)!;
    expect(e.port).toBe(vx);
    expect(vtepTextOf(underlay, e.remote)).toBe('fd00::9');
    a1.inject(ethFrame(X, A1));
    settle();
    expect(underlay.take().map((d) => underlay.vtepText(d.dst))).toEqual(['fd00::9']);
    // fdb show prints the address, not the number.
    const rows = fdbRows([{ record: { name: 'ov' }, domain } as unknown as NetworkRuntime], new Map(), 1000);
    expect(rows.find((r) => r.mac === '02:42:0a:14:00:09')).toMatchObject({ vtep: 'fd00::9', type: 'learned' });
    expect(rows.find((r) => r.mac === '02:42:0a:14:00:02')?.vtep).toBeNull();
  });

  it('answers a DF frame too big for the IPv6 underlay with frag-needed MTU 1430, and IPv6 with Packet Too Big 1430', () => {
    const { underlay, vx, a1, domain, settle } = host6(1500);
    domain.fdb.addStatic(X, vx, 0, vtepNumberOf(underlay, 'fd00::2'));
    // 1445-byte frame: an IP packet of 1431 > 1430; 1430 fits.
    const big = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 1431 - 40 });
    const fits = tcpFrame({ dst: X, src: A1, srcIp: '10.20.0.2', dstIp: '10.20.0.9', sport: 40000, dport: 5201, payloadLen: 1430 - 40 });
    a1.inject(big.frame);
    a1.inject(fits.frame);
    settle();
    expect(underlay.take().map((d) => [d.payload.length, underlay.vtepText(d.dst)])).toEqual([[8 + 1444, 'fd00::2']]);
    const back = a1.take();
    expect(back).toHaveLength(1);
    const f = back[0].frame;
    const icmp = 14 + 20;
    expect([f[icmp], f[icmp + 1]]).toEqual([3, 4]);
    expect((f[icmp + 6] << 8) | f[icmp + 7]).toBe(1430);
    expect(internetChecksum(f, icmp, f.length - icmp)).toBe(0);

    const big6 = l4Frame6({ dst: X, src: A1, srcIp: 'fd00:20::2', dstIp: 'fd00:20::9', proto: 17, sport: 40000, dport: 5201, payloadLen: 1431 - 48 });
    a1.inject(big6.frame);
    settle();
    expect(underlay.take()).toHaveLength(0);
    const tb = a1.take()[0].frame;
    expect(tb[14 + 6]).toBe(58); // ICMPv6
    expect([tb[54], tb[55]]).toEqual([2, 0]); // Packet Too Big
    expect(((tb[58] << 24) | (tb[59] << 16) | (tb[60] << 8) | tb[61]) >>> 0).toBe(1430);
  });

  it('traces with IPv6 VTEP text: the local VTEP in brackets, the peers and a known remote by address', () => {
    const { sw, underlay, vx, a1, domain } = host6();
    expect(localVtepText(underlay)).toBe('[fd00::1]:4789');
    const r = sw.trace(a1, ethFrame(BROADCAST, A1, 0x0806));
    expect(r.records.find((x) => x.stage === 'overlay-mtu')?.decision).toBe('fits; encapsulate VNI 4097 from [fd00::1]:4789 -> head-end to 2 peers (fd00::2, fd00::3)');
    domain.fdb.addStatic(X, vx, 0, vtepNumberOf(underlay, 'fd00::3'));
    expect(sw.trace(a1, ethFrame(X, A1)).records.find((x) => x.stage === 'overlay-mtu')?.decision).toMatch(/-> VTEP fd00::3$/);
  });
});
