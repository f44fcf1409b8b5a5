/**
 * `network create -d overlay -o encrypted=true …`: the options of an encrypted overlay, checked before
 * anything is made.
 *
 *   encrypted[=true|false]     every VXLAN datagram to another VTEP travels inside WireGuard (Docker's
 *                              `--opt encrypted`, whose value is empty, means true)
 *   encrypted.port=N           this host's WireGuard UDP port, 1..65535, default 51820; also the port
 *                              of every peer that names none
 *   encrypted.peers=PUBKEY@IP[:PORT],…
 *                              the other VTEPs and their X25519 public keys (base64, as `wg pubkey`
 *                              prints them); IP is the peer's VTEP address and first endpoint
 *
 * Without encrypted.peers the peers come from the cluster store when the daemon has one (a
 * WireguardPeerSource); with neither, the network is refused (nothing could be reached). IPv4 VTEPs
 * only: an IPv6 -o vtep= with encrypted=true is refused by name.
 */
import { TsnError } from '../errors.js';
import type { OverlayEncryption } from './model.js';
import { checkVtepAddress, vtepFamily } from './overlay-options.js';

export const ENCRYPTION_OPTION_KEYS = ['encrypted', 'encrypted.port', 'encrypted.peers'] as const;
export const DEFAULT_WIREGUARD_PORT = 51820;

function bad(message: string): TsnError {
  return new TsnError('ERR_BAD_OPTION', message);
}

/** A WireGuard public key: 44 characters of base64 for 32 bytes. Returns it normalized. */
export function checkPublicKey(text: string, what: string): string {
  const buf = /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (!buf || buf.length !== 32) throw bad(`${what}: ${JSON.stringify(text)} is not a WireGuard public key: expected 44 characters of base64 (32 bytes), as \`wg pubkey\` or \`tsnet-switch overlay key show\` print it`);
  return buf.toString('base64');
}

function checkPort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw bad(`${what}${text}: expected a UDP port 1..65535 (WireGuard's is 51820)`);
  return Number(text);
}

/** The encryption settings of `options` for an overlay on `vtep`, or undefined for a plaintext overlay. */
export function parseEncryptionOptions(options: Record<string, string>, vtep: string, opts: { peersFromStore: boolean }): OverlayEncryption | undefined {
  const on = options.encrypted;
  if (on === undefined || on === 'false') {
    const stray = ENCRYPTION_OPTION_KEYS.filter((k) => k !== 'encrypted' && options[k] !== undefined);
    if (stray.length) throw bad(`-o ${stray[0]} needs -o encrypted=true`);
    return undefined;
  }
  if (on !== 'true' && on !== '') throw bad(`-o encrypted=${on}: expected true or false`);
  // WireGuard endpoints (wg_transport.c) are IPv4 sockets so far.
  if (vtepFamily(vtep) === 6) throw bad(`-o encrypted=true: the VTEP ${vtep} is IPv6, and encrypted overlays run over an IPv4 underlay only; expected an IPv4 -o vtep= for an encrypted overlay, or a plaintext one over IPv6 (drop -o encrypted)`);
  const port = options['encrypted.port'] === undefined ? DEFAULT_WIREGUARD_PORT : checkPort(options['encrypted.port'], '-o encrypted.port=');
  const peers: OverlayEncryption['peers'] = [];
  const text = options['encrypted.peers'];
  if (text !== undefined && text.trim() !== '') {
    for (const raw of text.split(',')) {
      const part = raw.trim();
      const m = /^([^@]+)@([^:]+)(?::(.*))?$/.exec(part);
      if (!m) throw bad(`-o encrypted.peers=${text}: ${JSON.stringify(part)} is not PUBKEY@IP[:PORT]`);
      const publicKey = checkPublicKey(m[1], '-o encrypted.peers=');
      const ip = checkVtepAddress(m[2], '-o encrypted.peers=', 4, vtep);
      if (ip === vtep) throw bad(`-o encrypted.peers=${text}: ${ip} is the local VTEP itself; list the other hosts`);
      const peerPort = m[3] === undefined ? port : checkPort(m[3], `-o encrypted.peers= ${part}: port `);
      if (peers.some((p) => p.vtep === ip)) throw bad(`-o encrypted.peers=${text}: ${ip} is listed twice`);
      if (peers.some((p) => p.publicKey === publicKey)) throw bad(`-o encrypted.peers=${text}: key ${publicKey} is listed twice (one key per VTEP)`);
      peers.push({ publicKey, vtep: ip, endpoint: ip, port: peerPort });
    }
  }
  if (peers.length === 0 && !opts.peersFromStore) {
    throw bad('-o encrypted=true needs the peers\' public keys: -o encrypted.peers=PUBKEY@IP[:PORT],… (each host prints its own with `tsnet-switch overlay key show`), or a daemon with a cluster store');
  }
  return { port, peers };
}
