/**
 * The AF_PACKET uplink (native/src/af_packet.c through PacketPort) on a real veth pair, one packet
 * socket on each end, each in its own namespace: bursts both ways, GSO super-frames and partial
 * checksums crossing whole (virtio-net header), an 802.1Q tag the kernel strips put back, the kernel
 * socket filter (hundreds of members; a program the socket's optmem_max cannot hold), unicast
 * membership on a parent without a unicast filter, parent down and up, errors.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FramePool } from '../../src/dataplane/frame-pool.js';
import { DESC_STRIDE, D_GSO_SIZE, D_GSO_TYPE, D_VFLAGS, GSO_TCPV4, VNET_F_NEEDS_CSUM } from '../../src/dataplane/layout.js';
import { PacketPort } from '../../src/dataplane/ports/packet-port.js';
import { Rtnetlink } from '../../src/control/rtnetlink.js';
import { addNetns, delNetns, nsExec, privilegedSkipReason, sh, uniqueTag } from '../helpers/netns.js';
import { ethFrame, macBytes, tcpFrame } from '../helpers/frames.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping AF_PACKET uplink tests: ${skip}`);

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
  cleanup = [];
});

const MAC_A = 0x02aa00000001;
const MAC_B = 0x02bb00000002;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Two namespaces joined by a veth pair `a` <-> `b`, a packet socket on each end. */
async function pair() {
  const tag = uniqueTag();
  const nsA = `tsnt-${tag}-pa`;
  const nsB = `tsnt-${tag}-pb`;
  cleanup.push(() => delNetns(nsA), () => delNetns(nsB));
  await addNetns(nsA);
  await addNetns(nsB);
  await sh('ip', ['link', 'add', `pa${tag}`, 'type', 'veth', 'peer', 'name', `pb${tag}`]);
  await sh('ip', ['link', 'set', `pa${tag}`, 'netns', nsA, 'name', 'a']);
  await sh('ip', ['link', 'set', `pb${tag}`, 'netns', nsB, 'name', 'b']);
  await sh('ip', ['-n', nsA, 'link', 'set', 'dev', 'a', 'address', '02:aa:00:00:00:01', 'up']);
  await sh('ip', ['-n', nsB, 'link', 'set', 'dev', 'b', 'address', '02:bb:00:00:00:02', 'up']);
  const a = PacketPort.open('a', { netns: `/var/run/netns/${nsA}` });
  const b = PacketPort.open('b', { netns: `/var/run/netns/${nsB}` });
  cleanup.push(() => a.close(), () => b.close());
  const pool = new FramePool(64);
  cleanup.push(() => pool.release());
  return { nsA, nsB, a, b, pool };
}

/** Load `frames` into the pool and send them out of `port`. */
function send(pool: FramePool, port: PacketPort, frames: { frame: Uint8Array; vnet?: Parameters<FramePool['load']>[2] }[]): void {
  frames.forEach((f, i) => pool.load(i, f.frame, f.vnet));
  const rows = Int32Array.from(frames.map((_, i) => i));
  port.transmit(pool, rows, rows.length);
}

/** Receive from `port` until `n` frames came or 2 s passed; frames copied out with their descriptor's vnet fields. */
async function receive(pool: FramePool, port: PacketPort, n: number, ms = 2000) {
  const got: { frame: Uint8Array; gsoType: number; gsoSize: number; flags: number }[] = [];
  const deadline = Date.now() + ms;
  while (got.length < n && Date.now() < deadline) {
    const k = port.receive(pool, 32, 32);
    for (let i = 0; i < k; i++) {
      const row = 32 + i;
      const d = row * DESC_STRIDE;
      got.push({ frame: pool.frame(row).slice(), gsoType: pool.desc[d + D_GSO_TYPE], gsoSize: pool.desc[d + D_GSO_SIZE], flags: pool.desc[d + D_VFLAGS] });
    }
    if (k === 0) await new Promise((r) => setTimeout(r, 10));
  }
  return got;
}

/** Frames to `dst` only (the namespaces' own IPv6 chatter filtered out by destination). */
const to = (dst: number) => (f: { frame: Uint8Array }) => hex(f.frame.subarray(0, 6)) === hex(Uint8Array.from(macBytes(dst)));

