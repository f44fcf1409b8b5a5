/**
 * The addon's VTEP sockets (native/src/udp_vtep.c) between two switches on this event loop, inside a
 * test namespace, over its loopback (127.0.0.1 and 127.0.0.2 on one port): recvmmsg/sendmmsg bursts,
 * GSO super-frames segmented and sent with UDP_SEGMENT and coalesced again on receive (UDP_GRO), outer
 * headers as tcpdump sees them (DF, TTL 64, source port from the transmit sockets), a busy port refused
 * by name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../src/dataplane/layout.js';
import { UdpUnderlay } from '../../src/dataplane/overlay/udp-underlay.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { native, VST_RX_TUNNEL_GSO } from '../../src/native/addon.js';
import { parseIpv4 } from '../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, tcpChecksumsValid, tcpFrame } from '../helpers/frames.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, privilegedSkipReason, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping VTEP socket tests: ${skip}`);

const A1 = 0x02420a150002;
const B1 = 0x02420a150003;

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function twoHosts() {
  const ns = `tsnt-${uniqueTag()}-u`;
  await addNetns(ns);
  cleanup.push(() => delNetns(ns));
  const netnsPath = `/var/run/netns/${ns}`;
  const port = 20000 + Math.floor(Math.random() * 30000);
  const mk = (ip: string, peer: string, mac: number) => {
    const sw = new SwitchEngine({ poolSlots: 128 });
    cleanup.push(() => sw.close());
    const sock = new VtepSocketPort(`vtep-${ip}`, new UdpUnderlay(ip, port, { netns: netnsPath, txSockets: 4 }));
    sw.addDetachedPort(sock);
    const domain = sw.createDomain('ov');
    const vx = new VxlanPort('vxlan42', { vni: 42, vtep: sock, peers: [parseIpv4(peer)], underlayMtu: 65535 });
    sock.attach(vx);
    sw.addPort(vx, domain);
    const local = new MemoryPort('c', { ownMac: mac });
    sw.addPort(local, domain);
    return { sw, sock, vx, local };
  };
  return { ns, port, a: mk('127.0.0.1', '127.0.0.2', A1), b: mk('127.0.0.2', '127.0.0.1', B1) };
}

describe.skipIf(skip !== null)('VTEP sockets (recvmmsg/sendmmsg)', () => {
  it('carries frames both ways, learns the remote VTEP, segments GSO with UDP_SEGMENT and coalesces it on receive', async () => {
    const { a, b } = await twoHosts();
    const hello = ethFrame(BROADCAST, A1, 0x0806);
    a.local.inject(hello);
    a.sw.drain();
    await until(() => b.local.sent.length === 1);
    expect(Buffer.from(b.local.take()[0].frame).equals(Buffer.from(hello))).toBe(true);
    expect(b.sw.domains.get('ov')!.fdb.get(A1)!.remote).toBe(parseIpv4('127.0.0.1'));

    // Not IP: hashed by MACs, so one flow, one transmit socket, order kept.
    const burst = Array.from({ length: 100 }, (_, i) => ethFrame(A1, B1, 0x88b5, Array.from({ length: 200 }, () => i)));
    for (const f of burst) b.local.inject(f);
    b.sw.drain();
    await until(() => a.local.sent.length === 100);
    expect(a.local.take().map((f) => f.frame[20])).toEqual(burst.map((_, i) => i)); // in order
    expect(b.vx.sendCalls).toBeLessThan(10); // batched: one sendmmsg per socket per burst

    const sf = tcpFrame({ dst: B1, src: A1, srcIp: '10.21.0.2', dstIp: '10.21.0.3', sport: 40000, dport: 5201, payloadLen: 60000, partialCsum: true });
    a.local.inject(sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1400, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
    a.sw.drain();
    const segs = Math.ceil(60000 / 1400);
    await until(() => b.local.sent.length >= 1 && b.vx.counters.rxPackets >= 1);
    expect(a.vx.counters.txSegments).toBe(segs);
    expect(a.vx.sendCalls).toBeLessThanOrEqual(2); // the super-frame left in one or two UDP_SEGMENT messages
    // UDP_GRO kept each UDP_SEGMENT message whole and the receiver coalesced its datagrams again.
    await new Promise((r) => setTimeout(r, 100));
    const got = b.local.take();
    expect(got.length).toBeLessThanOrEqual(2);
    expect(got.every((f) => f.vnet.gsoType === GSO_TCPV4 && f.vnet.gsoSize === 1400)).toBe(true);
    expect(Buffer.concat(got.map((f) => f.frame.subarray(54))).equals(Buffer.from(sf.frame.subarray(54)))).toBe(true);
    const again = got.flatMap((f) => native().segment(f.frame.slice(), f.vnet));
    expect(again).toHaveLength(segs);
    expect(again.every((f) => tcpChecksumsValid(f))).toBe(true);
  });

  it('sets DF and TTL 64 on the outer header and takes the source port from a transmit socket, per inner flow', async () => {
    const { ns, port, a, b } = await twoHosts();
    const flows = 16;
    const dump = nsSpawn(ns, 'tcpdump', ['-i', 'lo', '-nn', '-v', '-l', '-T', 'vxlan', '-c', String(1 + 2 * flows), 'udp', 'and', 'dst', 'port', String(port)]);
    cleanup.push(() => kill(dump));
    let out = '';
    let err = '';
    dump.stdout!.on('data', (d) => (out += d));
    dump.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('listening on'));
    a.local.inject(ethFrame(BROADCAST, A1, 0x0806));
    a.sw.drain();
    await until(() => b.local.sent.length === 1);
    // Two frames of each of 16 TCP flows (different source ports), in two bursts.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < flows; i++) a.local.inject(tcpFrame({ dst: B1, src: A1, srcIp: '10.21.0.2', dstIp: '10.21.0.3', sport: 40000 + i, dport: 80, payloadLen: 10 }).frame);
      a.sw.drain();
    }
    await until(() => dump.exitCode !== null);
    expect(out).toMatch(/ttl 64,.*flags \[DF\].*proto UDP/);
    // One block per packet (a line with a timestamp, then its continuation lines); VXLAN decoded by -T.
    const pairs = out
      .split(/\n(?=\d\d:\d\d:\d\d\.)/)
      .map((block) => ({ outer: /127\.0\.0\.1\.(\d+) > 127\.0\.0\.2\.(\d+): VXLAN/.exec(block), inner: /10\.21\.0\.2\.(\d+) > 10\.21\.0\.3\.80/.exec(block) }))
      .filter((m) => m.outer && m.inner)
      .map((m) => ({ outer: Number(m.outer![1]), dport: Number(m.outer![2]), inner: Number(m.inner![1]) }));
    expect(pairs).toHaveLength(2 * flows);
    expect(pairs.every((p) => p.dport === port && a.sock.underlay.sourcePorts.includes(p.outer))).toBe(true);
    const byFlow = new Map<number, Set<number>>();
    for (const p of pairs) byFlow.set(p.inner, (byFlow.get(p.inner) ?? new Set()).add(p.outer));
    expect([...byFlow.values()].every((s) => s.size === 1)).toBe(true); // one flow, one outer source port
    expect(new Set(pairs.map((p) => p.outer)).size).toBeGreaterThan(2); // flows spread over the sockets
  });

  it('sends every segment of a super-frame with complete checksums (as a plain UDP receiver sees them)', async () => {
    const { ns, port, a } = await twoHosts();
    // A plain socket (no UDP_GRO) on a third address: the kernel cuts our UDP_SEGMENT messages for it.
    const collector = nsSpawn(ns, process.execPath, [
      '-e',
      `const s=require('dgram').createSocket('udp4');const out=[];s.on('message',(m)=>{out.push(m.toString('hex'));if(out.length===${Math.ceil(30000 / 1400)}){console.log(JSON.stringify(out));process.exit(0)}});s.bind(${port},'127.0.0.3',()=>console.error('bound'));setTimeout(()=>{console.log(JSON.stringify(out));process.exit(0)},4000)`,
    ]);
    cleanup.push(() => kill(collector));
    let out = '';
    let err = '';
    collector.stdout!.on('data', (d) => (out += d));
    collector.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('bound'));
    a.vx.setPeers([parseIpv4('127.0.0.3')]);
    const X = 0x02420a150009;
    const sf = tcpFrame({ dst: X, src: A1, srcIp: '10.21.0.2', dstIp: '10.21.0.9', sport: 40000, dport: 5201, payloadLen: 30000, partialCsum: true });
    a.local.inject(sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1400, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
    a.sw.drain();
    await until(() => collector.exitCode !== null);
    const dgrams = (JSON.parse(out) as string[]).map((h) => Buffer.from(h, 'hex'));
    expect(dgrams).toHaveLength(Math.ceil(30000 / 1400));
    expect(dgrams.every((d) => d[0] === 0x08 && d.readUIntBE(4, 3) === 42)).toBe(true);
    const inner = dgrams.map((d) => new Uint8Array(d.subarray(8)));
    expect(inner.every((f) => tcpChecksumsValid(f))).toBe(true);
    expect(Buffer.concat(inner.map((f) => f.subarray(54))).equals(Buffer.from(sf.frame.subarray(54)))).toBe(true);
    expect(inner.map((f) => f[47])).toEqual(inner.map((_, i) => (i === inner.length - 1 ? 0x18 : 0x10))); // PSH on the last only
  });

  it('drops a GRO message whose first datagram forges its inner length over the next ones (issue 19: cross-tenant leak)', async () => {
    const { ns, port, a } = await twoHosts();
    // A second tenant on the same VTEP: VNI 43.
    const domain = a.sw.createDomain('ov43');
    const vx43 = new VxlanPort('vxlan43', { vni: 43, vtep: a.sock, peers: [parseIpv4('127.0.0.2')], underlayMtu: 65535 });
    a.sock.attach(vx43);
    a.sw.addPort(vx43, domain);
    const victim = new MemoryPort('v', { ownMac: A1 + 1 });
    a.sw.addPort(victim, domain);
    a.sock.start();
    // Three 1062-byte datagrams from one peer socket (one outer 5-tuple), sent with UDP_SEGMENT so
    // that the receiver's UDP_GRO hands them over as one message: tenant VNI 42's first, its inner
    // IPv4 total length forged to span all three (3 x 1062 - 22); then two of tenant VNI 43's.
    const seg = 1062;
    const vx = (vni: number, inner: Uint8Array) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0]), inner]);
    const forged = tcpFrame({ dst: A1, src: B1, srcIp: '10.21.0.3', dstIp: '10.21.0.2', sport: 40000, dport: 80, payloadLen: seg - 8 - 54 }).frame;
    forged[16] = ((3 * seg - 22) >> 8) & 0xff;
    forged[17] = (3 * seg - 22) & 0xff;
    forged[24] = forged[25] = 0;
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += (forged[i] << 8) | forged[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    forged[24] = (~sum >> 8) & 0xff;
    forged[25] = ~sum & 0xff;
    const secret = (i: number) => tcpFrame({ dst: A1 + 1, src: 0x02420a1500aa, srcIp: '10.22.0.9', dstIp: '10.22.0.2', sport: 41000, dport: 443, seq: 1 + i * 1000, payloadLen: seg - 8 - 54 }).frame;
    const message = Buffer.concat([vx(42, forged), vx(43, secret(0)), vx(43, secret(1))]);
    expect(message.length).toBe(3 * seg);
    const py = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("127.0.0.2",0))\ns.setsockopt(17,103,${seg})\ns.sendto(bytes.fromhex(sys.argv[1]),("127.0.0.1",${port}))`;
    await nsExec(ns, 'python3', ['-c', py, message.toString('hex')]);
    const seen = () => a.sock.counters.dropCount('vxlan-ambiguous-gro') + a.local.sent.length + victim.sent.length;
    await until(() => seen() > 0);
    await new Promise((r) => setTimeout(r, 100));
    const victimMac = Buffer.from([0x02, 0x42, 0x0a, 0x15, 0x00, 0xaa]);
    const toTenant42 = a.local.take();
    expect(toTenant42.filter((f) => Buffer.from(f.frame).includes(victimMac))).toHaveLength(0); // nothing of VNI 43 reached VNI 42
    expect(a.sock.underlay.status[VST_RX_TUNNEL_GSO]).toBe(0);
    expect(a.sock.counters.dropCount('vxlan-ambiguous-gro')).toBe(1);
  });

  it('refuses a busy port and a foreign address, naming them', async () => {
    const { ns, port } = await twoHosts();
    const netns = `/var/run/netns/${ns}`;
    expect(() => new UdpUnderlay('127.0.0.1', port, { netns })).toThrow(new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    try {
      new UdpUnderlay('198.18.99.1', 0, { netns });
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe('EADDRNOTAVAIL');
      expect((err as Error).message).toMatch(/198\.18\.99\.1:0/);
    }
  });
});
