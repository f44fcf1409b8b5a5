// Module loader hooks for record-loads.mjs: one line per loaded module URL.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.TSN_LOAD_LOG) appendFileSync(process.env.TSN_LOAD_LOG, `${url}\n`);
  return nextLoad(url, context);
}
