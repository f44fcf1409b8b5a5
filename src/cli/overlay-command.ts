/**
 * `tsnet-switch overlay …`: the overlay driver's own commands.
 *   key show  this host's WireGuard public key (made at first use, kept in the daemon's state dir), to put
 *             in the other hosts' `-o encrypted.peers=PUBKEY@IP`. Never the private key.
 *   secrets   new handshakes with every peer, and their session secrets as Wireshark's WireGuard key
 *             log (a 0600 file), or embedded into a capture of the underlay as a pcapng Decryption
 *             Secrets Block (src/capture/secrets-injection.ts), so Wireshark shows the VXLAN and inner
 *             frames of an encrypted overlay. Sensitive, by request only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';
import { injectSecrets, SECRETS_WIREGUARD_KEYLOG } from '../capture/secrets-injection.js';
import { TsnError } from '../errors.js';

interface SecretsAnswer {
  KeyLog: string;
  Handshakes: number;
  Missing: string[];
}

export function registerOverlayCommands(program: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  const overlay = program.command('overlay').description('the overlay driver: this host\'s encryption key, session secrets for Wireshark');
  const key = overlay.command('key').description('this host\'s WireGuard key (encrypted overlays)');
  key
    .command('show')
    .description('print this host\'s WireGuard public key (base64, as wg pubkey prints it)')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const r = await client(o).call<{ PublicKey: string }>('GET', '/v1/overlay/key');
      console.log(o.json ? JSON.stringify(r, null, 2) : r.PublicKey);
    });
  overlay
    .command('secrets')
    .description(
      'SENSITIVE: start a new handshake with every WireGuard peer and write its secrets as a Wireshark key log (capture the underlay from before this on); with --inject, embed a key log into such a capture as a pcapng Decryption Secrets Block',
    )
    .requiredOption('-w, --write <file>', 'the key log, or with --inject the pcapng file to write (mode 0600)')
    .option('--inject <capture>', 'offline: embed --keylog into this pcap/pcapng capture of the underlay (taken while `overlay secrets -w` ran), written to -w')
    .option('--keylog <file>', 'with --inject: the key log to embed')
    .option('--passive <seconds>', 'start no handshake: record the handshakes that happen within SECONDS (1-600; a peer\'s, or a rekey, every 2 min), answered or initiated here, until every peer has had one')
    .addOption(socketOption())
    .action(async (o) => {
      let keylog: string;
      if (Boolean(o.inject) !== Boolean(o.keylog)) {
        throw new TsnError('ERR_BAD_OPTION', '--inject CAPTURE and --keylog FILE go together: the key log that `overlay secrets -w FILE` wrote while CAPTURE was being taken');
      }
      if (o.passive !== undefined && (o.keylog || o.inject)) throw new TsnError('ERR_BAD_OPTION', '--passive records handshakes from the daemon: it does not go with --inject/--keylog (offline)');
      const passive = o.passive === undefined ? undefined : /^\d+$/.test(o.passive) && Number(o.passive) >= 1 && Number(o.passive) <= 600 ? Number(o.passive) : null;
      if (passive === null) throw new TsnError('ERR_BAD_OPTION', `--passive ${JSON.stringify(o.passive)}: expected whole seconds, 1 to 600`);
      if (o.keylog) {
        keylog = readFileSync(o.keylog, 'utf8');
      } else {
        const r = await client(o).call<SecretsAnswer>('POST', '/v1/overlay/secrets', passive !== undefined ? { passive } : {});
        keylog = r.KeyLog;
        process.stderr.write(`${r.Handshakes} new handshake(s)${r.Missing.length ? `; ${passive !== undefined ? 'none with' : 'no answer from'} ${r.Missing.join(', ')}` : ''}\n`);
        if (!keylog) throw new TsnError('ERR_NOT_FOUND', 'no encrypted overlay peers on this daemon: no secrets to write');
      }
      const out = o.inject ? injectSecrets(readFileSync(o.inject), SECRETS_WIREGUARD_KEYLOG, Buffer.from(keylog), o.inject) : Buffer.from(keylog);
      writeFileSync(o.write, out, { mode: 0o600 });
      process.stderr.write(`wrote ${o.write}: it decrypts these sessions' traffic; keep it private\n`);
    });
}
