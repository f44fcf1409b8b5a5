/**
 * The connection table: lookups both ways, TCP state transitions with IPVS's timeouts on a virtual
 * clock, UDP timeouts, the cap with counted refusals, deletion that keeps probe chains intact, and the
 * bytes per entry for a million connections; IPv6 clients that fold to the same word kept apart.
 */
import { describe, expect, it } from 'vitest';
import {
  ConnTable,
  IPPROTO_TCP,
  IPPROTO_UDP,
  PROTO_V6,
  STATE_CLOSE,
  STATE_ESTABLISHED,
  STATE_FIN_WAIT,
  STATE_SYN_RECV,
  STATE_TIME_WAIT,
  STATE_UDP,
} from '../../../src/lb/conn-table.js';
import { foldIpv6 } from '../../../src/lb/lb-address.js';

const C = 0x0a000002;
const V = 0x0a000064;
const R = 0x0a00000a;
const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04;

describe('ConnTable', () => {
  it('finds a NAT connection by its forward and its reply key, not by others', () => {
    const t = new ConnTable(16);
    const e = t.insert(IPPROTO_TCP, C, 40000, V, 80, R, 8080, 0, 0, true, 0);
    expect(t.lookup(IPPROTO_TCP, C, 40000, V, 80, 1)).toBe(e);
    expect(t.lookupReply(IPPROTO_TCP, R, 8080, C, 40000, 1)).toBe(e);
    expect(t.lookup(IPPROTO_UDP, C, 40000, V, 80, 1)).toBe(-1);
    expect(t.lookup(IPPROTO_TCP, C, 40001, V, 80, 1)).toBe(-1);
    expect(t.lookupReply(IPPROTO_TCP, R, 8081, C, 40000, 1)).toBe(-1);
    const dr = t.insert(IPPROTO_TCP, C, 40002, V, 80, R, 80, 0, 1, false, 0);
    expect(t.lookup(IPPROTO_TCP, C, 40002, V, 80, 1)).toBe(dr);
    expect(t.lookupReply(IPPROTO_TCP, R, 80, C, 40002, 1)).toBe(-1); // DR: replies bypass the switch
  });

  it('tracks TCP states with IPVS timeouts: SYN_RECV 60, ESTABLISHED 900, FIN_WAIT 120, TIME_WAIT 120, CLOSE 10', () => {
    const t = new ConnTable(16);
    const e = t.insert(IPPROTO_TCP, C, 40000, V, 80, R, 8080, 0, 0, true, 100);
    expect(t.state[e]).toBe(STATE_SYN_RECV);
    expect(t.expires[e]).toBe(160);
    t.tcpTransition(e, SYN | ACK, false, false, 100); // the server's SYN-ACK
    expect(t.state[e]).toBe(STATE_SYN_RECV);
    t.tcpTransition(e, ACK, true, false, 101);
    expect(t.state[e]).toBe(STATE_ESTABLISHED);
    expect(t.expires[e]).toBe(1001);
    t.tcpTransition(e, FIN | ACK, true, false, 200);
    expect(t.state[e]).toBe(STATE_FIN_WAIT);
    expect(t.expires[e]).toBe(320);
    t.tcpTransition(e, FIN | ACK, false, false, 201);
    expect(t.state[e]).toBe(STATE_TIME_WAIT);
    expect(t.expires[e]).toBe(321);
    // Expired by the clock: gone on lookup.
    expect(t.lookup(IPPROTO_TCP, C, 40000, V, 80, 320)).toBe(e);
    expect(t.lookup(IPPROTO_TCP, C, 40000, V, 80, 321)).toBe(-1);
    expect(t.count).toBe(0);
    const r = t.insert(IPPROTO_TCP, C, 40001, V, 80, R, 8080, 0, 0, true, 0);
    t.tcpTransition(r, ACK, true, false, 1);
    t.tcpTransition(r, RST, false, false, 2);
    expect(t.state[r]).toBe(STATE_CLOSE);
    expect(t.expires[r]).toBe(12);
  });

  it('input-only (DR/TUN) connections close on the client FIN then its last ACK', () => {
    const t = new ConnTable(4);
    const e = t.insert(IPPROTO_TCP, C, 40000, V, 80, R, 80, 0, 0, false, 0);
    t.tcpTransition(e, ACK, true, true, 1);
    expect(t.state[e]).toBe(STATE_ESTABLISHED);
    t.tcpTransition(e, FIN | ACK, true, true, 2);
    expect(t.state[e]).toBe(STATE_FIN_WAIT);
    t.tcpTransition(e, ACK, true, true, 3);
    expect(t.state[e]).toBe(STATE_TIME_WAIT);
  });

  it('uses configurable timeouts (lb timeout tcp tcpfin udp) and the UDP timeout', () => {
    const t = new ConnTable(4);
    t.timeouts = { tcp: 30, tcpfin: 5, udp: 7 };
    const u = t.insert(IPPROTO_UDP, C, 5353, V, 53, R, 53, 0, 0, true, 10);
    expect(t.state[u]).toBe(STATE_UDP);
    expect(t.expires[u]).toBe(17);
    t.touch(u, 15);
    expect(t.expires[u]).toBe(22);
    const e = t.insert(IPPROTO_TCP, C, 1, V, 80, R, 80, 0, 0, true, 0);
    t.tcpTransition(e, ACK, true, false, 0);
    expect(t.expires[e]).toBe(30);
    expect(t.expire(23)).toBe(1); // the UDP entry
    expect(t.count).toBe(1);
  });

  it('refuses past its cap and counts it; freed entries are reused', () => {
    const t = new ConnTable(3);
    for (let i = 0; i < 3; i++) expect(t.insert(IPPROTO_TCP, C, 1000 + i, V, 80, R, 80, 0, 0, true, 0)).toBeGreaterThanOrEqual(0);
    expect(t.insert(IPPROTO_TCP, C, 2000, V, 80, R, 80, 0, 0, true, 0)).toBe(-1);
    expect(t.refusedFull).toBe(1);
    t.remove(t.lookup(IPPROTO_TCP, C, 1001, V, 80, 0));
    expect(t.insert(IPPROTO_TCP, C, 2000, V, 80, R, 80, 0, 0, true, 0)).toBeGreaterThanOrEqual(0);
    expect(t.count).toBe(3);
  });

  it('keeps every other entry findable through random inserts and removals (backward-shift deletion)', () => {
    const t = new ConnTable(4096);
    const live = new Map<number, number>(); // cport -> entry
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let step = 0; step < 20000; step++) {
      const port = 1 + Math.floor(rnd() * 6000);
      if (live.has(port)) {
        t.remove(live.get(port)!);
        live.delete(port);
      } else if (t.count < t.capacity) {
        live.set(port, t.insert(IPPROTO_TCP, C, port, V, 80, R, 8080, 0, 0, true, 0));
      }
    }
    expect(t.count).toBe(live.size);
    for (const [port, e] of live) {
      expect(t.lookup(IPPROTO_TCP, C, port, V, 80, 0)).toBe(e);
      expect(t.lookupReply(IPPROTO_TCP, R, 8080, C, port, 0)).toBe(e);
    }
  });

  it('holds a million connections in well under a GB (about 58 bytes per entry)', () => {
    const t = new ConnTable(1 << 20);
    expect(t.bytesPerEntry).toBeLessThan(64);
    expect(t.totalBytes).toBeLessThan(100 * 2 ** 20);
    for (let i = 0; i < 1 << 20; i++) t.insert(IPPROTO_TCP, (C + (i >>> 16)) >>> 0, i & 0xffff, V, 80, R, 8080, 0, 0, true, 0);
    expect(t.count).toBe(1 << 20);
    expect(t.lookup(IPPROTO_TCP, C + 7, 1234, V, 80, 0)).toBeGreaterThanOrEqual(0);
    expect(t.insert(IPPROTO_TCP, 1, 1, V, 80, R, 80, 0, 0, true, 0)).toBe(-1);
    console.log(`conn table: ${t.bytesPerEntry.toFixed(1)} bytes per entry, ${(t.totalBytes / 2 ** 20).toFixed(1)} MiB for ${t.capacity} entries`);
  });

  it('IPv6: two clients whose addresses fold to the same word are two connections, each found by its own 16 bytes', () => {
    const t = new ConnTable(16);
    t.enableIpv6();
    const a = [0xfd000001, 0, 0, 2];
    const b = [(0xfd000001 ^ 0x9e3779b1) >>> 0, 1, 0, 2]; // w0 ^ imul(w1, 0x9e3779b1): the same fold
    const fold = foldIpv6(a[0], a[1], a[2], a[3]);
    expect(foldIpv6(b[0], b[1], b[2], b[3])).toBe(fold);
    const P = IPPROTO_TCP + PROTO_V6;
    t.key6.set(a);
    const ea = t.insert(P, fold, 40000, 0, 80, 1, 8080, 0, 0, true, 0);
    t.key6.set(b);
    expect(t.lookup(P, fold, 40000, 0, 80, 1)).toBe(-1);
    expect(t.lookupReply(P, 1, 8080, fold, 40000, 1)).toBe(-1);
    const eb = t.insert(P, fold, 40000, 0, 80, 1, 8080, 0, 0, true, 0);
    expect(t.lookup(P, fold, 40000, 0, 80, 1)).toBe(eb);
    t.key6.set(a);
    expect(t.lookup(P, fold, 40000, 0, 80, 1)).toBe(ea);
    expect(t.lookupReply(P, 1, 8080, fold, 40000, 1)).toBe(ea);
    expect(t.state[ea]).toBe(STATE_SYN_RECV);
    // The IPv4 connection with the same numbers is another key.
    expect(t.lookup(IPPROTO_TCP, fold, 40000, 0, 80, 1)).toBe(-1);
    expect(Array.from(t.cip6!.subarray(eb * 4, eb * 4 + 4))).toEqual(b);
  });
});
