/**
 * WireguardUnderlay: an encrypted VTEP. It is an Underlay (overlay/underlay.ts) like UdpUnderlay, so
 * the VXLAN stages and ports cannot tell the difference, but every VXLAN datagram to or from another
 * VTEP travels inside a WireGuard transport message on one UDP socket (51820 by default), one session
 * per VTEP pair, shared by every encrypted overlay network on this VTEP.
 *
 * Split of the work:
 * - C (native/src/wg_transport.c, sealing in wg_tx.c): per packet, in bursts: seal/open with ChaCha20-Poly1305, the replay
 *   window, session expiry (REJECT_AFTER_TIME / messages), rotation of a responder's session on its
 *   confirmation, per-peer counters; peers that need a handshake are flagged.
 * - Here: the handshake (noise-handshake.ts), cookies and rate limits under load (handshake-guard.ts),
 *   and the timers of the whitepaper's section 6: REKEY_AFTER_TIME (initiator), REKEY_TIMEOUT retries
 *   for up to REKEY_ATTEMPT_TIME, passive KEEPALIVE, a new handshake after KEEPALIVE + REKEY_TIMEOUT of
 *   silence, keys wiped after 3 x REJECT_AFTER_TIME. They run on flags the C side raises (looked at
 *   after each burst, when the attention counter moved) and on a 500 ms tick.
 *
 * A datagram sent while no session exists is dropped (wg-no-session) and starts the handshake; unlike
 * WireGuard there is no staging queue, so the first packet or two to a peer after a quiet spell are lost.
 */
import { randomInt } from 'node:crypto';
import { VST_COUNT, VST_RX_GRO_DGRAMS } from '../../native/addon.js';
import {
  WG_CTRL_STRIDE,
  WG_MAX_PEERS,
  WPF_CONFIRMED,
  WPF_NEED_HANDSHAKE,
  WPF_REKEY,
  WPS_CUR_BORN,
  WPS_CUR_SLOT,
  WPS_EP_IP,
  WPS_EP_PORT,
  WPS_FLAGS,
  WPS_LAST_DATA_RX,
  WPS_LAST_DATA_TX,
  WPS_LAST_RX,
  WPS_LAST_TX,
  WPS_NEXT_SLOT,
  WPS_PREV_SLOT,
  WPS_RX_BYTES,
  WPS_RX_PACKETS,
  WPS_STAGED,
  WPS_STRIDE,
  WPS_TX_BYTES,
  WPS_TX_PACKETS,
  WG_CTRL_MAX,
  WG_KP_SLOTS,
  WST_ATTENTION,
  WST_COUNT,
  WST_RX_BACKLOG,
  WST_RX_BAD_INNER,
  WST_RX_BAD_MAC,
  WST_RX_CTRL,
  WST_RX_CTRL_LOST,
  WST_RX_MALFORMED,
  WST_RX_NO_SESSION,
  WST_RX_REPLAY,
  WST_TX_NO_SESSION,
  WST_TX_UNKNOWN_PEER,
  wgNative,
} from '../../native/wireguard-addon.js';
import { formatIpv4, parseIpv4 } from '../../packet/ipv4.js';
import { DROP, type DropReason } from '../drop-reasons.js';
import type { FramePool } from '../frame-pool.js';
import type { Underlay } from '../overlay/underlay.js';
import { HandshakeGuard, type HandshakeGuardOptions } from './handshake-guard.js';
import {
  HandshakeError,
  MSG_COOKIE,
  MSG_INITIATION,
  MSG_RESPONSE,
  consumeCookieReply,
  consumeInitiation,
  consumeResponse,
  createCookieReply,
  createInitiation,
  createResponse,
  mac1Key,
  mac1Valid,
  mac2Valid,
  messageType,
  receiverIndex,
  senderIndex,
  type InitiatorState,
  type Session,
  type StaticIdentity,
} from './noise-handshake.js';

