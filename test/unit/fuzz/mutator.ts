/**
 * Seeded frame mutation for fuzzing: start from real frames (the kernel-made fixtures and built TCP
 * frames), then flip bytes, truncate, extend, splice, and overwrite the length fields parsers trust
 * (IHL, IPv4 total length, TCP data offset, UDP length, IPv6 payload length, ARP hlen/plen). Every
 * case is a pure function of (seed, index), so a failure names the seed and index that reproduce it.
 */
import { prng, tcpFrame } from '../../helpers/frames.js';
import * as F from '../packet/frames.js';
import type { VnetFields } from '../../../src/dataplane/frame-pool.js';

export const CORPUS: Uint8Array[] = [
  F.ARP_REQUEST,
  F.DNS_QUERY,
  F.TCP_SYN_V4,
  F.TCP_SYN_V6,
  F.ICMP_ECHO,
  F.ICMPV6_ECHO,
  F.MLDV2_REPORT,
  F.IPV4_OPTIONS_UDP,
  F.IPV6_LAST_FRAGMENT,
  F.VLAN_DNS,
  F.QINQ_ICMP,
  F.VXLAN_ICMP,
  tcpFrame({ dst: 0x02420a000003, src: 0x0a0000000001, srcIp: '10.0.0.9', dstIp: '10.0.0.3', sport: 40000, dport: 80, payloadLen: 1400 }).frame,
];

/** Offsets (into an untagged IPv4/IPv6 Ethernet frame) of fields parsers trust. */
const LENGTH_FIELDS = [14, 16, 17, 14 + 20 + 12, 14 + 20 + 4, 14 + 20 + 5, 18, 19, 14 + 4, 14 + 5];

export interface Mutant {
  frame: Uint8Array;
  vnet?: VnetFields;
}

export class Mutator {
  private readonly rnd: () => number;
  constructor(readonly seed: number) {
    this.rnd = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  next(): Mutant {
    const r = this.rnd;
    let f: Uint8Array;
    const kind = this.int(10);
    if (kind === 0) {
      f = new Uint8Array(this.int(120));
      for (let i = 0; i < f.length; i++) f[i] = this.int(256);
    } else {
      const base = CORPUS[this.int(CORPUS.length)];
      f = base.slice();
      const ops = 1 + this.int(4);
      for (let k = 0; k < ops; k++) {
        switch (this.int(6)) {
          case 0: // flip bytes
            for (let n = 1 + this.int(8); n > 0 && f.length; n--) f[this.int(f.length)] ^= 1 << this.int(8);
            break;
          case 1: // truncate
            f = f.slice(0, this.int(f.length + 1));
            break;
          case 2: {
            // extend with garbage
            const g = new Uint8Array(f.length + 1 + this.int(64));
            g.set(f);
            for (let i = f.length; i < g.length; i++) g[i] = this.int(256);
            f = g;
            break;
          }
          case 3: // overwrite a length field
            if (f.length) {
              const at = LENGTH_FIELDS[this.int(LENGTH_FIELDS.length)];
              if (at < f.length) f[at] = r() < 0.5 ? this.int(256) : [0, 1, 4, 5, 0x45, 0x4f, 0xff][this.int(7)];
            }
            break;
          case 4: {
            // splice in the head of another frame
            const other = CORPUS[this.int(CORPUS.length)];
            const cut = this.int(Math.min(f.length, other.length) + 1);
            f = Uint8Array.from([...other.subarray(0, cut), ...f.subarray(cut)]);
            break;
          }
          case 5: // random source/destination MACs, sometimes multicast or zero
            if (f.length >= 12) for (let i = 0; i < 12; i++) f[i] = r() < 0.1 ? 0 : this.int(256);
            break;
        }
      }
    }
    let vnet: VnetFields | undefined;
    if (r() < 0.3) {
      const gso = [0, 0, 1, 4, 0x81, 3, 5, this.int(256)][this.int(8)];
      vnet = {
        flags: this.int(4),
        gsoType: gso,
        hdrLen: this.int(128),
        gsoSize: r() < 0.2 ? 0 : 1 + this.int(2000),
        csumStart: r() < 0.5 ? 34 : this.int(f.length + 8),
        csumOffset: r() < 0.5 ? [6, 16][this.int(2)] : this.int(64),
      };
    }
    return { frame: f, vnet };
  }
}
