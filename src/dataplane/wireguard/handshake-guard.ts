/**
 * The responder's defence against handshake floods (whitepaper section 5.3 and 5.4.7):
 *
 * - Under load (more than `loadThreshold` handshake messages in the last second), a message must carry
 *   a valid mac2, i.e. prove that its sender can receive at its source address: without it the answer
 *   is a cookie reply, never a response (no DH work is done for it). The cookie is
 *   MAC(secret, source IPv4 || port), the secret renewed every two minutes.
 * - Under load, a source that proved its address is still limited to `ratePerSecond` handshakes a
 *   second (token bucket, burst `burst`), as wireguard-go does (20/s, burst 5): past that, dropped
 *   (wg-handshake-rate).
 */
import { randomBytes } from 'node:crypto';
import { MAC } from './noise-handshake.js';

export const COOKIE_SECRET_LIFETIME_MS = 120_000;

export interface HandshakeGuardOptions {
  loadThreshold?: number;
  ratePerSecond?: number;
  burst?: number;
}

export type GuardVerdict = 'accept' | 'send-cookie' | 'rate-limited';

export class HandshakeGuard {
  private secret = new Uint8Array(randomBytes(32));
  private secretBorn = -Infinity;
  private windowStart = 0;
  private inWindow = 0;
  private readonly buckets = new Map<number, { tokens: number; at: number }>();
  readonly loadThreshold: number;
  readonly ratePerSecond: number;
  readonly burst: number;
  cookiesSent = 0;

  constructor(opts: HandshakeGuardOptions = {}) {
    this.loadThreshold = opts.loadThreshold ?? 64;
    this.ratePerSecond = opts.ratePerSecond ?? 20;
    this.burst = opts.burst ?? 5;
  }

  /** The cookie of a source address at `now` (ms). */
  cookieFor(ip: number, port: number, now: number): Uint8Array {
    if (now - this.secretBorn >= COOKIE_SECRET_LIFETIME_MS) {
      this.secret = new Uint8Array(randomBytes(32));
      this.secretBorn = now;
    }
    const a = new Uint8Array(6);
    new DataView(a.buffer).setUint32(0, ip >>> 0);
    new DataView(a.buffer).setUint16(4, port);
    return MAC(this.secret, a);
  }

  /** Count one handshake message (mac1 valid) and say what to do with it. */
  check(ip: number, port: number, now: number, mac2Ok: (cookie: Uint8Array) => boolean): GuardVerdict {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    this.inWindow++;
    if (this.inWindow <= this.loadThreshold) return 'accept';
    if (!mac2Ok(this.cookieFor(ip, port, now))) return 'send-cookie';
    const key = ip >>> 0; // per source address, as classic IP rate limiting
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 4096) this.buckets.clear();
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSecond);
    b.at = now;
    if (b.tokens < 1) return 'rate-limited';
    b.tokens -= 1;
    return 'accept';
  }
}
