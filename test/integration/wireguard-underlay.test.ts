/**
 * The encrypted VTEP (src/dataplane/wireguard/wireguard-underlay.ts over native/src/wg_transport.c)
 * between two switches on this event loop, inside a test namespace, over its loopback (127.0.0.1 and
 * 127.0.0.2): the handshake, frames both ways, GSO super-frames segmented before sealing, per-peer
 * state, and hostile datagrams from a third socket (tampered, replayed, truncated, unknown index,
 * unknown static key) dropped by reason while the session survives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../src/dataplane/layout.js';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { VtepSocketPort } from '../../src/dataplane/ports/vtep-socket-port.js';
import { VxlanPort } from '../../src/dataplane/ports/vxlan-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { createInitiation } from '../../src/dataplane/wireguard/noise-handshake.js';
import { WireguardUnderlay } from '../../src/dataplane/wireguard/wireguard-underlay.js';
import { native } from '../../src/native/addon.js';
import { wgNative } from '../../src/native/wireguard-addon.js';
import { parseIpv4 } from '../../src/packet/ipv4.js';
import { BROADCAST, ethFrame, tcpChecksumsValid, tcpFrame } from '../helpers/frames.js';
import { readFileSync } from 'node:fs';
import { addNetns, delNetns, kill, nsExec, nsSpawn, privilegedSkipReason, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason(['tcpdump']);
if (skip) console.warn(`skipping WireGuard VTEP tests: ${skip}`);

const A1 = 0x02420a160002;
const B1 = 0x02420a160003;

let cleanup: (() => Promise<void> | void)[] = [];
const logs: string[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function identity() {
  const n = wgNative();
  const privateKey = n.wgGenerateKey();
  return { privateKey, publicKey: n.wgX25519PublicKey(privateKey) };
}

async function twoHosts(rekeyAfterMs?: number, wrongKeyForB = false) {
  const ns = `tsnt-${uniqueTag()}-w`;
  await addNetns(ns);
  cleanup.push(() => delNetns(ns));
  const netns = `/var/run/netns/${ns}`;
  const port = 20000 + Math.floor(Math.random() * 30000);
  const ids = { a: identity(), b: identity() };
  const mk = (ip: string, peerIp: string, mac: number, me: 'a' | 'b') => {
    const sw = new SwitchEngine({ poolSlots: 128 });
    cleanup.push(() => sw.close());
    const other = me === 'a' ? ids.b : ids.a;
    const wg = new WireguardUnderlay(ip, port, { identity: ids[me], vxlanPort: 4789, tunnelMtu: 65535 - 60, netns, rekeyAfterMs, log: (m) => logs.push(m) });
    wg.setPeers([{ publicKey: wrongKeyForB && me === 'a' ? identity().publicKey : other.publicKey, vtep: peerIp, endpoint: peerIp, port }]);
    const sock = new VtepSocketPort(`wg-${ip}`, wg);
    sw.addDetachedPort(sock);
    const domain = sw.createDomain('ov');
    const vx = new VxlanPort('vxlan42', { vni: 42, vtep: sock, peers: [parseIpv4(peerIp)], underlayMtu: 65535 });
    sock.attach(vx);
    sw.addPort(vx, domain);
    const local = new MemoryPort('c', { ownMac: mac });
    sw.addPort(local, domain);
    return { sw, sock, vx, local, wg };
  };
  return { ns, netns, port, ids, a: mk('127.0.0.1', '127.0.0.2', A1, 'a'), b: mk('127.0.0.2', '127.0.0.1', B1, 'b') };
}

type Host = Awaited<ReturnType<typeof twoHosts>>['a'];

/** Send `frame` from a until b's container port got one more frame (the first tries start the handshake). */
async function deliver(from: Host, to: Host, frame: Uint8Array): Promise<void> {
  const before = to.local.sent.length;
  const end = Date.now() + 8000;
  while (to.local.sent.length === before) {
    if (Date.now() > end) throw new Error(`not delivered; drops at the sender: ${JSON.stringify(from.sock.counters.dropsByReason())}, receiver: ${JSON.stringify(to.sock.counters.dropsByReason())}`);
    from.local.inject(frame);
    from.sw.drain();
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip !== null)('WireGuard VTEP (Noise_IKpsk2 handshake, ChaCha20-Poly1305 in C)', () => {
  it('makes a session on first traffic, carries frames both ways, cuts super-frames before sealing and coalesces them again after opening', async () => {
    const { a, b } = await twoHosts();
    // Sent once with no session: staged while the handshake it starts runs, then delivered, as
    // WireGuard queues packets during a handshake (nothing dropped).
    const hello = ethFrame(BROADCAST, A1, 0x0806, Array.from({ length: 46 }, (_, i) => i));
    a.local.inject(hello);
    a.sw.drain();
    await until(() => b.local.sent.length === 1);
    const got = b.local.take();
    expect(Buffer.from(got[0].frame).equals(Buffer.from(hello))).toBe(true);
    expect(a.sock.counters.dropCount('wg-no-session')).toBe(0);
    expect(b.sw.domains.get('ov')!.fdb.get(A1)!.remote).toBe(parseIpv4('127.0.0.1')); // learned behind the inner source
    const pa = a.wg.describePeers()[0];
    expect(pa.Session).toBe('established');
    expect(pa.Handshakes).toBe(1);
    expect(pa.LatestHandshakeAgeSeconds).toBeLessThan(5);
    expect(pa.TransferTx).toBeGreaterThan(0);
    expect(pa.Endpoint).toBe(`127.0.0.2:${a.wg.port}`);

    // b answers on the session a initiated (b became able to send once a's keepalive confirmed it).
    const back = ethFrame(A1, B1, 0x88b5, Array.from({ length: 300 }, (_, i) => i & 0xff));
    await deliver(b, a, back);
    expect(Buffer.from(a.local.take().pop()!.frame).equals(Buffer.from(back))).toBe(true);
    expect(b.wg.describePeers()[0].Session).toBe('established');
    expect(b.wg.describePeers()[0].TransferRx).toBeGreaterThan(0);

    // 100 equal datagrams leave as UDP_SEGMENT runs and may arrive as one GRO message of 64 that do
    // not coalesce (not TCP): more than a 64-slot burst has spares for; the rest waits in the backlog.
    const burst = Array.from({ length: 100 }, (_, i) => ethFrame(B1, A1, 0x88b5, Array.from({ length: 200 }, () => i)));
    for (const f of burst) a.local.inject(f);
    a.sw.drain();
    await until(() => b.local.sent.length === 100);
    expect(b.local.take().map((f) => f.frame[20])).toEqual(burst.map((_, i) => i));

    const sf = tcpFrame({ dst: B1, src: A1, srcIp: '10.22.0.2', dstIp: '10.22.0.3', sport: 40000, dport: 5201, payloadLen: 30000, partialCsum: true });
    a.local.inject(sf.frame, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1400, csumStart: sf.csumStart, csumOffset: sf.csumOffset });
    a.sw.drain();
    // Cut into 22 segments before sealing; b coalesces the decrypted segments back into super-frames
    // (the TCP GRO rules of a plain VTEP), so its port takes far fewer frames, with GSO fields.
    const segs = Math.ceil(30000 / 1400);
    const payloadOf = (fs: { frame: Uint8Array }[]) => fs.reduce((n, f) => n + f.frame.length - 54, 0);
    await until(() => payloadOf(b.local.sent) === 30000);
    const got2 = b.local.take();
    expect(got2.length).toBeLessThan(segs);
    const whole = got2.filter((f) => f.vnet.gsoType === GSO_TCPV4);
    expect(whole.length).toBeGreaterThan(0);
    expect(whole.every((f) => f.vnet.gsoSize === 1400 && (f.vnet.flags & VNET_F_NEEDS_CSUM) !== 0)).toBe(true);
    const parts = got2.flatMap((f) => (f.vnet.gsoType === GSO_TCPV4 ? native().segment(f.frame, f.vnet) : [f.frame]));
    expect(parts.length).toBe(segs);
    expect(parts.every((f) => tcpChecksumsValid(f))).toBe(true);
    expect(Buffer.concat(parts.map((f) => f.subarray(54))).equals(Buffer.from(sf.frame.subarray(54)))).toBe(true);
    expect(a.vx.sendCalls).toBeGreaterThan(0);
    expect(b.sock.counters.totalDrops()).toBe(0);
  });

  it('rekeys after REKEY_AFTER_TIME (shortened) while traffic flows, without losing a frame', async () => {
    const { a, b } = await twoHosts(1000);
    await deliver(a, b, ethFrame(BROADCAST, A1, 0x0806));
    b.local.take();
    const first = a.wg.describePeers()[0].Handshakes;
    let sent = 0;
    const end = Date.now() + 3500;
    while (Date.now() < end) {
      for (let i = 0; i < 10; i++) a.local.inject(ethFrame(B1, A1, 0x88b5, [sent++ & 0xff, ...new Array(60).fill(1)]));
      a.sw.drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => b.local.sent.length === sent, 3000).catch(() => undefined);
    expect(a.wg.describePeers()[0].Handshakes, logs.join('\n')).toBeGreaterThanOrEqual(first + 2);
    // Frames sent while a new session was being made went on the old one: none lost.
    expect(b.local.sent.length).toBe(sent);
    expect(b.sock.counters.totalDrops()).toBe(0);
  });

  it('drops tampered, replayed, truncated, unknown-index and unknown-key messages from another socket by reason; the session survives', async () => {
    const { ns, port, a, b } = await twoHosts();
    await deliver(a, b, ethFrame(BROADCAST, A1, 0x0806));
    b.local.take();
    // Capture two real transport messages from a to b.
    const file = `/tmp/tsnet-wg-${uniqueTag()}.pcap`;
    cleanup.push(() => void nsExec(ns, 'rm', ['-f', file]).catch(() => undefined));
    const dump = nsSpawn(ns, 'tcpdump', ['-i', 'lo', '-U', '-w', file, '-c', '2', 'udp', 'and', 'src', 'host', '127.0.0.1', 'and', 'dst', 'port', String(port), 'and', 'udp[8] = 4']);
    cleanup.push(() => kill(dump));
    let err = '';
    dump.stderr!.on('data', (d) => (err += d));
    await until(() => err.includes('listening on'));
    for (let i = 0; i < 2; i++) await deliver(a, b, ethFrame(B1, A1, 0x88b5, new Array(64).fill(i)));
    await until(() => dump.exitCode !== null);
    const pcap = readFileSync(file);
    const msgs: Buffer[] = [];
    for (let o = 24; o + 16 <= pcap.length; ) {
      const caplen = pcap.readUInt32LE(o + 8);
      msgs.push(pcap.subarray(o + 16 + 14 + 20 + 8, o + 16 + caplen)); // Ethernet (lo), IPv4, UDP
      o += 16 + caplen;
    }
    expect(msgs).toHaveLength(2);
    expect(msgs.every((m) => m[0] === 4)).toBe(true);
    const tampered = Buffer.from(msgs[0]);
    tampered.writeBigUInt64LE(tampered.readBigUInt64LE(8) + 1000n, 8); // an unseen counter, so the tag is what fails
    tampered[40] ^= 0x01;
    const badIndex = Buffer.from(msgs[1]);
    badIndex.writeUInt32LE((badIndex.readUInt32LE(4) ^ 0x5a5a0000) >>> 0, 4);
    const stranger = createInitiation(identity(), b.wg.publicKey, 1234, null).message;
    const before = b.sock.counters.dropsByReason();
    const send = async (hex: string[]) =>
      nsExec(ns, 'python3', ['-c', `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.3',0))\nfor h in sys.argv[1:]: s.sendto(bytes.fromhex(h),('127.0.0.2',${port}))`, ...hex]);
    await send([tampered, msgs[0], msgs[1], msgs[0].subarray(0, 20), badIndex, Buffer.from(stranger), Buffer.from('09000000deadbeef', 'hex')].map((m) => Buffer.from(m).toString('hex')));
    const want = { 'wg-bad-mac': 1, 'wg-replay': 2, 'wg-malformed': 2, 'wg-no-session': 1, 'wg-unknown-peer': 1 };
    await until(() => Object.entries(want).every(([k, v]) => (b.sock.counters.dropsByReason()[k] ?? 0) - (before[k] ?? 0) === v)).catch(() => {
      throw new Error(`drops ${JSON.stringify(b.sock.counters.dropsByReason())} (before ${JSON.stringify(before)}), wanted +${JSON.stringify(want)}`);
    });
    // None of it moved b's idea of where a is, and the session carries frames as before.
    expect(b.wg.describePeers()[0].Endpoint).toBe(`127.0.0.1:${port}`);
    const after = ethFrame(B1, A1, 0x88b5, new Array(64).fill(9));
    a.local.inject(after);
    a.sw.drain();
    await until(() => b.local.sent.some((f) => Buffer.from(f.frame).equals(Buffer.from(after))));
    expect(b.wg.describePeers()[0].Session).toBe('established');
  });

  it('with a wrong key for the peer: no session, a clear state, nothing crosses', async () => {
    const { a, b } = await twoHosts(undefined, true);
    for (let i = 0; i < 5; i++) {
      a.local.inject(ethFrame(BROADCAST, A1, 0x0806));
      a.sw.drain();
      await new Promise((r) => setTimeout(r, 100));
    }
    await until(() => b.sock.counters.dropCount('wg-bad-mac') >= 1); // b: mac1 is not for its key
    expect(b.local.sent).toHaveLength(0);
    const pa = a.wg.describePeers()[0];
    expect(pa.Session).toBe('handshake-sent');
    expect(pa.LatestHandshake).toBeNull();
    expect(pa.HandshakeAttempts).toBeGreaterThanOrEqual(1);
    expect(pa.Staged).toBe(5); // waiting for a session that cannot come: kept, not sent in clear, not yet dropped
    expect(a.sock.counters.dropCount('wg-no-session')).toBe(0);
    for (let i = 0; i < 125; i++) a.local.inject(ethFrame(BROADCAST, A1, 0x0806));
    a.sw.drain();
    expect(a.wg.describePeers()[0].Staged).toBe(128); // the stage's limit: the oldest two went, counted
    expect(a.sock.counters.dropCount('wg-no-session')).toBe(2);
  });
});
