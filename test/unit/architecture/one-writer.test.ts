/**
 * One of each: the stages answer ARP through writeArpReply (src/packet/arp.ts) and parse dotted quads
 * through the packet layer's parser; a stage that wrote the opcode itself again would fail here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/import-graph.js';

const stagesDir = join(REPO, 'src/dataplane/stages');
const stages = readdirSync(stagesDir).map((f) => ({ f, text: readFileSync(join(stagesDir, f), 'utf8') }));

describe('one ARP-reply writer', () => {
  it('the stages that answer ARP call writeArpReply', () => {
    expect(stages.filter((s) => s.text.includes('writeArpReply(')).map((s) => s.f).sort()).toEqual(['arp-suppress.ts', 'ipvlan-demux.ts', 'lb.ts']);
  });
  it('no stage writes an ARP operation itself', () => {
    const own = stages.filter((s) => /operation\s*=\s*ARP_REPLY|write16\([^)]*\+\s*6,\s*(2|ARP_REPLY)\)/.test(s.text)).map((s) => s.f);
    expect(own).toEqual([]);
  });
});