/** The whitepaper's timer constants (section 6.1), in ms. */
export const REKEY_AFTER_TIME = 120_000;
export const REJECT_AFTER_TIME = 180_000;
export const REKEY_ATTEMPT_TIME = 90_000;
export const REKEY_TIMEOUT = 5_000;
export const KEEPALIVE_TIMEOUT = 10_000;
/** Initiations from one peer closer together than this are dropped (wireguard-go's 20 ms). */
export const INITIATION_MIN_INTERVAL = 20;
const COOKIE_LIFETIME = 120_000 - REKEY_TIMEOUT;

/** One peer: its public key, its VTEP (inner) address, and where to send to first. */
export interface WireguardPeerSpec {
  publicKey: Uint8Array;
  vtep: string;
  endpoint: string;
  port: number;
}

export interface WireguardUnderlayOptions {
  identity: StaticIdentity;
  /** Inner VXLAN UDP port (every peer's destination inside the tunnel). */
  vxlanPort: number;
  /** Largest inner IPv4 packet (underlay MTU - 60). */
  tunnelMtu: number;
  netns?: string;
  /** REKEY_AFTER_TIME override (tests; the protocol's 120 s otherwise). */
  rekeyAfterMs?: number;
  guard?: HandshakeGuardOptions;
  log?: (msg: string) => void;
}

interface PeerState {
  id: number;
  spec: WireguardPeerSpec;
  key: string; // base64 public key
  vtep: number;
  timestamp: Uint8Array | null; // greatest TAI64N consumed
  lastInitiationConsumed: number;
  inFlight: InitiatorState | null;
  sentAt: number;
  firstAttemptAt: number | null;
  attempts: number;
  cookie: { value: Uint8Array; at: number } | null;
  lastHandshakeWall: number | null;
  handshakes: number;
}

export const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');

export class WireguardUnderlay implements Underlay {
  readonly localIp: number;
  readonly port: number;
  readonly sourcePorts: readonly number[];
  readonly status = new Int32Array(VST_COUNT);
  readonly wstatus = new Int32Array(WST_COUNT);
  readonly peerStats = new Float64Array(WG_MAX_PEERS * WPS_STRIDE);
  private readonly ctrl = new Uint8Array(WG_CTRL_MAX * WG_CTRL_STRIDE);
  private handle: number;
  private rxFd: number;
  private readonly peers = new Map<string, PeerState>(); // by public key
  private readonly byId: (PeerState | undefined)[] = [];
  private readonly identity: StaticIdentity;
  /** Who is told each key log entry the moment it exists, before its handshake message leaves (a live underlay capture). */
  private readonly secretListeners = new Set<(entry: string) => void>();
  private readonly ourMac1Key: Uint8Array;
  private readonly guard: HandshakeGuard;
  private readonly log: (msg: string) => void;
  private readonly rejectAfter = REJECT_AFTER_TIME;
  private attentionSeen = 0;
  private seenW = new Int32Array(WST_COUNT);
  private drops: Float64Array | null = null;
  private readonly pendingDrops = new Map<DropReason, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  readonly vxlanPort: number;

  constructor(localIp: string, port: number, opts: WireguardUnderlayOptions) {
    const n = wgNative();
    this.identity = opts.identity;
    this.ourMac1Key = mac1Key(opts.identity.publicKey);
    this.guard = new HandshakeGuard(opts.guard);
    this.log = opts.log ?? (() => {});
    this.localIp = parseIpv4(localIp);
    this.vxlanPort = opts.vxlanPort;
    const rekey = opts.rekeyAfterMs ?? REKEY_AFTER_TIME;
    const r = n.wgOpen(localIp, port, this.wstatus, this.status, this.peerStats, this.ctrl, {
      vxlanPort: opts.vxlanPort,
      tunnelMtu: opts.tunnelMtu,
      rekeyAfterMs: rekey,
      rejectAfterMs: this.rejectAfter,
      rekeyOnRxMs: Math.min(rekey, this.rejectAfter - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT),
      netns: opts.netns,
    });
    this.handle = r.handle;
    this.rxFd = r.fd;
    this.port = r.port;
    this.sourcePorts = [r.port];
    this.timer = setInterval(() => this.tick(), 500);
    this.timer.unref();
  }

