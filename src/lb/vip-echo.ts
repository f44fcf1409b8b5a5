/**
 * Ping to a VIP: an ICMP echo request to a virtual service's address is answered by the switch, as
 * IPVS's director answers it (the VIP is one of its own addresses), so `ping VIP` works whatever the
 * real servers do. The request becomes the reply in place: MACs and addresses swapped (the reply comes
 * from the VIP's switch-owned MAC), TTL 64, ICMP type 0, both checksums computed anew. IPv6 the same
 * (answerVipEcho6): ICMPv6 echo request 128 becomes reply 129, hop limit 64, the ICMPv6 checksum over
 * the pseudo header computed anew.
 */
import { read16, write16 } from '../packet/bytes.js';
import { foldChecksum, onesSum, pseudoHeaderSumV6 } from '../packet/checksum.js';
import { readMac, writeMac } from '../packet/mac.js';

const IPPROTO_ICMP = 1;

/** Back to the sender: destination MAC := its source, source := `vipMac`; the `n`-byte addresses swapped. */
function turnAround(bytes: Uint8Array, off: number, vipMac: number, srcAt: number, dstAt: number, n: number): void {
  writeMac(bytes, off, readMac(bytes, off + 6));
  writeMac(bytes, off + 6, vipMac);
  for (let i = 0; i < n; i++) {
    const t = bytes[srcAt + i];
    bytes[srcAt + i] = bytes[dstAt + i];
    bytes[dstAt + i] = t;
  }
}
const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;

/**
 * If the IPv4 packet at `ip` (frame at `off`, `len` bytes) is a whole ICMP echo request, turn the frame
 * into its reply from `vipMac` and return true; else change nothing and return false.
 */
export function answerVipEcho(bytes: Uint8Array, off: number, len: number, ip: number, vipMac: number): boolean {
  const ihl = (bytes[ip] & 0x0f) << 2;
  const total = read16(bytes, ip + 2);
  if (bytes[ip] >> 4 !== 4 || ihl < 20 || bytes[ip + 9] !== IPPROTO_ICMP) return false;
  if (total < ihl + 8 || ip - off + total > len) return false;
  if ((read16(bytes, ip + 6) & 0x3fff) !== 0) return false; // a fragment: not answered (IPVS would reassemble first)
  const icmp = ip + ihl;
  if (bytes[icmp] !== ECHO_REQUEST || bytes[icmp + 1] !== 0) return false;
  turnAround(bytes, off, vipMac, ip + 12, ip + 16, 4);
  bytes[ip + 8] = 64;
  write16(bytes, ip + 10, 0);
  write16(bytes, ip + 10, foldChecksum(onesSum(bytes, ip, ihl)));
  bytes[icmp] = ECHO_REPLY;
  write16(bytes, icmp + 2, 0);
  write16(bytes, icmp + 2, foldChecksum(onesSum(bytes, icmp, total - ihl)));
  return true;
}

const IPPROTO_ICMPV6 = 58;
const ECHO6_REQUEST = 128;
const ECHO6_REPLY = 129;

/**
 * The IPv6 form: if the IPv6 packet at `ip` is a whole ICMPv6 echo request (right after the fixed
 * header: no extension headers), turn the frame into its reply from `vipMac` and return true.
 */
export function answerVipEcho6(bytes: Uint8Array, off: number, len: number, ip: number, vipMac: number): boolean {
  const payload = read16(bytes, ip + 4);
  if (bytes[ip] >> 4 !== 6 || bytes[ip + 6] !== IPPROTO_ICMPV6) return false;
  if (payload < 8 || ip - off + 40 + payload > len) return false;
  const icmp = ip + 40;
  if (bytes[icmp] !== ECHO6_REQUEST || bytes[icmp + 1] !== 0) return false;
  turnAround(bytes, off, vipMac, ip + 8, ip + 24, 16);
  bytes[ip + 7] = 64;
  bytes[icmp] = ECHO6_REPLY;
  write16(bytes, icmp + 2, 0);
  write16(bytes, icmp + 2, foldChecksum(onesSum(bytes, icmp, payload, pseudoHeaderSumV6(bytes, ip + 8, ip + 24, IPPROTO_ICMPV6, payload))));
  return true;
}
