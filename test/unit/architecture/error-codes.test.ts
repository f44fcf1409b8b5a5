/**
 * Every error code in src/ is in TSN_ERROR_STATUS (src/errors.ts), the one place its HTTP status
 * comes from, and every code in the table is in use. Codes that are not TsnErrors' (Node's and the
 * addon's argument errors) are named here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TSN_ERROR_STATUS, TsnError } from '../../../src/errors.js';
import { REPO } from '../../helpers/import-graph.js';

const NOT_TSN_ERRORS = new Set(['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const used = new Set<string>();
for (const f of sources(join(REPO, 'src'))) {
  if (f.endsWith(join('src', 'errors.ts'))) continue;
  for (const m of readFileSync(f, 'utf8').matchAll(/'(ERR_[A-Z0-9_]*[A-Z0-9])'/g)) used.add(m[1]);
}

describe('error codes', () => {
  it('every code used in src/ is in the table', () => {
    expect(used.size).toBeGreaterThan(40);
    expect([...used].filter((c) => !NOT_TSN_ERRORS.has(c) && !(c in TSN_ERROR_STATUS)).sort()).toEqual([]);
  });

  it('every code in the table is used', () => {
    expect(Object.keys(TSN_ERROR_STATUS).filter((c) => !used.has(c))).toEqual([]);
  });

  it('a TsnError takes its status from the table; a received one keeps what the daemon sent', () => {
    expect(new TsnError('ERR_NO_SUCH_NETWORK', 'x').status).toBe(404);
    expect(new TsnError('ERR_DEVICE_GONE', 'x').status).toBe(410);
    const r = TsnError.received('ERR_FROM_A_NEWER_DAEMON', 418, 'teapot');
    expect(r).toBeInstanceOf(TsnError);
    expect([r.code, r.status, r.message]).toEqual(['ERR_FROM_A_NEWER_DAEMON', 418, 'teapot']);
    expect(JSON.parse(JSON.stringify(r))).toEqual({ code: 'ERR_FROM_A_NEWER_DAEMON', message: 'teapot' });
  });
});