  get fd(): number {
    return this.rxFd;
  }

  get publicKey(): Uint8Array {
    return this.identity.publicKey;
  }

  /** The drop counters of the port that owns this underlay: wg-* reasons are counted there. */
  bindDropCounters(drops: Float64Array): void {
    this.drops = drops;
    for (const [r, c] of this.pendingDrops) drops[DROP[r]] += c;
    this.pendingDrops.clear();
  }

  private drop(reason: DropReason, n = 1): void {
    if (n <= 0) return;
    if (this.drops) this.drops[DROP[reason]] += n;
    else this.pendingDrops.set(reason, (this.pendingDrops.get(reason) ?? 0) + n);
  }

  /** Make the peer set exactly `specs` (a peer whose key and VTEP stay keeps its sessions). */
  setPeers(specs: readonly WireguardPeerSpec[]): void {
    const n = wgNative();
    const want = new Map(specs.map((s) => [b64(s.publicKey), s]));
    for (const [key, p] of this.peers) {
      const s = want.get(key);
      if (!s || parseIpv4(s.vtep) !== p.vtep) {
        n.wgPeerClear(this.handle, p.id, true);
        this.peers.delete(key);
        this.byId[p.id] = undefined;
      }
    }
    for (const [key, s] of want) {
      let p = this.peers.get(key);
      if (!p) {
        let id = 0;
        while (this.byId[id]) id++;
        if (id >= WG_MAX_PEERS) throw new RangeError(`at most ${WG_MAX_PEERS} WireGuard peers per VTEP`);
        p = {
          id,
          spec: s,
          key,
          vtep: parseIpv4(s.vtep),
          timestamp: null,
          lastInitiationConsumed: -Infinity,
          inFlight: null,
          sentAt: -Infinity,
          firstAttemptAt: null,
          attempts: 0,
          cookie: null,
          lastHandshakeWall: null,
          handshakes: 0,
        };
        this.peers.set(key, p);
        this.byId[id] = p;
        n.wgPeerSet(this.handle, id, p.vtep, parseIpv4(s.endpoint), s.port);
      } else if (p.spec.endpoint !== s.endpoint || p.spec.port !== s.port) {
        n.wgPeerSet(this.handle, p.id, p.vtep, parseIpv4(s.endpoint), s.port);
      }
      p.spec = s;
    }
  }

  hasPending(): boolean {
    return this.wstatus[WST_RX_BACKLOG] > 0;
  }

  receive(pool: FramePool, firstSlot: number, max: number): number {
    if (this.handle < 0) return 0;
    const rows = wgNative().wgRecvBurst(pool.nativeHandle(), this.handle, firstSlot, max);
    this.afterBurst();
    const nctrl = this.wstatus[WST_RX_CTRL];
    for (let i = 0; i < nctrl; i++) {
      const o = i * WG_CTRL_STRIDE;
      const len = this.ctrl[o] | (this.ctrl[o + 1] << 8);
      const port = this.ctrl[o + 2] | (this.ctrl[o + 3] << 8);
      const ip = ((this.ctrl[o + 4] << 24) | (this.ctrl[o + 5] << 16) | (this.ctrl[o + 6] << 8) | this.ctrl[o + 7]) >>> 0;
      this.onHandshakeMessage(this.ctrl.slice(o + 8, o + 8 + len), ip, port);
    }
    return rows;
  }

