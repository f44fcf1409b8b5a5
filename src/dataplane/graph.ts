/**
 * The data-plane graph, written in one place so it reads as a picture of the switch:
 *
 *   port rx burst ─▶ vxlan-decap ─▶ ingress ─▶ macvlan ─▶ ipvlan ─▶ arp-suppress ─▶ lb ─▶ uplink-loop ─▶ l2-learn ─▶ l2-fwd ─▶ overlay-mtu ─▶ egress ─▶ port tx bursts
 *   (macvlan / ipvlan: networks on a parent interface, demultiplexed by MAC / by IPv4 address; they
 *   decide their frames' outputs, so the stages after them leave those frames alone)
 *   (vxlan-decap: frames of VTEP sockets become frames of their VNI's overlay network; overlay-mtu:
 *   frames too large for the underlay are counted and IPv4 with DF answered by ICMP frag-needed;
 *   uplink-loop: a bridge uplink's frames that a loop outside the switch brought back, dropped before
 *   they are learned or flooded)
 *                     │ drop: runt, bad-vnet-hdr,      │ drop: same-port, icc-disabled
 *                     │ bad-src-mac, spoofed-src-mac   │
 *
 * Later stages slot in here (VXLAN encapsulation itself is the VxlanPort's transmit, ports/vxlan-port.ts). `buildGraph` checks that each
 * stage's declared next stage is the one that follows it, so the picture cannot drift from the code.
 */
import type { Stage } from './stage.js';
import { EgressStage } from './stages/egress.js';
import { IngressStage } from './stages/ingress.js';
import { L2ForwardStage } from './stages/l2-fwd.js';
import { L2LearnStage } from './stages/l2-learn.js';
import { LbStage } from './stages/lb.js';
import { UplinkLoopStage } from './stages/uplink-loop.js';
import { LoadBalancer, type LoadBalancerOptions } from '../lb/load-balancer.js';
import { ArpSuppressStage } from './stages/arp-suppress.js';
import { OverlayMtuStage } from './stages/overlay-mtu.js';
import { VxlanDecapStage } from './stages/vxlan-decap.js';
import { IpvlanDemuxStage } from './stages/ipvlan-demux.js';
import { MacvlanDemuxStage } from './stages/macvlan-demux.js';
import { ParentNetworks } from './parent-networks.js';

export interface StageGraph {
  stages: readonly Stage[];
  egress: EgressStage;
  /** The L4 load balancer (virtual services), for the control plane. */
  lb: LbStage;
  /** macvlan/ipvlan networks (uplink, members), for their drivers. */
  parentNetworks: ParentNetworks;
}

export function buildGraph(lbOptions?: LoadBalancerOptions): StageGraph {
  const egress = new EgressStage();
  const lb = new LbStage(new LoadBalancer(lbOptions));
  const parentNetworks = new ParentNetworks();
  const stages: Stage[] = [new VxlanDecapStage(), new IngressStage(), new MacvlanDemuxStage(parentNetworks, egress), new IpvlanDemuxStage(parentNetworks, egress), new ArpSuppressStage(), lb, new UplinkLoopStage(), new L2LearnStage(), new L2ForwardStage(), new OverlayMtuStage(), egress];
  for (let i = 0; i + 1 < stages.length; i++) {
    if (!stages[i].next.includes(stages[i + 1].name)) {
      throw new Error(`graph: ${stages[i].name} does not declare ${stages[i + 1].name} as a next stage`);
    }
  }
  return { stages, egress, lb, parentNetworks };
}
