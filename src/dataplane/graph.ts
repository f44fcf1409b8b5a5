/**
 * The data-plane graph, written in one place so it reads as a picture of the switch:
 *
 *   port rx burst ─▶ ingress ─▶ l2-learn ─▶ l2-fwd ─▶ egress ─▶ port tx bursts
 *                     │ drop: runt, bad-vnet-hdr,      │ drop: same-port, icc-disabled
 *                     │ bad-src-mac, spoofed-src-mac   │
 *
 * Later stages (lb before l2-learn, vxlan encap at egress) slot in here. `buildGraph` checks that each
 * stage's declared next stage is the one that follows it, so the picture cannot drift from the code.
 */
import type { Stage } from './stage.js';
import { EgressStage } from './stages/egress.js';
import { IngressStage } from './stages/ingress.js';
import { L2ForwardStage } from './stages/l2-fwd.js';
import { L2LearnStage } from './stages/l2-learn.js';

export interface StageGraph {
  stages: readonly Stage[];
  egress: EgressStage;
}

export function buildGraph(): StageGraph {
  const egress = new EgressStage();
  const stages: Stage[] = [new IngressStage(), new L2LearnStage(), new L2ForwardStage(), egress];
  for (let i = 0; i + 1 < stages.length; i++) {
    if (!stages[i].next.includes(stages[i + 1].name)) {
      throw new Error(`graph: ${stages[i].name} does not declare ${stages[i + 1].name} as a next stage`);
    }
  }
  return { stages, egress };
}
