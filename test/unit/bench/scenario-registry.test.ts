/**
 * The scenario registry keeps its promises to the runner and the reports (names unique, a baseline
 * and at least one other path, unique path ids and metric keys, tools with a known Debian package),
 * and SCENARIO arguments select by name or family, in registry order, refusing unknown names.
 */
import { describe, expect, it } from 'vitest';
import { selectScenarios } from '../../../src/cli/bench-run.js';
import { DEBIAN_PACKAGE } from '../../../src/bench/host-commands.js';
import { SCENARIOS } from '../../../src/bench/registry.js';

describe('scenario registry', () => {
  it('has the issue\'s scenarios, each well formed', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['bridge-tcp', 'bridge-tcp4', 'bridge-udp64', 'bridge-rr', 'overlay-tcp', 'overlay-tcp-encrypted', 'macvlan-tcp', 'lb-tcp', 'lb-cps', 'docker-tcp']));
    for (const s of SCENARIOS) {
      expect(s.name).toMatch(/^[a-z]+(-[a-z0-9]+)+$/); // FAMILY-WHAT[-VARIANT]: the family is the first word
      expect(s.paths.length, s.name).toBeGreaterThanOrEqual(2);
      const ids = s.paths.map((p) => p.id);
      expect(new Set(ids).size, s.name).toBe(ids.length);
      const keys = s.metrics.map((m) => m.key);
      expect(keys.length, s.name).toBeGreaterThanOrEqual(1);
      expect(new Set(keys).size, s.name).toBe(keys.length);
      for (const t of s.tools) expect(DEBIAN_PACKAGE[t], `${s.name} needs ${t}`).toBeDefined();
    }
  });

  it('bridge scenarios compare against the kernel, with tsnet-switch and Open vSwitch', () => {
    for (const s of SCENARIOS.filter((x) => x.name.startsWith('bridge-'))) expect(s.paths.map((p) => p.id)).toEqual(['kernel', 'tsnet', 'ovs']);
  });
});

describe('selecting scenarios', () => {
  it('by name, by family, deduplicated, in registry order; none means all', () => {
    expect(selectScenarios(['bridge-rr', 'bridge-tcp']).map((s) => s.name)).toEqual(['bridge-tcp', 'bridge-rr']);
    expect(selectScenarios(['bridge']).map((s) => s.name)).toEqual(['bridge-tcp', 'bridge-tcp4', 'bridge-udp64', 'bridge-rr']);
    expect(selectScenarios(['overlay-tcp']).map((s) => s.name)).toEqual(['overlay-tcp']); // its own name: not the -encrypted one too
    expect(selectScenarios(['overlay']).map((s) => s.name)).toEqual(['overlay-tcp', 'overlay-tcp-encrypted']);
    expect(selectScenarios(['bridge-tcp', 'bridge']).map((s) => s.name)).toHaveLength(4);
    expect(selectScenarios([])).toHaveLength(SCENARIOS.length);
  });

  it('an unknown name is refused with the accepted ones', () => {
    expect(() => selectScenarios(['bridge-tcp', 'warp'])).toThrow(expect.objectContaining({ code: 'ERR_NO_SUCH_SCENARIO', message: expect.stringMatching(/no bench scenario "warp": expected one of bridge-tcp, .*lb-cps, docker-tcp or a family \(bridge, overlay, macvlan, lb, docker\)/) }));
    expect(() => selectScenarios(['bridg'])).toThrow(/no bench scenario "bridg"/);
  });
});
