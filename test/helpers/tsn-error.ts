import { expect } from 'vitest';
import { TsnError } from '../../src/errors.js';

/** Run fn, expect a TsnError with `code` and every fragment in its message; returns the error. */
export function expectTsnError(fn: () => unknown, code: string, ...fragments: string[]): TsnError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(TsnError);
  const err = caught as TsnError;
  expect(err.code).toBe(code);
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}
