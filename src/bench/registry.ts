/**
 * Every scenario `tsnet-switch bench` knows, in the order a full run measures them. A driver's
 * scenarios join with one import and one spread here.
 */
import type { Scenario } from './scenario.js';
import { bridgeScenarios } from './scenarios/bridge.js';
import { dockerScenarios } from './scenarios/docker.js';
import { lbScenarios } from './scenarios/lb.js';
import { macvlanScenarios } from './scenarios/macvlan.js';
import { overlayScenarios } from './scenarios/overlay.js';

export const SCENARIOS: readonly Scenario[] = [...bridgeScenarios, ...overlayScenarios, ...macvlanScenarios, ...lbScenarios, ...dockerScenarios];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
