/**
 * Emulator topologies: a YAML file of networks (L2 domains) and in-memory ports, validated strictly
 * (an unknown key or a wrong type is an error naming it), e.g.
 *
 *   networks:
 *     - name: net1
 *       icc: true                  # container-to-container traffic (default true)
 *       fdb: { agingSeconds: 300, capacity: 8192 }
 *   ports:
 *     - name: web1
 *       network: net1
 *       mac: "02:42:0a:00:00:02"   # port security: the only source MAC it may send (omit: trusted)
 *       gso: true                  # takes GSO super-frames as they are (default true)
 *     - name: gw
 *       network: net1
 *
 * Quote MACs: YAML 1.1 readers take some unquoted ones for base-60 numbers (ours reads YAML 1.2, where
 * they are strings, but a number is refused with that hint all the same).
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeZodError } from '../control/api-schema.js';
import { TsnError } from '../errors.js';
import { parseMac } from '../packet/mac.js';

const NAME = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected 1-64 characters [A-Za-z0-9_.:-]');

const TopologySchema = z.strictObject({
  networks: z
    .array(
      z.strictObject({
        name: NAME,
        icc: z.boolean().optional(),
        fdb: z.strictObject({ agingSeconds: z.number().positive().optional(), capacity: z.number().int().positive().optional() }).optional(),
      }),
    )
    .min(1, 'at least one network'),
  ports: z
    .array(
      z.strictObject({
        name: NAME,
        network: z.string(),
        mac: z.union([z.string(), z.number()]).optional(),
        gso: z.boolean().optional(),
      }),
    )
    .min(1, 'at least one port'),
});

export interface TopologyPort {
  name: string;
  network: string;
  /** Port security (48-bit MAC), or null for a trusted port. */
  mac: number | null;
  gso: boolean;
}

export interface Topology {
  networks: { name: string; icc: boolean; agingSeconds?: number; capacity?: number }[];
  ports: TopologyPort[];
}

function bad(file: string, why: string): never {
  throw new TsnError('ERR_BAD_TOPOLOGY', `topology ${file}: ${why}`);
}

export function parseTopology(text: string, file = 'topology'): Topology {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    bad(file, `not valid YAML: ${(err as Error).message}`);
  }
  const r = TopologySchema.safeParse(doc);
  if (!r.success) bad(file, `${describeZodError(r.error)} (expected networks: [{name, icc?, fdb?}] and ports: [{name, network, mac?, gso?}])`);
  const t = r.data;
  const nets = new Set<string>();
  for (const n of t.networks) {
    if (nets.has(n.name)) bad(file, `network ${n.name} is listed twice`);
    nets.add(n.name);
  }
  const names = new Set<string>();
  const ports: TopologyPort[] = [];
  for (const p of t.ports) {
    if (names.has(p.name)) bad(file, `port ${p.name} is listed twice`);
    names.add(p.name);
    if (!nets.has(p.network)) bad(file, `port ${p.name} is on network ${JSON.stringify(p.network)}, which is not defined (networks: ${[...nets].join(', ')})`);
    let mac: number | null = null;
    if (p.mac !== undefined) {
      if (typeof p.mac === 'number') bad(file, `port ${p.name}: mac ${p.mac} was read as a number: quote it, e.g. mac: "02:42:0a:00:00:02"`);
      try {
        mac = parseMac(p.mac);
      } catch {
        bad(file, `port ${p.name}: mac ${JSON.stringify(p.mac)} is not a MAC address like 02:42:0a:00:00:02`);
      }
      if (mac === 0 || Math.floor(mac / 2 ** 40) & 1) bad(file, `port ${p.name}: mac ${p.mac} is multicast or zero: a port's own MAC is unicast`);
    }
    ports.push({ name: p.name, network: p.network, mac, gso: p.gso ?? true });
  }
  return {
    networks: t.networks.map((n) => ({ name: n.name, icc: n.icc ?? true, agingSeconds: n.fdb?.agingSeconds, capacity: n.fdb?.capacity })),
    ports,
  };
}
