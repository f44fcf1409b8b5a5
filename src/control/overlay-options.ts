/**
 * `network create -d overlay -o KEY=VALUE` options, checked before anything is made:
 *
 *   vni=N          1..16777215 (alias com.docker.network.driver.overlay.vxlanid_list); default: the
 *                  lowest VNI from 4097 up that no other overlay on the same VTEP uses. Hosts sharing a
 *                  network must agree on it: pass it explicitly for multi-host networks.
 *   vtep=IP        the local VTEP: an IPv4 or IPv6 address of this host (IPv6: VXLAN over UDP/IPv6,
 *                  as the kernel's `vxlan ... local fd00::1`); default: the host's only non-loopback
 *                  IPv4 address (with several, it must be given), or with IPv6 peers its only global
 *                  IPv6 address.
 *   peers=IP,IP…   remote VTEPs for broadcast, multicast and unknown unicast; each a unicast address of
 *                  the VTEP's family (a VTEP is one family), not the local VTEP; may be empty (then
 *                  only static `fdb add` entries reach out).
 *   port=N         UDP port, 1..65535, default 4789 (IANA; Linux's vxlan default is 8472 without
 *                  `dstport`): ours to bind, and every peer's destination.
 *   learning=B     true|false, default true: flood-and-learn of remote MACs and IP -> MAC pairs.
 *
 * Errors are TsnErrors naming the value and what is accepted (ERR_BAD_OPTION; ERR_VNI_IN_USE when
 * another overlay network has the VNI on the same VTEP address and port).
 */
import { formatIpv4, parseIpv4 } from './cidr.js';
import { formatIpv6Address, parseIpv6Address } from './ipam6.js';
import { TsnError } from '../errors.js';
import type { OverlayRecord } from './model.js';

export const OVERLAY_OPTION_KEYS: Record<string, 'vni' | 'vtep' | 'peers' | 'port' | 'learning'> = {
  vni: 'vni',
  'com.docker.network.driver.overlay.vxlanid_list': 'vni',
  vtep: 'vtep',
  peers: 'peers',
  port: 'port',
  learning: 'learning',
};

export const DEFAULT_VXLAN_PORT = 4789;
export const FIRST_DEFAULT_VNI = 4097;
export const VNI_MAX = 0xffffff;

function bad(message: string): TsnError {
  return new TsnError('ERR_BAD_OPTION', message);
}