  send(pool: FramePool, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number {
    if (this.handle < 0) {
      this.status.fill(0, 0, VST_RX_GRO_DGRAMS);
      return 0;
    }
    const n = wgNative().wgSendBurst(pool.nativeHandle(), this.handle, vni, count, dst, peers, peerCount);
    this.afterBurst();
    return n;
  }

  /** Fold the C counters into drops and act on peers' flags (when the attention counter moved). */
  private afterBurst(): void {
    const w = this.wstatus;
    const s = this.seenW;
    const fold = (i: number, reason: DropReason) => {
      if (w[i] !== s[i]) {
        this.drop(reason, w[i] - s[i]);
        s[i] = w[i];
      }
    };
    fold(WST_RX_BAD_MAC, 'wg-bad-mac');
    fold(WST_RX_REPLAY, 'wg-replay');
    fold(WST_RX_NO_SESSION, 'wg-no-session');
    fold(WST_RX_MALFORMED, 'wg-malformed');
    fold(WST_RX_BAD_INNER, 'wg-bad-inner');
    fold(WST_RX_CTRL_LOST, 'wg-handshake-rate');
    fold(WST_TX_NO_SESSION, 'wg-no-session');
    fold(WST_TX_UNKNOWN_PEER, 'wg-unknown-peer');
    if (w[WST_ATTENTION] === this.attentionSeen) return;
    this.attentionSeen = w[WST_ATTENTION];
    const now = wgNative().wgClock();
    for (const p of this.peers.values()) {
      const r = p.id * WPS_STRIDE;
      const f = this.peerStats[r + WPS_FLAGS];
      if (f === 0) continue;
      this.peerStats[r + WPS_FLAGS] = 0;
      if (f & (WPF_NEED_HANDSHAKE | WPF_REKEY)) {
        if (!p.inFlight || now - p.sentAt >= REKEY_TIMEOUT) this.initiate(p, now, (f & WPF_REKEY) !== 0 ? 'rekey' : 'no session');
      }
      if (f & WPF_CONFIRMED) this.log(`wireguard ${this.label(p)}: session confirmed by the initiator`);
    }
  }

  private label(p: PeerState): string {
    return `peer ${p.key.slice(0, 8)}… (${p.spec.vtep})`;
  }

  /** A free keypair slot, and a local index naming it (random high bits). */
  private allocIndex(): number {
    const used = new Set<number>();
    for (const p of this.peers.values()) {
      const r = p.id * WPS_STRIDE;
      for (const k of [WPS_CUR_SLOT, WPS_PREV_SLOT, WPS_NEXT_SLOT]) if (this.peerStats[r + k] >= 0) used.add(this.peerStats[r + k]);
      if (p.inFlight) used.add(p.inFlight.localIndex % WG_KP_SLOTS);
    }
    for (let tries = 0; tries < 4 * WG_KP_SLOTS; tries++) {
      const slot = randomInt(WG_KP_SLOTS);
      if (!used.has(slot)) return ((randomInt(1 << 22) * WG_KP_SLOTS + slot) >>> 0);
    }
    throw new Error('no free WireGuard session slot');
  }

  private endpointOf(p: PeerState): { ip: number; port: number } {
    const r = p.id * WPS_STRIDE;
    return { ip: this.peerStats[r + WPS_EP_IP] >>> 0, port: this.peerStats[r + WPS_EP_PORT] };
  }

  private sendRaw(p: PeerState | null, ip: number, port: number, msg: Uint8Array): void {
    try {
      wgNative().wgSendRaw(this.handle, ip, port, msg);
    } catch (err) {
      this.log(`wireguard ${p ? this.label(p) : formatIpv4(ip)}: handshake message not sent to ${formatIpv4(ip)}:${port}: ${(err as Error).message}`);
    }
  }

  /**
   * Call `listener` with each handshake's key log entry from now on, initiated here or answered here,
   * as lines of Wireshark's WireGuard key log (LOCAL_STATIC_PRIVATE_KEY, REMOTE_STATIC_PUBLIC_KEY,
   * LOCAL_EPHEMERAL_PRIVATE_KEY: ours, as initiator or responder, PRESHARED_KEY: enough to decrypt the
   * session that handshake makes, given its messages in the capture). Called synchronously and before
   * the handshake message that needs it is sent, so a capture writes the secret ahead of the packet.
   * Returns the unsubscribe. Sensitive: entries exist only while someone listens (`overlay secrets`,
   * `capture --write-secrets`).
   */
  onSecret(listener: (entry: string) => void): () => void {
    this.secretListeners.add(listener);
    return () => void this.secretListeners.delete(listener);
  }

  /** This host's static private key as one key log line: with it Wireshark reads the initiations peers send us. */
  staticSecret(): string {
    return `LOCAL_STATIC_PRIVATE_KEY = ${Buffer.from(this.identity.privateKey).toString('base64')}\n`;
  }

  /** Start a new handshake with every peer now (what `overlay secrets` asks for); returns each peer's handshake count before it. */
  rehandshakeAll(why: string): Map<string, number> {
    const before = new Map<string, number>();
    const now = wgNative().wgClock();
    for (const p of this.peers.values()) {
      before.set(p.key, p.handshakes);
      this.initiate(p, now, why);
    }
    return before;
  }

  /** Completed handshakes per peer (base64 public key): for waiting on rehandshakeAll(). */
  handshakeCounts(): Map<string, number> {
    return new Map([...this.peers.values()].map((p) => [p.key, p.handshakes]));
  }

  /** A key log entry for a handshake with `p` whose ephemeral private key (ours) is `ephemeral`, while recording. */
  private noteSecret(p: PeerState, ephemeral: Uint8Array): void {
    if (!this.recordingSecrets) return;
    const k = (name: string, v: Uint8Array) => `${name} = ${Buffer.from(v).toString('base64')}\n`;
    const entry = k('LOCAL_STATIC_PRIVATE_KEY', this.identity.privateKey) + k('REMOTE_STATIC_PUBLIC_KEY', p.spec.publicKey) + k('LOCAL_EPHEMERAL_PRIVATE_KEY', ephemeral) + k('PRESHARED_KEY', new Uint8Array(32));
    for (const l of this.secretListeners) l(entry);
  }

  /** Someone wants key log entries: `overlay secrets` or a live capture. */
  private get recordingSecrets(): boolean {
    return this.secretListeners.size > 0;
  }

  private initiate(p: PeerState, now: number, why: string): void {
    if (this.handle < 0) return;
    const cookie = p.cookie && now - p.cookie.at < COOKIE_LIFETIME ? p.cookie.value : null;
    const { message, state } = createInitiation(this.identity, p.spec.publicKey, this.allocIndex(), cookie);
    this.noteSecret(p, state.ephemeralPrivate);
    p.inFlight = state;
    p.sentAt = now + randomInt(334); // jitter, as the whitepaper asks of retries
    p.firstAttemptAt ??= now;
    p.attempts++;
    const ep = this.endpointOf(p);
    if (p.attempts === 1 || p.attempts % 10 === 0) this.log(`wireguard ${this.label(p)}: handshake initiation to ${formatIpv4(ep.ip)}:${ep.port} (${why}, attempt ${p.attempts})`);
    this.sendRaw(p, ep.ip, ep.port, message);
  }

  private install(p: PeerState, s: Session): void {
    const n = wgNative();
    n.wgInstallKeypair(this.handle, p.id, s.localIndex, s.remoteIndex, s.sendKey, s.recvKey, s.initiator);
    p.lastHandshakeWall = Date.now();
    p.handshakes++;
  }

  /** A handshake message from ip:port (its type and length were checked in C). */
  private onHandshakeMessage(msg: Uint8Array, ip: number, port: number): void {
    const type = messageType(msg);
    if (type === null) return this.drop('wg-malformed');
    const now = wgNative().wgClock();
    try {
      if (type === MSG_COOKIE) return this.onCookieReply(msg);
      if (!mac1Valid(msg, this.ourMac1Key)) return this.drop('wg-bad-mac');
      const verdict = this.guard.check(ip, port, now, (cookie) => mac2Valid(msg, cookie));
      if (verdict === 'send-cookie') {
        const m1 = msg.length - 32;
        this.sendRaw(null, ip, port, createCookieReply(this.identity, senderIndex(msg), msg.slice(m1, m1 + 16), this.guard.cookieFor(ip, port, now)));
        this.guard.cookiesSent++;
        return this.drop('wg-handshake-rate');
      }
      if (verdict === 'rate-limited') return this.drop('wg-handshake-rate');
      if (type === MSG_INITIATION) this.onInitiation(msg, ip, port, now);
      else if (type === MSG_RESPONSE) this.onResponse(msg, ip, port, now);
    } catch (err) {
      if (err instanceof HandshakeError) return this.drop(`wg-${err.reason}` as DropReason);
      throw err;
    }
  }

  private onInitiation(msg: Uint8Array, ip: number, port: number, now: number): void {
    const init = consumeInitiation(this.identity, msg);
    const p = this.peers.get(b64(init.peerPublic));
    if (!p) {
      this.log(`wireguard: handshake initiation from ${formatIpv4(ip)}:${port} with a key no peer has (${b64(init.peerPublic)}): dropped`);
      return this.drop('wg-unknown-peer');
    }
    if (p.timestamp && Buffer.compare(Buffer.from(init.timestamp), Buffer.from(p.timestamp)) <= 0) return this.drop('wg-replay');
    if (now - p.lastInitiationConsumed < INITIATION_MIN_INTERVAL) return this.drop('wg-handshake-rate');
    p.timestamp = init.timestamp;
    p.lastInitiationConsumed = now;
    const cookie = p.cookie && now - p.cookie.at < COOKIE_LIFETIME ? p.cookie.value : null;
    const { message, session, ephemeralPrivate } = createResponse(init, this.allocIndex(), cookie, this.recordingSecrets);
    if (ephemeralPrivate) {
      this.noteSecret(p, ephemeralPrivate); // the responder's side: decrypts the session as well as the initiator's would
      ephemeralPrivate.fill(0);
    }
    wgNative().wgPeerSet(this.handle, p.id, p.vtep, ip, port); // roam to where the initiation came from
    this.install(p, session);
    this.sendRaw(p, ip, port, message);
  }

  private onResponse(msg: Uint8Array, ip: number, port: number, now: number): void {
    const idx = receiverIndex(msg);
    const p = [...this.peers.values()].find((x) => x.inFlight?.localIndex === idx);
    if (!p || !p.inFlight) return this.drop('wg-no-session');
    const session = consumeResponse(this.identity, p.inFlight, msg);
    p.inFlight = null;
    p.firstAttemptAt = null;
    p.attempts = 0;
    wgNative().wgPeerSet(this.handle, p.id, p.vtep, ip, port);
    this.install(p, session);
    // The responder may send only once it has seen our first message on the new session.
    wgNative().wgSendKeepalive(this.handle, p.id);
    void now;
  }

  private onCookieReply(msg: Uint8Array): void {
    const idx = receiverIndex(msg);
    const p = [...this.peers.values()].find((x) => x.inFlight?.localIndex === idx);
    if (!p || !p.inFlight) return this.drop('wg-no-session');
    p.cookie = { value: consumeCookieReply(p.spec.publicKey, p.inFlight.mac1, msg), at: wgNative().wgClock() };
    this.log(`wireguard ${this.label(p)}: peer under load sent a cookie; the next initiation carries mac2`);
  }

  /** The 500 ms timer: retries, keepalives, dead-peer handshakes, key wiping. */
  private tick(): void {
    if (this.handle < 0) return;
    const n = wgNative();
    const now = n.wgClock();
    for (const p of this.peers.values()) {
      const r = p.id * WPS_STRIDE;
      const ps = this.peerStats;
      const hasSession = ps[r + WPS_CUR_SLOT] >= 0;
      if (p.inFlight && now - p.sentAt >= REKEY_TIMEOUT) {
        if (p.firstAttemptAt !== null && now - p.firstAttemptAt >= REKEY_ATTEMPT_TIME) {
          this.log(`wireguard ${this.label(p)}: no handshake response for ${REKEY_ATTEMPT_TIME / 1000} s (${p.attempts} attempts): giving up until there is traffic again`);
          p.inFlight = null;
          p.firstAttemptAt = null;
          p.attempts = 0;
          if (!hasSession) n.wgPeerClear(this.handle, p.id, false); // what was staged for it goes (wg-no-session)
        } else {
          this.initiate(p, now, 'retry');
        }
      }
      if (hasSession && ps[r + WPS_LAST_DATA_RX] > ps[r + WPS_LAST_TX] && now - ps[r + WPS_LAST_DATA_RX] >= KEEPALIVE_TIMEOUT) n.wgSendKeepalive(this.handle, p.id);
      if (!p.inFlight && ps[r + WPS_LAST_DATA_TX] > ps[r + WPS_LAST_RX] && ps[r + WPS_LAST_DATA_TX] > p.sentAt && now - ps[r + WPS_LAST_DATA_TX] >= KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) {
        this.initiate(p, now, 'no reply to data');
      }
      if (hasSession && now - ps[r + WPS_CUR_BORN] >= 3 * this.rejectAfter) {
        n.wgPeerClear(this.handle, p.id, false);
        this.log(`wireguard ${this.label(p)}: sessions wiped after ${(3 * this.rejectAfter) / 1000} s without a new handshake`);
      }
    }
  }

  /** What `wg show` shows, per peer; never a private key. */
  describePeers(): WireguardPeerInfo[] {
    const now = wgNative().wgClock();
    return [...this.peers.values()].map((p) => {
      const r = p.id * WPS_STRIDE;
      const ps = this.peerStats;
      const ep = this.endpointOf(p);
      const cur = ps[r + WPS_CUR_SLOT] >= 0 && now - ps[r + WPS_CUR_BORN] < this.rejectAfter;
      return {
        PublicKey: p.key,
        VTEP: p.spec.vtep,
        Endpoint: `${formatIpv4(ep.ip)}:${ep.port}`,
        Session: cur ? 'established' : p.inFlight ? 'handshake-sent' : ps[r + WPS_NEXT_SLOT] >= 0 ? 'awaiting-confirmation' : 'none',
        LatestHandshake: p.lastHandshakeWall === null ? null : new Date(p.lastHandshakeWall).toISOString(),
        LatestHandshakeAgeSeconds: p.lastHandshakeWall === null ? null : Math.round((Date.now() - p.lastHandshakeWall) / 1000),
        Handshakes: p.handshakes,
        HandshakeAttempts: p.attempts,
        Staged: ps[r + WPS_STAGED],
        TransferRx: ps[r + WPS_RX_BYTES],
        TransferTx: ps[r + WPS_TX_BYTES],
        PacketsRx: ps[r + WPS_RX_PACKETS],
        PacketsTx: ps[r + WPS_TX_PACKETS],
      };
    });
  }

  get cookiesSent(): number {
    return this.guard.cookiesSent;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.handle < 0) return;
    wgNative().wgClose(this.handle);
    this.handle = -1;
    this.rxFd = -1;
  }
}

export interface WireguardPeerInfo {
  PublicKey: string;
  VTEP: string;
  Endpoint: string;
  Session: 'established' | 'handshake-sent' | 'awaiting-confirmation' | 'none';
  LatestHandshake: string | null;
  LatestHandshakeAgeSeconds: number | null;
  Handshakes: number;
  HandshakeAttempts: number;
  /** Frames waiting for a session (sent when the handshake completes; at most 128). */
  Staged: number;
  TransferRx: number;
  TransferTx: number;
  PacketsRx: number;
  PacketsTx: number;
}
