/**
 * Frames staged for a peer without a session leave when its handshake completes (wgInstallKeypair),
 * outside any send burst. Their datagrams must still be counted: before the fix (found by this stop's
 * review) the next wgSendBurst reset the status vector first, so the 128 released datagrams never
 * reached a port's counters. Now the next burst's status carries them. Real sockets on loopback; the
 * "peer" is a second device that receives what is sent.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DESC_STRIDE, SLOT_SIZE } from '../../../src/dataplane/layout.js';
import { native, TXS_COUNT, TXS_SENT, VST_COUNT } from '../../../src/native/addon.js';
import { WG_CTRL_MAX, WG_CTRL_STRIDE, WG_MAX_PEERS, WPS_STAGED, WPS_STRIDE, WST_COUNT, wgNative } from '../../../src/native/wireguard-addon.js';

const LO = 0x7f000001;
const OPTS = { vxlanPort: 4789, tunnelMtu: 1440, rekeyAfterMs: 120_000, rejectAfterMs: 180_000, rekeyOnRxMs: 165_000 };
const opened: number[] = [];
afterEach(() => {
  for (const h of opened.splice(0)) wgNative().wgClose(h);
});

function open() {
  const st = new Int32Array(WST_COUNT);
  const vst = new Int32Array(VST_COUNT);
  const ps = new Float64Array(WG_MAX_PEERS * WPS_STRIDE);
  const d = wgNative().wgOpen('127.0.0.1', 0, st, vst, ps, new Uint8Array(WG_CTRL_MAX * WG_CTRL_STRIDE), OPTS);
  opened.push(d.handle);
  return { ...d, st, vst, ps };
}

describe('WireGuard staging', () => {
  it('counts the datagrams released at a handshake with the next send burst', () => {
    const n = wgNative();
    const SLOTS = 256;
    const buf = new ArrayBuffer(SLOT_SIZE * SLOTS);
    const desc = new Int32Array(SLOTS * DESC_STRIDE);
    const txIdx = new Int32Array(SLOTS);
    const bytes = new Uint8Array(buf);
    const pool = native().attachPool(buf, desc, txIdx, new Int32Array(TXS_COUNT));
    const a = open();
    const sink = open();
    for (let r = 0; r < 200; r++) {
      const o = r * SLOT_SIZE + 256;
      desc[r * DESC_STRIDE] = o;
      desc[r * DESC_STRIDE + 1] = 100;
      bytes.fill(r & 0xff, o, o + 100);
      bytes[o] = 2; // a unicast destination MAC
      txIdx[r] = r;
    }
    const PEER = 3;
    n.wgPeerSet(a.handle, PEER, 0x0a000009, LO, sink.port);
    const dst = new Int32Array(SLOTS).fill(0x0a000009);
    const bum = new Int32Array(1);
    expect(n.wgSendBurst(pool, a.handle, 42, 200, dst, bum, 0)).toBe(0); // no session: staged
    expect(a.ps[PEER * WPS_STRIDE + WPS_STAGED]).toBe(128);
    n.wgInstallKeypair(a.handle, PEER, 77, 88, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)), true);
    expect(a.ps[PEER * WPS_STRIDE + WPS_STAGED]).toBe(0); // released
    // One more frame: the burst's status has its datagram and the 128 released before it.
    txIdx[0] = 0;
    expect(n.wgSendBurst(pool, a.handle, 42, 1, dst, bum, 0)).toBe(129);
    expect(a.vst[TXS_SENT]).toBe(129);
    // And only once: the burst after that counts its own.
    expect(n.wgSendBurst(pool, a.handle, 42, 1, dst, bum, 0)).toBe(1);
  });
});