/** The family of a VTEP address (canonical or user text): IPv6 when it has a ':'. */
export function vtepFamily(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/** `198.18.0.1:4789`, `[fd00::1]:4789`: a VTEP address and UDP port as one text. */
export function vtepWithPort(address: string, port: number): string {
  return vtepFamily(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * A unicast IPv6 address a VTEP can use, canonical: global or unique local. Not ::, ::1, multicast
 * (ff00::/8), link-local (fe80::/10: it would need a zone) or IPv4-mapped (::ffff:0:0/96).
 */
function checkVtepAddress6(text: string, what: string): string {
  let v: bigint;
  try {
    v = parseIpv6Address(text, what);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const top16 = Number(v >> 112n);
  if (v === 0n || v === 1n || top16 >= 0xff00 || (top16 & 0xffc0) === 0xfe80 || v >> 32n === 0xffffn) {
    throw bad(`${what} ${text} is not a unicast IPv6 address a VTEP can use (::, loopback, multicast, link-local and IPv4-mapped are not): expected a global or unique-local address of a host on the underlay, e.g. fd00::2`);
  }
  return formatIpv6Address(v);
}

/**
 * A unicast address usable as a VTEP, canonical: IPv4 (not 0/8, 127/8, 224/4 or 255.255.255.255) or
 * IPv6 (checkVtepAddress6). With `family`, it must be of that family: the local VTEP's, since a VTEP
 * sends and receives over one (`local` names it in the refusal).
 */
export function checkVtepAddress(text: string, what: string, family?: 4 | 6, local?: string): string {
  const fam = vtepFamily(text);
  if (family !== undefined && fam !== family) {
    throw bad(
      `${what} ${text} is an IPv${fam} address but the VTEP${local ? ` ${local}` : ''} is IPv${family}: a VTEP sends and receives VXLAN over one family; expected IPv${family} addresses (e.g. ${family === 6 ? 'fd00::2' : '198.18.0.2'}), or an IPv${fam} -o vtep=`,
    );
  }
  if (fam === 6) return checkVtepAddress6(text, what);
  let n: number;
  try {
    n = parseIpv4(text, what);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const first = n >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw bad(`${what} ${text} is not a unicast address a VTEP can use: expected an address of a host on the underlay, e.g. 198.18.0.2`);
  }
  return formatIpv4(n);
}

export interface OverlayOptionContext {
  /** This host's IPv4 and IPv6 addresses (non-loopback, canonical), for the check of vtep=. */
  hostAddresses: readonly string[];
  /** The addresses a default vtep may be (default: hostAddresses); only those of the peers' family count. */
  defaultCandidates?: readonly string[];
  /** Overlay settings of the other networks, for VNI conflicts and the default VNI. */
  others: readonly OverlayRecord[];
}

/** Parse the overlay keys of `options` (other keys are ignored here). */
export function parseOverlayOptions(options: Record<string, string>, ctx: OverlayOptionContext): OverlayRecord {
  const o: Partial<Record<'vni' | 'vtep' | 'peers' | 'port' | 'learning', string>> = {};
  for (const [key, value] of Object.entries(options)) {
    const field = OVERLAY_OPTION_KEYS[key];
    if (field) o[field] = value;
  }
  let port = DEFAULT_VXLAN_PORT;
  if (o.port !== undefined) {
    if (!/^\d{1,5}$/.test(o.port) || Number(o.port) < 1 || Number(o.port) > 65535) throw bad(`-o port=${o.port}: expected a UDP port 1..65535 (VXLAN's is 4789)`);
    port = Number(o.port);
  }
  const peerTexts = o.peers !== undefined && o.peers.trim() !== '' ? o.peers.split(',').map((p) => p.trim()) : [];
  let vtep: string;
  if (o.vtep !== undefined) {
    vtep = checkVtepAddress(o.vtep, '-o vtep=');
    if (!ctx.hostAddresses.includes(vtep)) {
      throw bad(`-o vtep=${o.vtep}: not an address of this host; expected one of: ${ctx.hostAddresses.join(', ') || '(none: give the underlay interface an IPv4 address first)'}`);
    }
  } else {
    // Without -o vtep, the family the peers are in (IPv4 when there are none): IPv6 only when asked.
    const family = peerTexts.length > 0 && peerTexts.every((p) => vtepFamily(p) === 6) ? 6 : 4;
    const candidates = (ctx.defaultCandidates ?? ctx.hostAddresses).filter((a) => vtepFamily(a) === family);
    if (candidates.length === 1) vtep = candidates[0];
    else {
      const v = family === 6 ? 'global IPv6 address' : 'IPv4 address';
      throw bad(
        candidates.length === 0
          ? `the overlay driver needs a local VTEP address, and this host has no ${v} besides loopback (and TAPs): give the underlay interface one, then -o vtep=IP`
          : `this host has several ${v}es (${candidates.join(', ')}): choose the underlay one with -o vtep=IP`,
      );
    }
  }
  const family = vtepFamily(vtep);
  const peers: string[] = [];
  if (peerTexts.length > 0) {
    for (const part of peerTexts) {
      const p = checkVtepAddress(part, '-o peers=', family, vtep);
      if (p === vtep) throw bad(`-o peers=${o.peers}: ${p} is the local VTEP itself; list the other hosts' VTEP addresses`);
      if (!peers.includes(p)) peers.push(p);
    }
  }
  let learning = true;
  if (o.learning !== undefined) {
    if (o.learning !== 'true' && o.learning !== 'false') throw bad(`-o learning=${o.learning}: expected true or false`);
    learning = o.learning === 'true';
  }
  const sameVtep = ctx.others.filter((r) => r.vtep === vtep && r.port === port);
  let vni: number;
  if (o.vni !== undefined) {
    if (!/^\d{1,8}$/.test(o.vni) || Number(o.vni) < 1 || Number(o.vni) > VNI_MAX) throw bad(`-o vni=${o.vni}: expected a VXLAN network identifier 1..${VNI_MAX}`);
    vni = Number(o.vni);
    if (sameVtep.some((r) => r.vni === vni)) {
      throw new TsnError('ERR_VNI_IN_USE', `VNI ${vni} is used by another overlay network on VTEP ${vtepWithPort(vtep, port)}: choose another -o vni=N (one network per VNI)`);
    }
  } else {
    vni = FIRST_DEFAULT_VNI;
    while (sameVtep.some((r) => r.vni === vni)) vni++;
  }
  return { vni, vtep, port, peers, learning, staticFdb: [] };
}
