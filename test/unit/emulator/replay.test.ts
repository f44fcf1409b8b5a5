/**
 * The emulator, with no root (in-process, and through the built CLI): captures in (one classic pcap, one
 * pcapng with an outbound frame to skip), a YAML topology, one capture per port out. The outputs must
 * equal the expected files in test/fixtures/emulate/expected byte for byte, on every run: time comes
 * from the input timestamps, so the learned MAC ages out at the same frame each time. The expected
 * files are also checked for meaning (which frame crossed which port, which way, with which decision),
 * and read back by tshark. UPDATE_GOLDEN=1 rewrites them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../../src/capture/capture-reader.js';
import { pcapGlobalHeader, pcapRecordSize, writePcapRecord } from '../../../src/capture/pcap-format.js';
import { enhancedPacketSize, interfaceDescriptionBlock, sectionHeaderBlock, writeEnhancedPacket } from '../../../src/capture/pcapng-format.js';
import { replay } from '../../../src/emulator/replay.js';
import { parseTopology } from '../../../src/emulator/topology.js';
import { CLI } from '../../helpers/daemon.js';
import { BROADCAST, ethFrame, tcpFrame } from '../../helpers/frames.js';
import { tsharkCount, tsharkSkipReason } from '../../helpers/tshark.js';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/emulate');
const WEB1 = 0x02420a000002;
const WEB2 = 0x02420a000003;
const X = 0x0aaaaaaaaaa1; // a host behind the gateway port
const T0 = 1_700_000_000_000_000; // microseconds
const dir = mkdtempSync(join(tmpdir(), 'tsnet-emulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tcp = (dst: number, src: number, seq: number) => tcpFrame({ dst, src, srcIp: '10.0.0.2', dstIp: '10.0.0.3', sport: 40000, dport: 80, seq, payloadLen: 20 }).frame;
const arp = ethFrame(BROADCAST, WEB1, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...[2, 0x42, 10, 0, 0, 2], 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 3]);

/** web1's frames, as a classic pcap: seconds after T0 and the frame. */
const WEB1_IN: [number, Uint8Array][] = [
  [0, arp], // broadcast: flooded to web2 and gw
  [1, tcp(WEB2, WEB1, 1)], // static entry: web2 only
  [2, tcp(X, WEB1, 2)], // X unknown: flooded
  [4, tcp(X, WEB1, 4)], // X learned on gw at t=3: gw only
  [5, tcp(WEB2, 0x02420a0000ff, 5)], // spoofed source MAC: dropped
  [70, tcp(X, WEB1, 70)], // X aged out at t=63 (60 s): flooded again
];
/** gw's frames, as pcapng: X answers at t=3; the outbound record must be skipped. */
const GW_IN: [number, Uint8Array, 1 | 2][] = [
  [3, tcp(WEB1, X, 3), 1],
  [3.5, tcp(X, WEB1, 99), 2],
];

function writeInputs(): { web1: string; gw: string } {
  const parts = [pcapGlobalHeader(65535)];
  for (const [t, f] of WEB1_IN) {
    const b = Buffer.alloc(pcapRecordSize(f.length));
    writePcapRecord(b, 0, T0 + t * 1e6, f, 0, f.length, f.length);
    parts.push(b);
  }
  const web1 = join(dir, 'web1.pcap');
  writeFileSync(web1, Buffer.concat(parts));
  const ng = [sectionHeaderBlock(), interfaceDescriptionBlock('uplink', '', 65535)];
  for (const [t, f, direction] of GW_IN) {
    const b = Buffer.alloc(enhancedPacketSize(f.length, 0));
    writeEnhancedPacket(b, 0, 0, T0 + t * 1e6, f, 0, f.length, f.length, direction, null);
    ng.push(b);
  }
  const gw = join(dir, 'gw.pcapng');
  writeFileSync(gw, Buffer.concat(ng));
  return { web1, gw };
}

function emulate(outDir: string, inputs: { web1: string; gw: string }, extra: string[] = []) {
  const r = spawnSync(process.execPath, [CLI, 'emulate', join(FIXTURES, 'topology.yaml'), '--in', `web1=${inputs.web1}`, '--in', `gw=${inputs.gw}`, '--out', outDir, '--annotate', ...extra], { encoding: 'utf8' });
  return r;
}

const noTshark = tsharkSkipReason();
/** The CLI cases run the built CLI (`npm run build`; `npm test` builds first). */
const BUILT = existsSync(resolve(import.meta.dirname, '../../../dist/cli/main.js'));
if (!BUILT && process.env.CI) throw new Error('CI=true but dist/ is not built');

