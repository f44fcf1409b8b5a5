/**
 * MAC addresses for endpoints and gateway ports. Docker derives a container's MAC from its IPv4
 * address: 02:42 (locally administered, unicast) followed by the four address bytes, so a MAC tells
 * you the IP at a glance and never collides inside one subnet.
 */
import { randomBytes } from 'node:crypto';
import { formatMac, parseMac } from '../packet/mac.js';
import { TsnError } from '../errors.js';
import { parseIpv4 } from './cidr.js';

export function macFromIpv4(ip: string): string {
  return formatMac(0x0242 * 2 ** 32 + parseIpv4(ip));
}

export function randomLocalMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A MAC given by a user: well formed, unicast, not all zero. Returns the canonical lowercase form. */
export function checkUserMac(text: string): string {
  let n: number;
  try {
    n = parseMac(text);
  } catch {
    throw new TsnError('ERR_BAD_MAC', `MAC address ${JSON.stringify(text)} is malformed: expected six hex bytes like 02:42:0a:00:00:02`);
  }
  if (n === 0 || Math.floor(n / 2 ** 40) & 1) {
    throw new TsnError('ERR_BAD_MAC', `MAC address ${text} is multicast or zero: expected a unicast address (first byte even), e.g. 02:42:0a:00:00:02`);
  }
  return formatMac(n);
}
