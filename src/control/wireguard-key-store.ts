/**
 * This host's WireGuard identity: an X25519 key pair made at first use and kept in the state dir as
 * `wireguard/private.key` (base64, as `wg genkey` writes it; the directory 0700, the file 0600, written
 * to a temporary file and renamed so that a crash never leaves half a key). The private key never
 * leaves this module except to the encrypted VTEPs; inspect, logs and the API see the public key only.
 * A key file that is readable by others is refused, naming the file and the fix.
 */
import { chmodSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { wgNative } from '../native/wireguard-addon.js';
import type { StaticIdentity } from '../dataplane/wireguard/noise-handshake.js';
import { TsnError } from '../errors.js';

export class WireguardKeyStore {
  private cached: StaticIdentity | null = null;

  constructor(private readonly stateDir: string) {}

  get path(): string {
    return join(this.stateDir, 'wireguard', 'private.key');
  }

  /** The identity, made and saved on first use. */
  identity(): StaticIdentity {
    if (this.cached) return this.cached;
    const n = wgNative();
    let priv: Uint8Array;
    let st: ReturnType<typeof statSync> | null = null;
    try {
      st = statSync(this.path);
    } catch {
      st = null;
    }
    if (st) {
      if ((st.mode & 0o077) !== 0) {
        throw new TsnError('ERR_STATE_UNREADABLE', `${this.path} is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it, or remove it to make a new key`);
      }
      const text = readFileSync(this.path, 'utf8').trim();
      const buf = Buffer.from(text, 'base64');
      if (buf.length !== 32) throw new TsnError('ERR_STATE_CORRUPT', `${this.path} does not hold a WireGuard private key (44 characters of base64): remove it to make a new key`);
      priv = Uint8Array.from(buf);
    } else {
      priv = n.wgGenerateKey();
      const dir = join(this.stateDir, 'wireguard');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const tmp = `${this.path}.tmp-${process.pid}`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, Buffer.from(priv).toString('base64') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    }
    this.cached = { privateKey: priv, publicKey: n.wgX25519PublicKey(priv) };
    return this.cached;
  }

  publicKey(): string {
    return Buffer.from(this.identity().publicKey).toString('base64');
  }
}
