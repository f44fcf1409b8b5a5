/**
 * The layering docs/architecture.md describes, checked on the code: no runtime import cycles in src/,
 * and the data plane and packet views never reach up into the control plane or the CLI.
 */
import { describe, expect, it } from 'vitest';
import { importCycles, reachable, runtimeImportGraph } from '../../helpers/import-graph.js';

const graph = runtimeImportGraph();

describe('src/ import graph', () => {
  it('reads the real graph (the daemon loads the drivers and the option parser)', () => {
    const fromDaemon = reachable(graph, 'src/control/daemon.ts');
    expect(fromDaemon).toContain('src/control/network-options.ts');
    expect(fromDaemon).toContain('src/control/drivers/macvlan-driver.ts');
  });

  it('has no runtime import cycle', () => {
    expect(importCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(importCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
  });
});

describe('what the CLI loads before it knows the command', () => {
  it('not the bench harness, the daemon or the switch engine (each is imported by its command only)', () => {
    const fromMain = [...reachable(graph, 'src/cli/main.ts')];
    expect(fromMain).toContain('src/control/api-client.ts');
    expect(fromMain.filter((f) => f.startsWith('src/bench/') || f === 'src/cli/bench-run.ts')).toEqual([]);
    expect(fromMain.filter((f) => ['src/control/daemon.ts', 'src/cli/daemon-command.ts', 'src/dataplane/switch-engine.ts'].includes(f))).toEqual([]);
  });
});
