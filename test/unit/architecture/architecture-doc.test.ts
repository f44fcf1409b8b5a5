/**
 * docs/architecture.md stays true: its stage table names every stage of the graph, in order, with the
 * file whose class carries that name; and the import rules it states hold on src/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../../src/dataplane/graph.js';
import { REPO, runtimeImportGraph } from '../../helpers/import-graph.js';

const doc = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
const graph = runtimeImportGraph();
const layer = (f: string) => (f === 'src/errors.ts' ? 'errors' : f.split('/')[1]);

/** Every imported layer of files in `from`, besides its own. */
function layersImportedBy(from: string): Set<string> {
  const out = new Set<string>();
  for (const [file, deps] of graph) if (layer(file) === from) for (const d of deps) if (layer(d) !== from) out.add(layer(d));
  return out;
}

describe('docs/architecture.md', () => {
  it('lists every stage of the graph in order, each with the file that defines it', () => {
    const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (src\/dataplane\/stages\/[a-z0-9-]+\.ts) \|/gm)].map((m) => ({ name: m[1], file: m[2] }));
    expect(rows.map((r) => r.name)).toEqual(buildGraph().stages.map((s) => s.name));
    for (const r of rows) {
      expect(existsSync(join(REPO, r.file)), r.file).toBe(true);
      expect(readFileSync(join(REPO, r.file), 'utf8'), `${r.file} defines stage ${r.name}`).toContain(`readonly name = '${r.name}'`);
    }
  });

  it('names only files that exist', () => {
    const paths = [...doc.matchAll(/\b(src\/[a-z0-9/-]+\.ts|test\/[a-z0-9/-]+\.ts|native\/src\/[a-z0-9_]+\.[ch])\b/g)].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !existsSync(join(REPO, p)))).toEqual([]);
  });

  it('the layering it states holds', () => {
    expect([...layersImportedBy('packet')].filter((l) => l !== 'errors')).toEqual([]);
    expect([...layersImportedBy('lb')].filter((l) => l !== 'packet')).toEqual([]);
    expect([...layersImportedBy('dataplane')].filter((l) => !['packet', 'lb', 'native'].includes(l))).toEqual([]);
    const nativeDeps = graph.get('src/native/addon.ts') ?? [];
    expect(nativeDeps.filter((d) => d !== 'src/dataplane/layout.ts')).toEqual([]);
    for (const door of ['cni', 'netavark']) {
      const deps = [...graph].filter(([f]) => layer(f) === door).flatMap(([, d]) => d).filter((d) => layer(d) === 'control');
      expect(deps.filter((d) => !['src/control/api-client.ts', 'src/control/cidr.ts'].includes(d)), door).toEqual([]);
    }
    // The bench drives the product from outside: no switch of its own in the harness's process.
    expect([...layersImportedBy('bench')].filter((l) => ['dataplane', 'lb', 'native'].includes(l))).toEqual([]);
  });
});
