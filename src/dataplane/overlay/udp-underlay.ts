/**
 * UdpUnderlay: a VTEP's UDP sockets in the addon (native/src/udp_vtep.c): one receive socket bound to
 * LOCAL_IP:PORT, a few transmit sockets whose ephemeral ports are the outer source ports (picked per
 * inner flow by a hash, in C). Bursts only: one recvmmsg per ready turn, one sendmmsg per transmit
 * socket per burst; GSO super-frames are segmented in C and leave with UDP_SEGMENT.
 */
import { native, VST_COUNT, VST_RX_GRO_DGRAMS, type VtepOpenOptions } from '../../native/addon.js';
import { parseIpv4 } from '../../packet/ipv4.js';
import type { FramePool } from '../frame-pool.js';
import { META_SRC_IP_BACK, META_SRC_PORT_BACK, VXLAN_HDR_BACK, type Underlay } from './underlay.js';

export class UdpUnderlay implements Underlay {
  readonly localIp: number;
  readonly port: number;
  readonly sourcePorts: readonly number[];
  readonly status = new Int32Array(VST_COUNT);
  private handle: number;
  private rxFd: number;

  /** Bind LOCAL_IP:port (0: ephemeral, for tests). Throws EADDRINUSE / EADDRNOTAVAIL naming the address. */
  constructor(localIp: string, port: number, opts: VtepOpenOptions = {}) {
    const addon = native();
    const l = addon.vtepLayout;
    if (l.VXLAN_HLEN !== VXLAN_HDR_BACK || l.META_SRC_IP !== META_SRC_IP_BACK || l.META_SRC_PORT !== META_SRC_PORT_BACK || l.STATUS_COUNT !== VST_COUNT) {
      throw new Error(`native VTEP layout ${JSON.stringify(l)} does not match src/dataplane/overlay/underlay.ts: rebuild with npm run build:native`);
    }
    this.localIp = parseIpv4(localIp);
    const r = addon.vtepOpen(localIp, port, this.status, opts);
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

  close(): void {
    if (this.handle < 0) return;
    native().vtepClose(this.handle);
    this.handle = -1;
    this.rxFd = -1;
  }
}