describe.skipIf(skip !== null)('PacketPort (AF_PACKET uplink)', () => {
  it('refuses a missing parent (ENODEV, named) and a non-Ethernet one (EPROTONOSUPPORT)', () => {
    expect(() => PacketPort.open('nosuch-if0')).toThrow(expect.objectContaining({ code: 'ENODEV', message: expect.stringMatching(/nosuch-if0/) }));
    expect(() => PacketPort.open('lo')).toThrow(expect.objectContaining({ code: 'EPROTONOSUPPORT' }));
  });

  it('moves a burst both ways byte for byte, with a 12-byte virtio-net header and our own frames never read back', async () => {
    const { a, b, pool } = await pair();
    expect(a.vnetHdrLen).toBe(12);
    expect(a.parentMac).toBe(MAC_A);
    a.setFilter(null, true);
    b.setFilter(null, true);
    const frames = Array.from({ length: 40 }, (_, i) => ethFrame(MAC_B, MAC_A, 0x88b5, Array.from({ length: 60 + i }, (_, k) => (k + i) & 0xff)));
    send(pool, a, frames.map((frame) => ({ frame })));
    expect(a.counters.txPackets).toBe(40);
    const got = (await receive(pool, b, 40)).filter(to(MAC_B));
    expect(got.map((g) => hex(g.frame))).toEqual(frames.map(hex));
    expect((await receive(pool, a, 1, 200)).filter(to(MAC_B))).toEqual([]); // PACKET_IGNORE_OUTGOING
  });

  it('carries a GSO super-frame with a partial checksum across whole', async () => {
    const { a, b, pool } = await pair();
    b.setFilter([MAC_B], false);
    const t = tcpFrame({ dst: MAC_B, src: MAC_A, srcIp: '10.0.0.1', dstIp: '10.0.0.2', sport: 1234, dport: 80, payloadLen: 20000, partialCsum: true });
    send(pool, a, [{ frame: t.frame, vnet: { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: t.csumStart, csumOffset: t.csumOffset } }]);
    const got = await receive(pool, b, 1);
    expect(got).toHaveLength(1);
    expect(got[0].frame.length).toBe(t.frame.length);
    expect(got[0].gsoType).toBe(GSO_TCPV4);
    expect(got[0].gsoSize).toBe(1448);
    expect(got[0].flags & VNET_F_NEEDS_CSUM).toBe(VNET_F_NEEDS_CSUM);
    expect(hex(got[0].frame)).toBe(hex(t.frame));
  });

  it('puts back the 802.1Q tag the kernel strips before a packet socket sees the frame', async () => {
    const { a, b, pool } = await pair();
    b.setFilter([MAC_B], false);
    const tagged = ethFrame(MAC_B, MAC_A, 0x8100, [0x20, 0x0a, 0x88, 0xb5, ...Array.from({ length: 50 }, (_, i) => i)]); // PCP 1, VID 10
    send(pool, a, [{ frame: tagged }]);
    const got = await receive(pool, b, 1);
    expect(got.map((g) => hex(g.frame))).toEqual([hex(tagged)]);
    expect(b.vlanRestored).toBe(1);
  });

  it('filters in the kernel: only member MACs and, if asked, group addresses come through', async () => {
    const { a, b, pool } = await pair();
    const X = 0x02cc00000003;
    b.setFilter([X], false);
    send(pool, a, [{ frame: ethFrame(MAC_B, MAC_A, 0x88b5) }, { frame: ethFrame(X, MAC_A, 0x88b5) }, { frame: ethFrame(0xffffffffffff, MAC_A, 0x88b5) }]);
    let got = await receive(pool, b, 3, 500);
    expect(got.map((g) => hex(g.frame.subarray(0, 6)))).toEqual(['02cc00000003']);
    b.setFilter([X], true);
    send(pool, a, [{ frame: ethFrame(MAC_B, MAC_A, 0x88b5) }, { frame: ethFrame(0xffffffffffff, MAC_A, 0x88b5) }]);
    got = (await receive(pool, b, 2, 500)).filter((g) => g.frame[12] === 0x88 && g.frame[13] === 0xb5); // not the namespaces' IPv6 chatter
    expect(got.map((g) => hex(g.frame.subarray(0, 6)))).toEqual(['ffffffffffff']);
  });

  it('keeps filtering with 400 members, the filter replaced at every join and leave as connects and disconnects do', async () => {
    const { a, b, pool } = await pair();
    const macs = Array.from({ length: 400 }, (_, i) => 0x02420a000002 + i);
    let len = 0;
    // The old program (5 instructions per MAC) hit ENOMEM near 270 members: replacing a filter charges
    // the new program while the old one is still charged against optmem_max (131072 by default).
    for (let n = 1; n <= macs.length; n++) len = b.setFilter(macs.slice(0, n), true);
    expect(b.filterState).toBe('attached');
    expect(b.filterFallbacks).toBe(0);
    expect(len).toBeLessThanOrEqual(2 * macs.length + 10);
    const stranger = 0x02420affffff;
    send(pool, a, [macs[399], stranger, macs[0]].map((dst) => ({ frame: ethFrame(dst, MAC_A, 0x88b5) })));
    const got = (await receive(pool, b, 2, 500)).filter((g) => g.frame[12] === 0x88 && g.frame[13] === 0xb5);
    expect(got.map((g) => hex(g.frame.subarray(0, 6)))).toEqual([macs[399], macs[0]].map((m) => hex(Uint8Array.from(macBytes(m)))));
    for (let n = macs.length - 1; n >= 0; n--) b.setFilter(macs.slice(0, n), true);
    expect(b.filterState).toBe('attached');
  });

  it("replaces a filter optmem_max cannot hold twice; one it cannot hold at all leaves the socket unfiltered, counted", async (ctx) => {
    const { nsB, a, b, pool } = await pair();
    // optmem_max is per network namespace since Linux 6.9 (a child namespace then has its own copy of
    // the file): lower only the test namespace's. Where it is global, skip: never touch the host's.
    const SYSCTL = '/proc/sys/net/core/optmem_max';
    const perNamespace = (await nsExec(nsB, 'sh', ['-c', `test -w ${SYSCTL} && echo yes || echo no`])).trim() === 'yes';
    if (!perNamespace) ctx.skip();
    const hostValue = readFileSync(SYSCTL, 'utf8');
    /** What the kernel charges to b's socket (ss: skmem o = sk_omem_alloc); b's is the only packet socket in nsB. */
    const omem = async () => {
      const m = /skmem:\([^)]*\bo(\d+)/.exec(await nsExec(nsB, 'ss', ['-0', '-m', '-n']));
      if (!m) throw new Error('ss shows no skmem for the packet socket');
      return Number(m[1]);
    };
    const macs = Array.from({ length: 60 }, (_, i) => 0x02420a000002 + i); // ss shows no skmem beside a filter of many hundred instructions
    const base = await omem();
    expect(b.setFilter(macs, true)).toBeGreaterThan(0);
    const charge = (await omem()) - base;
    expect(charge).toBeGreaterThan(0);

    // Room for one program but not two: the replacement detaches the old one first, then fits.
    await nsExec(nsB, 'sh', ['-c', `echo ${base + Math.floor(charge * 1.5)} > ${SYSCTL}`]);
    expect(readFileSync(SYSCTL, 'utf8')).toBe(hostValue);
    expect(b.setFilter(macs.slice(1), true)).toBeGreaterThan(0);
    expect(b.filterState).toBe('attached');
    expect(b.filterFallbacks).toBe(0);
    expect(await omem()).toBeLessThanOrEqual(base + charge);

    // Room for half a program: no filter (everything is read; correct, only slower), said and counted.
    await nsExec(nsB, 'sh', ['-c', `echo ${base + Math.floor(charge / 2)} > ${SYSCTL}`]);
    expect(b.setFilter(macs, true)).toBe(-1);
    expect(b.filterState).toBe('unfiltered-optmem');
    expect(b.filterFallbacks).toBe(1);
    expect(b.filterInstructions).toBe(0);
    expect(await omem()).toBe(base);
    const stranger = 0x02420affffff;
    send(pool, a, [{ frame: ethFrame(stranger, MAC_A, 0x88b5) }]);
    const got = (await receive(pool, b, 1, 500)).filter((g) => g.frame[12] === 0x88 && g.frame[13] === 0xb5);
    expect(got.map((g) => hex(g.frame.subarray(0, 6)))).toEqual([hex(Uint8Array.from(macBytes(stranger)))]);
  });

  it('asks the parent for member MACs; a veth has no unicast filter, so the kernel makes it promiscuous', async () => {
    const { nsB, b } = await pair();
    const nl = Rtnetlink.open(`/var/run/netns/${nsB}`);
    cleanup.push(() => nl.close());
    const idx = nl.linkIndex('b');
    const before = nl.linkInfo(idx).promiscuity ?? 0;
    b.addUnicast(0x02cc00000003);
    expect(nl.linkInfo(idx).promiscuity).toBe(before + 1);
    expect(b.unicastMacs).toEqual(['02:cc:00:00:00:03']);
    b.removeUnicast(0x02cc00000003);
    expect(nl.linkInfo(idx).promiscuity).toBe(before);
    b.setPromisc(true);
    expect(nl.linkInfo(idx).promiscuity).toBe(before + 1);
    b.close(); // closing drops the socket's memberships
    expect(nl.linkInfo(idx).promiscuity).toBe(before);
  });

  it('reports the parent going down (counted, and sends fail as uplink-down); frames flow again once it is up', async () => {
    const { nsA, nsB, a, b, pool } = await pair();
    b.setFilter([MAC_B], false);
    await sh('ip', ['-n', nsB, 'link', 'set', 'dev', 'b', 'down']);
    expect(await receive(pool, b, 1, 300)).toEqual([]);
    expect(b.downEvents).toBe(1);
    send(pool, b, [{ frame: ethFrame(MAC_A, MAC_B, 0x88b5) }]);
    expect(b.counters.dropCount('uplink-down')).toBe(1);
    await sh('ip', ['-n', nsB, 'link', 'set', 'dev', 'b', 'up']);
    await sh('ip', ['-n', nsA, 'link', 'set', 'dev', 'a', 'up']);
    await new Promise((r) => setTimeout(r, 200));
    const f = ethFrame(MAC_B, MAC_A, 0x88b5);
    send(pool, a, [{ frame: f }]);
    expect((await receive(pool, b, 1)).map((g) => hex(g.frame))).toEqual([hex(f)]);
  });
});
