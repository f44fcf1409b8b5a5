/**
 * The WireGuard receive replay window (native/src/wg_transport.c), end to end over loopback with real
 * ChaCha20-Poly1305 transport messages sealed here with node's crypto: a replayed counter is never a
 * row (and never moves the peer's endpoint), and a fresh counter reordered by one is never a replay,
 * also once the counters have run past the window's 2048 bits (RFC 6479's window less one word).
 * Both failed before the fix: the oldest counters of the window were checked against the word that
 * had been reused for the newest, and a slide that ended a word did not clear the word it entered.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DESC_STRIDE, SLOT_SIZE } from '../../../src/dataplane/layout.js';
import { native, TXS_COUNT, VST_COUNT } from '../../../src/native/addon.js';
import { WG_CTRL_MAX, WG_CTRL_STRIDE, WG_MAX_PEERS, WPS_EP_PORT, WPS_STRIDE, WST_COUNT, WST_RX_REPLAY, wgNative } from '../../../src/native/wireguard-addon.js';

const LO = 0x7f000001;
const PEER_VTEP = 0x0a000002;
const SLOTS = 16;
const OPTS = { vxlanPort: 4789, tunnelMtu: 1440, rekeyAfterMs: 120_000, rejectAfterMs: 180_000, rekeyOnRxMs: 165_000 };

type Dev = { handle: number; port: number; st: Int32Array; ps: Float64Array };
const opened: number[] = [];
afterEach(() => {
  for (const h of opened.splice(0)) wgNative().wgClose(h);
});

function open(): Dev {
  const st = new Int32Array(WST_COUNT);
  const ps = new Float64Array(WG_MAX_PEERS * WPS_STRIDE);
  const d = wgNative().wgOpen('127.0.0.1', 0, st, new Int32Array(VST_COUNT), ps, new Uint8Array(WG_CTRL_MAX * WG_CTRL_STRIDE), OPTS);
  opened.push(d.handle);
  return { handle: d.handle, port: d.port, st, ps };
}

/** A VXLAN datagram from the peer's VTEP to us, as the inner packet of a transport message. */
function innerPacket(): Buffer {
  const f = Buffer.alloc(36 + 14);
  f[0] = 0x45;
  f.writeUInt16BE(50, 2);
  f.writeUInt16BE(0x4000, 6);
  f[8] = 64;
  f[9] = 17;
  f.writeUInt32BE(PEER_VTEP, 12);
  f.writeUInt32BE(LO, 16);
  f.writeUInt16BE(50000, 20);
  f.writeUInt16BE(4789, 22);
  f.writeUInt16BE(30, 24);
  f[28] = 8;
  f.writeUIntBE(42, 32, 3);
  return f;
}

/** A transport message (type 4) to receiver index `index`, counter `ctr`, sealed with `key`. */
function transport(key: Buffer, index: number, ctr: number): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(ctr), 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  const body = Buffer.concat([c.update(innerPacket()), c.final(), c.getAuthTag()]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(4, 0);
  h.writeUInt32LE(index, 4);
  h.writeBigUInt64LE(BigInt(ctr), 8);
  return new Uint8Array(Buffer.concat([h, body]));
}

function setup() {
  const pool = native().attachPool(new ArrayBuffer(SLOT_SIZE * SLOTS), new Int32Array(SLOTS * DESC_STRIDE), new Int32Array(SLOTS), new Int32Array(TXS_COUNT));
  const rx = open();
  const sender = open();
  const attacker = open();
  const recvKey = randomBytes(32);
  wgNative().wgPeerSet(rx.handle, 0, PEER_VTEP, LO, sender.port);
  wgNative().wgInstallKeypair(rx.handle, 0, 5, 7, new Uint8Array(randomBytes(32)), new Uint8Array(recvKey), true);
  /** Send counter `ctr` from `from` and receive: the rows it made (0 or 1). */
  const deliver = (from: Dev, ctr: number) => {
    wgNative().wgSendRaw(from.handle, LO, rx.port, transport(recvKey, 5, ctr));
    return wgNative().wgRecvBurst(pool, rx.handle, 0, 8);
  };
  return { rx, sender, attacker, deliver };
}

describe('WireGuard replay window', () => {
  it('never takes a replay of the window\'s oldest counters, and a replay never moves the endpoint', () => {
    const { rx, sender, attacker, deliver } = setup();
    let rows = 0;
    for (let c = 0; c <= 2046; c++) rows += deliver(sender, c);
    rows += deliver(sender, 2048);
    expect(rows).toBe(2048);
    expect(rx.ps[WPS_EP_PORT]).toBe(sender.port);
    const replays = rx.st[WST_RX_REPLAY];
    for (const old of [1, 30, 63]) expect(deliver(attacker, old), `replay of ${old}`).toBe(0);
    expect(rx.st[WST_RX_REPLAY] - replays).toBe(3);
    expect(rx.ps[WPS_EP_PORT]).toBe(sender.port); // the attacker's address was not learned
    // A fresh counter still inside the window is taken.
    expect(deliver(sender, 2047)).toBe(1);
    expect(deliver(sender, 2047)).toBe(0);
  });

  it('takes a fresh counter reordered by one after the counters passed the window size', () => {
    const { rx, sender, deliver } = setup();
    let rows = 0;
    for (let c = 0; c <= 2047; c++) rows += deliver(sender, c);
    expect(rows).toBe(2048);
    const replays = rx.st[WST_RX_REPLAY];
    expect(deliver(sender, 2049)).toBe(1);
    expect(deliver(sender, 2048)).toBe(1); // reordered by one: fresh, not a replay
    expect(rx.st[WST_RX_REPLAY] - replays).toBe(0);
    // Random order within a window's width: each counter once, duplicates refused.
    let next = 2050;
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 32 }, (_, i) => next + i).sort(() => Math.random() - 0.5);
      next += 32;
      for (const c of batch) expect(deliver(sender, c), `fresh ${c}`).toBe(1);
      expect(deliver(sender, batch[0]), `replay ${batch[0]}`).toBe(0);
    }
  });
});
