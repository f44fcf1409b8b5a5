/**
 * The addon's VTEP sockets over IPv6 (native/src/udp_vtep.c with an IPv6 local address): two switches
 * on this event loop, inside a test namespace, fd00:99::1 and fd00:99::2 on its loopback (nodad). Frames
 * both ways with the sender learned by its number (vtep_addr6.h) and shown as its address, GSO
 * super-frames sent with UDP_SEGMENT and coalesced again with UDP_GRO over IPv6, the outer headers as
 * tcpdump sees them (IPv6, hop limit 64, UDP to the VTEP port from the transmit sockets' ports), the
 * datagram as a plain udp6 socket receives it (VXLAN header, VNI, I flag, complete inner checksums),
 * and the refusals (a busy port named [addr]:port, a number no address has).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../src/dataplane/layout.js';
import { UdpUnderlay } from '../../src/dataplane/overlay/udp-underlay.js';
import { vtepNumberOf, vtepTextOf } from '../../src/dataplane/overlay/underlay.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { native, TXS_DROP_ERR, TXS_LAST_ERRNO } from '../../src/native/addon.js';
import { BROADCAST, ethFrame, tcpChecksumsValid, tcpFrame } from '../helpers/frames.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, privilegedSkipReason, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping IPv6 VTEP socket tests: ${skip}`);

const A1 = 0x02420a170002;
const B1 = 0x02420a170003;
const IP_A = 'fd00:99::1';
const IP_B = 'fd00:99::2';

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
  const ns = `tsnt-${uniqueTag()}-u6`;
  await addNetns(ns);
  cleanup.push(() => delNetns(ns));
  for (const ip of [IP_A, IP_B, 'fd00:99::3']) await nsExec(ns, 'ip', ['addr', 'add', `${ip}/64`, 'dev', 'lo', 'nodad']);
  const netnsPath = `/var/run/netns/${ns}`;
  const port = 20000 + Math.floor(Math.random() * 30000);
  const mk = (ip: string, peer: string, mac: number) => {
    const sw = new SwitchEngine({ poolSlots: 128 });
    cleanup.push(() => sw.close());
    const underlay = new UdpUnderlay(ip, port, { netns: netnsPath, txSockets: 4 });
    const sock = new VtepSocketPort(`vtep-${ip}`, underlay);
    sw.addDetachedPort(sock);
    const domain = sw.createDomain('ov');
    const vx = new VxlanPort('vxlan42', { vni: 42, vtep: sock, peers: [vtepNumberOf(underlay, peer)], underlayMtu: 65535 });
    sock.attach(vx);
    sw.addPort(vx, domain);
    const local = new MemoryPort('c', { ownMac: mac });
    sw.addPort(local, domain);
    return { sw, sock, vx, local, underlay };
  };
  return { ns, port, a: mk(IP_A, IP_B, A1), b: mk(IP_B, IP_A, B1) };
}

describe.skipIf(skip !== null)('VTEP sockets over IPv6', () => {
  it('carries frames both ways, learns the sender by its number, segments GSO with UDP_SEGMENT and coalesces it with UDP_GRO', async () => {
    const { a, b } = await twoHosts();
    expect([a.underlay.family, a.underlay.localIp, a.underlay.localAddress]).toEqual([6, 0, IP_A]);
    const hello = ethFrame(BROADCAST, A1, 0x0806);
    a.local.inject(hello);
    a.sw.drain();
    await until(() => b.local.sent.length === 1);
    expect(Buffer.from(b.local.take()[0].frame).equals(Buffer.from(hello))).toBe(true);
    const remote = b.sw.domains.get('ov')!.fdb.get(A1)!.remote;
    expect(remote).toBe(1); // B numbered its peer fd00:99::1 first: the sender is that number
    expect(vtepTextOf(b.underlay, remote)).toBe(IP_A);
    expect(b.underlay.vtepNumber(IP_A)).toBe(remote);
    expect(b.underlay.addressCounts()).toEqual({ known: 1, refused: 0 });

    // Unicast back to the learned number only, in order.
    const burst = Array.from({ length: 50 }, (_, i) => ethFrame(A1, B1, 0x88b5, Array.from({ length: 200 }, () => i)));
    for (const f of burst) b.local.inject(f);
    b.sw.drain();
    await until(() => a.local.sent.length === 50);
    expect(a.local.take().map((f) => f.frame[20])).toEqual(burst.map((_, i) => i));

    const sf = tcpFrame({ dst: B1, src: A1, srcIp: '10.23.0.2', dstIp: '10.23.0.3', sport: 40000, dport: 5201, payloadLen: 60000, partialCsum: true });
    a.local.inject(sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1400, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
    a.sw.drain();
    const segs = Math.ceil(60000 / 1400);
    await until(() => b.local.sent.length >= 1);
    expect(a.vx.counters.txSegments).toBe(segs);
    expect(a.vx.sendCalls).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 100));
    const got = b.local.take();
    expect(got.length).toBeLessThanOrEqual(2);
    expect(got.every((f) => f.vnet.gsoType === GSO_TCPV4 && f.vnet.gsoSize === 1400)).toBe(true);
    expect(Buffer.concat(got.map((f) => f.frame.subarray(54))).equals(Buffer.from(sf.frame.subarray(54)))).toBe(true);
    const again = got.flatMap((f) => native().segment(f.frame.slice(), f.vnet));
    expect(again.every((f) => tcpChecksumsValid(f))).toBe(true);
  });

  it('sends UDP over IPv6 with hop limit 64 to the VTEP port, from the transmit sockets; a plain udp6 socket gets VXLAN with the VNI', async () => {
    const { ns, port, a } = await twoHosts();
    const dump = nsSpawn(ns, 'tcpdump', ['-i', 'lo', '-nn', '-v', '-l', '-c', '1', 'ip6', 'and', 'udp', 'and', 'dst', 'port', String(port)]);
    cleanup.push(() => kill(dump));
    let out = '';
    let err = '';
    dump.stdout!.on('data', (d) => (out += d));
    dump.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('listening on'));
    // A plain socket on a third address: the kernel cuts our UDP_SEGMENT messages for it.
    const n = Math.ceil(20000 / 1400);
    const collector = nsSpawn(ns, process.execPath, [
      '-e',
      `const s=require('dgram').createSocket({type:'udp6',ipv6Only:true});const out=[];s.on('message',(m,r)=>{out.push([m.toString('hex'),r.address]);if(out.length===${n}){console.log(JSON.stringify(out));process.exit(0)}});s.bind(${port},'fd00:99::3',()=>console.error('bound'));setTimeout(()=>{console.log(JSON.stringify(out));process.exit(0)},4000)`,
    ]);
    cleanup.push(() => kill(collector));
    let cout = '';
    let cerr = '';
    collector.stdout!.on('data', (d) => (cout += d));
    collector.stderr!.on('data', (d) => (cerr += d));
    await until(() => cerr.includes('bound'));
    a.vx.setPeers([vtepNumberOf(a.underlay, 'fd00:99::3')]);
    const sf = tcpFrame({ dst: 0x02420a170009, src: A1, srcIp: '10.23.0.2', dstIp: '10.23.0.9', sport: 40001, dport: 5201, payloadLen: 20000, partialCsum: true });
    a.local.inject(sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1400, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
    a.sw.drain();
    await until(() => collector.exitCode !== null);
    await until(() => dump.exitCode !== null);
    const dgrams = (JSON.parse(cout) as [string, string][]).map(([h, from]) => ({ d: Buffer.from(h, 'hex'), from }));
    expect(dgrams).toHaveLength(n);
    expect(dgrams.every(({ d, from }) => from === IP_A && d[0] === 0x08 && d.readUIntBE(1, 3) === 0 && d.readUIntBE(4, 3) === 42 && d[7] === 0)).toBe(true);
    const inner = dgrams.map(({ d }) => new Uint8Array(d.subarray(8)));
    expect(inner.every((f) => tcpChecksumsValid(f))).toBe(true);
    expect(Buffer.concat(inner.map((f) => f.subarray(54))).equals(Buffer.from(sf.frame.subarray(54)))).toBe(true);
    // tcpdump -v: "(flowlabel 0x..., hlim 64, next-header UDP (17) payload length: N) fd00:99::1.P > fd00:99::3.PORT"
    // (loopback passes the UDP_SEGMENT message uncut: one packet of all the datagrams)
    expect(out).toMatch(/hlim 64, next-header UDP \(17\) payload length: \d+\) fd00:99::1\.\d+ > fd00:99::3\.\d+/);
    const ports = [...out.matchAll(/fd00:99::1\.(\d+) > fd00:99::3\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.every(([s, d]) => d === port && a.underlay.sourcePorts.includes(s))).toBe(true);
  });

  it('refuses a busy port naming [address]:port, an address this host lacks, and a number no address has', async () => {
    const { ns, port, a } = await twoHosts();
    const netns = `/var/run/netns/${ns}`;
    expect(() => new UdpUnderlay(IP_A, port, { netns })).toThrow(new RegExp(`\\[fd00:99::1\\]:${port}.*EADDRINUSE`));
    expect(() => new UdpUnderlay('fd00:98::1', 0, { netns })).toThrow(/EADDRNOTAVAIL/);
    expect(() => native().vtepAddressNumber(0x7fff, IP_B)).toThrow(/not an open VTEP handle/);
    // A number the VTEP never gave: dropped and counted, nothing sent.
    a.vx.setPeers([77]);
    a.local.inject(ethFrame(BROADCAST, A1, 0x0806));
    a.sw.drain();
    expect(a.underlay.status[TXS_DROP_ERR]).toBe(1);
    expect(a.underlay.status[TXS_LAST_ERRNO]).toBe(89); // EDESTADDRREQ
    expect(a.underlay.vtepText(77)).toBe('(unknown VTEP #77)');
  });
});
