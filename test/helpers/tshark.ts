/**
 * tshark for the capture tests: read a capture back with Wireshark's own dissectors and pull fields.
 * Outside CI without tshark the tests that need it skip and say why; under CI=true a missing tshark is a
 * failure (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { sh } from './netns.js';

export function tsharkSkipReason(): string | null {
  try {
    execFileSync('sh', ['-c', 'command -v tshark'], { stdio: 'ignore' });
    return null;
  } catch {
    if (process.env.CI) throw new Error('CI=true but tshark is not installed (.ci/run installs it)');
    return 'needs tshark (apt-get install tshark)';
  }
}

/**
 * One object per packet with the named fields (tshark -T fields), multi-valued fields joined by ','.
 * `-o gui.max_tree_items` etc. are not needed: the captures are small.
 */
export async function tsharkFields(file: string, fields: string[], filter?: string): Promise<Record<string, string>[]> {
  const args = ['-n', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  if (filter) args.push('-Y', filter);
  const out = await sh('tshark', args, { timeoutMs: 60_000 });
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, cols[i] ?? '']));
    });
}

/** How many packets match a display filter (all packets without one). */
export async function tsharkCount(file: string, filter?: string): Promise<number> {
  return (await tsharkFields(file, ['frame.number'], filter)).length;
}

/** Interface names from the capture's interface description blocks, in id order (capinfos-style). */
export async function tsharkInterfaces(file: string): Promise<string[]> {
  const rows = await tsharkFields(file, ['frame.interface_id', 'frame.interface_name']);
  const names: string[] = [];
  for (const r of rows) names[Number(r['frame.interface_id'])] = r['frame.interface_name'];
  return names;
}
