/**
 * The data-plane graph, written in one place so it reads as a picture of the switch. Every frame meets
 * the same first two stages; then it is classified once, by its ingress port's domain, and runs only
 * the stages of its class (VPP's next-node lists):
 *
 *   port rx burst ─▶ vxlan-decap ─▶ ingress ─▶ classify ─┬─ bridge:  lb ─▶ uplink-loop ─▶ l2-learn ─▶ l2-fwd ──────────────────┬─▶ egress ─▶ port tx bursts
 *                                                        ├─ overlay: arp-suppress ─▶ lb ─▶ l2-learn ─▶ l2-fwd ─▶ overlay-mtu ─┤
 *                                                        ├─ macvlan: macvlan ─────────────────────────────────────────────────┤
 *                                                        ├─ ipvlan:  ipvlan ──────────────────────────────────────────────────┤
 *                                                        └─ vip (lb answered or rewrote it, from bridge/overlay): overlay-mtu ┘
 *   (macvlan / ipvlan: networks on a parent interface, demultiplexed by MAC / by IPv4 address; they
 *   decide their frames' outputs; vxlan-decap: frames of VTEP sockets become frames of their VNI's
 *   overlay network; overlay-mtu: frames too large for the underlay are counted and IPv4 with DF
 *   answered by ICMP frag-needed; uplink-loop: a bridge uplink's frames that a loop outside the switch
 *   brought back, dropped before they are learned or flooded)
 *
 * VXLAN encapsulation itself is the VxlanPort's transmit, ports/vxlan-port.ts. `buildGraph` checks, per
 * class, that each stage's declared next stage is the one that follows it, and that every class list
 * keeps the one stage order of `stages`, so the picture cannot drift from the code.
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
import { CLASS_COUNT, FRAME_CLASSES, type FrameClass } from './batch.js';

/** Stages every frame meets, in order, before it is classified. */
export const PREFIX_STAGES = ['vxlan-decap', 'ingress'] as const;
/** Per frame class, the stages it runs after ingress, egress last. */
export const CLASS_STAGES: { readonly [C in FrameClass]: readonly string[] } = {
  bridge: ['lb', 'uplink-loop', 'l2-learn', 'l2-fwd', 'egress'],
  overlay: ['arp-suppress', 'lb', 'l2-learn', 'l2-fwd', 'overlay-mtu', 'egress'],
  macvlan: ['macvlan', 'egress'],
  ipvlan: ['ipvlan', 'egress'],
  vip: ['overlay-mtu', 'egress'],
};
/** Where each class's list is entered: after ingress, or (vip) from the lb stage. */
const CLASS_ENTRY: { readonly [C in FrameClass]: string } = { bridge: 'ingress', overlay: 'ingress', macvlan: 'ingress', ipvlan: 'ingress', vip: 'lb' };

/** One step of a burst after classification: `stage` over the row lists of `classes`, in that order. */
export interface ScheduledStage {
  stage: Stage;
  classes: number[];
}

export interface StageGraph {
  /** Every stage, in the one order (what the architecture page's table lists). */
  stages: readonly Stage[];
  /** vxlan-decap and ingress: over every row of the burst. */
  prefix: Stage[];
  /** The stages between classification and egress, each with the classes whose lists it runs over. */
  schedule: ScheduledStage[];
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
  const byName = new Map(stages.map((st) => [st.name, st]));
  const order = stages.map((st) => st.name);
  const follows = (a: string, b: string, where: string) => {
    if (!byName.get(a)!.next.includes(b)) throw new Error(`graph: ${a} does not declare ${b} as a next stage (${where})`);
  };
  for (let i = 0; i + 1 < PREFIX_STAGES.length; i++) follows(PREFIX_STAGES[i], PREFIX_STAGES[i + 1], 'prefix');
  const schedule: ScheduledStage[] = [];
  for (let c = 0; c < CLASS_COUNT; c++) {
    const cls = FRAME_CLASSES[c];
    const list = CLASS_STAGES[cls];
    if (list[list.length - 1] !== 'egress') throw new Error(`graph: class ${cls} does not end in egress`);
    follows(CLASS_ENTRY[cls], list[0], cls);
    for (let i = 0; i < list.length; i++) {
      if (!byName.has(list[i])) throw new Error(`graph: class ${cls} names no stage ${list[i]}`);
      if (i + 1 < list.length) {
        follows(list[i], list[i + 1], cls);
        if (order.indexOf(list[i]) >= order.indexOf(list[i + 1])) throw new Error(`graph: class ${cls} runs ${list[i + 1]} before ${list[i]}`);
      }
    }
  }
  for (const st of stages) {
    if ((PREFIX_STAGES as readonly string[]).includes(st.name) || st === egress) continue;
    const classes: number[] = [];
    for (let c = 0; c < CLASS_COUNT; c++) if (CLASS_STAGES[FRAME_CLASSES[c]].includes(st.name)) classes.push(c);
    if (classes.length === 0) throw new Error(`graph: stage ${st.name} is in no class`);
    schedule.push({ stage: st, classes });
  }
  const prefix = PREFIX_STAGES.map((n) => byName.get(n)!);
  return { stages, prefix, schedule, egress, lb, parentNetworks };
}
