/**
 * UdpUnderlay: a VTEP's UDP sockets in the addon (native/src/udp_vtep.c): one receive socket bound to
 * LOCAL_IP:PORT, a few transmit sockets whose ephemeral ports are the outer source ports (picked per
 * inner flow by a hash, in C). Bursts only: one recvmmsg per ready turn, one sendmmsg per transmit
 * socket per burst; GSO super-frames are segmented in C and leave with UDP_SEGMENT. LOCAL_IP may be
 * IPv6 (VXLAN over UDP/IPv6): then remote VTEPs are the numbers the addon gives their addresses.
 */
import { native, VST_COUNT, VST_RX_GRO_DGRAMS, type VtepOpenOptions } from '../../native/addon.js';
import { formatIpv4, parseIpv4 } from '../../packet/ipv4.js';
import { formatIpv6, parseIpv6 } from '../../packet/ipv6.js';
import type { FramePool } from '../frame-pool.js';
import { META_SRC_IP_BACK, META_SRC_PORT_BACK, VXLAN_HDR_BACK, type Underlay } from './underlay.js';

export class UdpUnderlay implements Underlay {
  readonly localIp: number;
  readonly localAddress: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly sourcePorts: readonly number[];
  readonly status = new Int32Array(VST_COUNT);
  private handle: number;
  private rxFd: number;
  private readonly scratch6 = new Uint8Array(16);

  /** Bind LOCAL_IP:port (0: ephemeral, for tests). Throws EADDRINUSE / EADDRNOTAVAIL naming the address. */
  constructor(localIp: string, port: number, opts: VtepOpenOptions = {}) {
    const addon = native();
    const l = addon.vtepLayout;
    if (l.VXLAN_HLEN !== VXLAN_HDR_BACK || l.META_SRC_IP !== META_SRC_IP_BACK || l.META_SRC_PORT !== META_SRC_PORT_BACK || l.STATUS_COUNT !== VST_COUNT) {
      throw new Error(`native VTEP layout ${JSON.stringify(l)} does not match src/dataplane/overlay/underlay.ts: rebuild with npm run build:native`);
    }
    const r = addon.vtepOpen(localIp, port, this.status, opts);
    this.family = r.family;
    this.localIp = r.family === 4 ? parseIpv4(localIp) : 0;
    this.localAddress = localIp;
    this.handle = r.handle;
    this.rxFd = r.fd;
    this.port = r.port;
    this.sourcePorts = r.txPorts;
  }

  get fd(): number {
    return this.rxFd;
  }

  receive(pool: FramePool, firstSlot: number, max: number): number {
    if (this.handle < 0) return 0;
    return native().vtepRecvBurst(pool.nativeHandle(), this.handle, firstSlot, max);
  }

  send(pool: FramePool, vni: number, count: number, dst: Int32Array, peers: Int32Array, peerCount: number): number {
    if (this.handle < 0) {
      this.status.fill(0, 0, VST_RX_GRO_DGRAMS);
      return 0;
    }
    return native().vtepSendBurst(pool.nativeHandle(), this.handle, vni, count, dst, peers, peerCount);
  }

  vtepNumber(address: string): number {
    if (this.family === 4) return parseIpv4(address);
    if (this.handle < 0) throw new Error(`VTEP ${this.localAddress} is closed`);
    return native().vtepAddressNumber(this.handle, address);
  }

  vtepText(n: number): string {
    if (this.family === 4) return formatIpv4(n >>> 0);
    const text = this.handle >= 0 ? native().vtepAddressText(this.handle, n) : null;
    if (text === null) return `(unknown VTEP #${n})`;
    parseIpv6(text, this.scratch6, 0); // inet_ntop's text, in the one canonical form records use
    return formatIpv6(this.scratch6, 0);
  }

  /** IPv6: remote addresses numbered, and senders refused because the table was full (null for IPv4). */
  addressCounts(): { known: number; refused: number } | null {
    return this.family === 6 && this.handle >= 0 ? native().vtepAddressCounts(this.handle) : null;
  }

  close(): void {
    if (this.handle < 0) return;
    native().vtepClose(this.handle);
    this.handle = -1;
    this.rxFd = -1;
  }
}
