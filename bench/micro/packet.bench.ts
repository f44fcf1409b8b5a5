/**
 * Micro benchmarks of the packet views and checksums (vitest bench).
 *
 * - parse: Ethernet + IPv4 + TCP of a 74-byte SYN bound into a 20 MB pool, with reused views, the
 *   way a stage walks a burst (256 frames per iteration, rebinding the same three view objects).
 * - readMac: the two MAC reads every frame costs the L2 stages (256 frames per iteration).
 * - internetChecksum over 1500 bytes (an MTU frame), 64 KB (a TSO super-frame) and 20 bytes
 *   (an IPv4 header, 256 per iteration).
 * - incremental update: rewrite an IPv4 destination address and a port with RFC 1624 on the IP and
 *   TCP checksums (256 per iteration).
 *
 * Divide the x256 rows' time by 256 for a per-frame cost.
 *
 * Run: npx vitest bench --run bench/micro/packet.bench.ts
 */
import { bench, describe } from 'vitest';
import { checksumUpdate16, checksumUpdate32, internetChecksum } from '../../src/packet/checksum.js';
import { ETHERTYPE_IPV4, IPPROTO_TCP } from '../../src/packet/constants.js';
import { EthernetView } from '../../src/packet/ethernet.js';
import { Ipv4View } from '../../src/packet/ipv4.js';
import { readMac } from '../../src/packet/mac.js';
import { TcpView } from '../../src/packet/tcp.js';

// A real TCP SYN (Linux, 172.17.0.2:45206 > 172.17.0.1:80 with MSS, SACK, TS, WS options).
const SYN = Uint8Array.from(
  Buffer.from(
    '02427a3c519e0242ac11000208004500003c32e140004006afb5ac110002ac110001' +
      'b09600507027237a00000000a002faf06bc70000020405b40402080a38b20be5000000000103030a',
    'hex',
  ),
);

// The pool: 20 MB, frames every 2 KB slot after 256 bytes of headroom, like the data plane's.
const POOL_SIZE = 20 * 1024 * 1024;
const SLOT = 2048;
const HEADROOM = 256;
const pool = new Uint8Array(POOL_SIZE);
const SLOTS = 1024;
for (let i = 0; i < SLOTS; i++) pool.set(SYN, i * SLOT + HEADROOM);

const eth = new EthernetView();
const ip = new Ipv4View();
const tcp = new TcpView();
/** Frames per bench iteration: one burst, so the harness's per-call timing cost is spread out. */
const BURST = 256;
let slot = 0;
let sink = 0;

const mtu = new Uint8Array(1500);
const tso = new Uint8Array(65536);
for (let i = 0; i < tso.length; i++) tso[i] = (i * 7919) & 0xff;
mtu.set(tso.subarray(0, 1500));

describe('packet views (per burst of 256 frames)', () => {
  bench('parse Ethernet + IPv4 + TCP, reused views x256', () => {
    for (let n = 0; n < BURST; n++) {
      const off = slot * SLOT + HEADROOM;
      slot = (slot + 1) & (SLOTS - 1);
      if (eth.bind(pool, off, SYN.length) !== 'ok' || eth.ethertype !== ETHERTYPE_IPV4) continue;
      if (ip.bind(pool, eth.payloadOffset, eth.payloadLength) !== 'ok' || ip.protocol !== IPPROTO_TCP) continue;
      if (tcp.bind(pool, ip.payloadOffset, ip.payloadLength) !== 'ok') continue;
      sink ^= ip.src ^ ip.dst ^ tcp.srcPort ^ tcp.dstPort ^ tcp.flags;
    }
  });

  bench('readMac dst + src x256', () => {
    for (let n = 0; n < BURST; n++) {
      const off = slot * SLOT + HEADROOM;
      slot = (slot + 1) & (SLOTS - 1);
      sink += readMac(pool, off) - readMac(pool, off + 6);
    }
  });
});

describe('checksums', () => {
  bench('internetChecksum 1500 bytes', () => {
    sink ^= internetChecksum(mtu, 0, 1500);
  });

  bench('internetChecksum 64 KB', () => {
    sink ^= internetChecksum(tso, 0, 65536);
  });

  bench('internetChecksum 20-byte IPv4 header x256', () => {
    for (let n = 0; n < BURST; n++) sink ^= internetChecksum(pool, n * SLOT + HEADROOM + 14, 20);
  });

  bench('incremental update x256: IPv4 dst rewrite (IP + TCP checksums) and port', () => {
    for (let n = 0; n < BURST; n++) {
      const oldDst = 0xac110001;
      const newDst = (0x0a000000 + (slot++ & 0xffff)) >>> 0;
      const ipc = checksumUpdate32(0xafb5, oldDst, newDst);
      let tcpc = checksumUpdate32(0x6bc7, oldDst, newDst);
      tcpc = checksumUpdate16(tcpc, 80, 8080);
      sink ^= ipc ^ tcpc;
    }
  });
});

export { sink };