describe('emulate', () => {
  it('replays captures through a topology into per-port captures equal to the expected ones, every run', async () => {
    const inputs = writeInputs();
    const out1 = join(dir, 'out1');
    const run = (out: string) =>
      replay({ topology: parseTopology(readFileSync(join(FIXTURES, 'topology.yaml'), 'utf8')), inputs: [{ port: 'web1', file: inputs.web1 }, { port: 'gw', file: inputs.gw }], outDir: out, annotate: true });
    const summary = run(out1);
    expect(summary).toMatchObject({ frames: 7, skippedOutbound: 1, startMicros: T0, endMicros: T0 + 70e6 });
    expect(summary.ports.map((p) => [p.port, p.rxPackets, p.txPackets, p.drops])).toEqual([
      ['web1', 6, 1, { 'spoofed-src-mac': 1 }],
      ['web2', 0, 4, {}],
      ['gw', 1, 4, {}],
    ]);
    const expectedDir = join(FIXTURES, 'expected');
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(expectedDir, { recursive: true });
      for (const p of ['web1', 'web2', 'gw']) writeFileSync(join(expectedDir, `${p}.pcapng`), readFileSync(join(out1, `${p}.pcapng`)));
    }
    for (const p of ['web1', 'web2', 'gw']) {
      expect(readFileSync(join(out1, `${p}.pcapng`)).equals(readFileSync(join(expectedDir, `${p}.pcapng`))), `${p}.pcapng differs from the expected file`).toBe(true);
    }
    // A second run is the same, byte for byte.
    const out2 = join(dir, 'out2');
    run(out2);
    for (const p of ['web1', 'web2', 'gw']) expect(readFileSync(join(out2, `${p}.pcapng`)).equals(readFileSync(join(out1, `${p}.pcapng`)))).toBe(true);
  });

  it('the expected captures say what the switch did, frame by frame', async () => {
    const show = (p: string) =>
      readCapture(readFileSync(join(FIXTURES, 'expected', `${p}.pcapng`))).records.map((r) => `${(r.timeMicros - T0) / 1e6} ${r.direction === 1 ? 'in ' : 'out'} ${r.comments.join('')}`);
    expect(show('web1')).toEqual([
      '0 in  flood 2 ports (broadcast)',
      '1 in  fdb hit -> web2',
      '2 in  flood 2 ports (unknown unicast)',
      '3 out from gw',
      '4 in  fdb hit -> gw',
      '5 in  drop spoofed-src-mac',
      '70 in  flood 2 ports (unknown unicast)',
    ]);
    expect(show('web2')).toEqual(['0 out from web1 (flood)', '1 out from web1', '2 out from web1 (flood)', '70 out from web1 (flood)']);
    expect(show('gw')).toEqual(['0 out from web1 (flood)', '2 out from web1 (flood)', '3 in  fdb hit -> web1', '4 out from web1', '70 out from web1 (flood)']);
    if (noTshark) return;
    for (const p of ['web1', 'web2', 'gw']) {
      const file = join(FIXTURES, 'expected', `${p}.pcapng`);
      expect(await tsharkCount(file, `frame.interface_name == "${p}"`)).toBe(show(p).length);
      expect(await tsharkCount(file, '_ws.malformed')).toBe(0);
    }
  });

  it.skipIf(!BUILT)('runs from the CLI: a summary, classic pcap too, and clear errors for bad topologies and inputs', () => {
    const inputs = writeInputs();
    const cli = emulate(join(dir, 'out-cli'), inputs);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(/replayed 7 frames \(skipped 1 outbound\), 70\.000000 s of capture time/);
    expect(cli.stdout).toMatch(/web1\s+net1\s+6\s+1\s+spoofed-src-mac=1/);
    expect(readFileSync(join(dir, 'out-cli', 'gw.pcapng')).equals(readFileSync(join(FIXTURES, 'expected', 'gw.pcapng')))).toBe(true);
    const out = join(dir, 'out-pcap');
    const r = spawnSync(process.execPath, [CLI, 'emulate', join(FIXTURES, 'topology.yaml'), '--in', `web1=${inputs.web1}`, '--out', out, '--format', 'pcap'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const f = readCapture(readFileSync(join(out, 'web2.pcap')));
    expect(f.format).toBe('pcap');
    expect(f.records).toHaveLength(5); // without gw speaking, X stays unknown: every frame to it floods

    const bad = spawnSync(process.execPath, [CLI, 'emulate', join(FIXTURES, 'topology.yaml'), '--in', `nope=${inputs.web1}`, '--out', out], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no port "nope" in the topology \(ports: web1, web2, gw\)/);
    const notCapture = join(dir, 'not.pcap');
    writeFileSync(notCapture, 'hello, world');
    const bad2 = spawnSync(process.execPath, [CLI, 'emulate', join(FIXTURES, 'topology.yaml'), '--in', `web1=${notCapture}`, '--out', out], { encoding: 'utf8' });
    expect(bad2.stderr).toMatch(/not\.pcap: unknown magic .*expected a pcap or pcapng capture/);
    expect(() => parseTopology('networks: [{name: n}]\nports: [{name: a, network: m}]', 't.yaml')).toThrow(/port a is on network "m", which is not defined/);
    expect(() => parseTopology('networks: [{name: n, colour: red}]\nports: [{name: a, network: n}]', 't.yaml')).toThrow(/networks\.0.*colour/);
    expect(() => parseTopology('networks: [{name: n}]\nports: [{name: a, network: n, mac: 0}]', 't.yaml')).toThrow(/read as a number: quote it/);
    expect(existsSync(join(out, 'nope.pcapng'))).toBe(false);
  });
});
