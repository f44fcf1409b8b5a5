/**
 * Captures over in-memory ports (no root): what a capture records at the inbound and outbound points,
 * in both formats, read back by our reader and by tshark; annotations; filters; the count limit; the
 * bounded queue (frames dropped from the capture and counted, the data plane untouched); ports that
 * join or leave; and the engine's capture hook going back to null when the last capture ends.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureHub } from '../../../src/capture/capture-hub.js';
import { readCapture } from '../../../src/capture/capture-reader.js';
import { MemorySink } from '../../../src/capture/capture-sinks.js';
import { VirtualClock } from '../../../src/dataplane/clock.js';
import { DESC_STRIDE, D_OFF } from '../../../src/dataplane/layout.js';
import type { Stage } from '../../../src/dataplane/stage.js';
import type { StageGraph } from '../../../src/dataplane/graph.js';
import { CLASS_BRIDGE } from '../../../src/dataplane/batch.js';
import { MemoryPort } from '../../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { BROADCAST, ethFrame, tcpFrame } from '../../helpers/frames.js';
import { tsharkCount, tsharkFields, tsharkSkipReason } from '../../helpers/tshark.js';

const A = 0x02420a000002;
const B = 0x02420a000003;
const X = 0x0aaaaaaaaaa1;
const T0 = 1_700_000_000; // epoch seconds
const noTshark = tsharkSkipReason();
const dir = mkdtempSync(join(tmpdir(), 'tsnet-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function topology() {
  const clock = new VirtualClock(T0);
  const sw = new SwitchEngine({ clock, poolSlots: 64 });
  const net = sw.createDomain('net1');
  const pa = new MemoryPort('a', { ownMac: A });
  const pb = new MemoryPort('b', { ownMac: B });
  const pc = new MemoryPort('c'); // trusted, like a gateway
  for (const p of [pa, pb, pc]) sw.addPort(p, net);
  pa.label = 'web1:eth0';
  pb.label = 'web2:eth0';
  pc.label = 'gw';
  const hub = CaptureHub.for(sw, () => Math.round(clock.now() * 1e6));
  return { sw, net, pa, pb, pc, clock, hub };
}

const icmpish = (dst: number, src: number) => ethFrame(dst, src, 0x0800, tcpFrame({ dst, src, srcIp: '10.0.0.2', dstIp: '10.0.0.3', sport: 1, dport: 2, payloadLen: 10 }).frame.subarray(14));

describe('capture hub', () => {
  it('records inbound and outbound frames per port with directions, decisions as comments, and statistics', async () => {
    const { sw, pa, pb, clock, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: pa.domain! }, annotate: true }, sink);
    expect(sw.capture).toBe(hub);
    expect(s.interfaceNames()).toEqual(['web1:eth0', 'web2:eth0', 'gw']);

    pa.inject(ethFrame(BROADCAST, A, 0x0806));
    sw.drain();
    clock.advance(0.5);
    pa.inject(icmpish(B, A));
    sw.drain();
    clock.advance(0.5);
    pa.inject(ethFrame(B, 0x02420a0000ff)); // spoofed source
    sw.drain();
    clock.advance(0.25);
    pb.inject(ethFrame(X, B)); // unknown unicast
    sw.drain();
    expect(pa.take()).toHaveLength(1); // the data plane forwarded as usual (the flood reached web1)
    s.end('stopped');
    expect(sink.ended).toBe(true);
    expect(sw.capture).toBeNull();

    const f = readCapture(sink.bytes());
    expect(f.format).toBe('pcapng');
    expect(f.interfaces.map((i) => i.name)).toEqual(['web1:eth0', 'web2:eth0', 'gw']);
    const rows = f.records.map((r) => [r.interfaceName, r.direction === 1 ? 'in' : 'out', r.comments.join('|'), (r.timeMicros - T0 * 1e6) / 1e6]);
    expect(rows).toEqual([
      ['web1:eth0', 'in', 'flood 2 ports (broadcast)', 0],
      ['web2:eth0', 'out', 'from web1:eth0 (flood)', 0],
      ['gw', 'out', 'from web1:eth0 (flood)', 0],
      ['web1:eth0', 'in', 'fdb hit -> web2:eth0', 0.5],
      ['web2:eth0', 'out', 'from web1:eth0', 0.5],
      ['web1:eth0', 'in', 'drop spoofed-src-mac', 1],
      ['web2:eth0', 'in', 'flood 2 ports (unknown unicast)', 1.25],
      ['web1:eth0', 'out', 'from web2:eth0 (flood)', 1.25],
      ['gw', 'out', 'from web2:eth0 (flood)', 1.25],
    ]);
    expect(Buffer.from(f.records[3].data).equals(Buffer.from(icmpish(B, A)))).toBe(true);
    expect(s.summary()).toMatchObject({ seen: 9, accepted: 9, captured: 9, dropped: 0, ended: 'stopped' });

    if (noTshark) return;
    const file = join(dir, 'annotated.pcapng');
    writeFileSync(file, sink.bytes());
    const t = await tsharkFields(file, ['frame.interface_name', 'frame.packet_flags_direction', 'frame.comment']);
    expect(t.map((r) => [r['frame.interface_name'], r['frame.packet_flags_direction'], r['frame.comment']])).toEqual(
      rows.map(([name, d, c]) => [name, d === 'in' ? '0x00000001' : '0x00000002', c]),
    );
    expect(await tsharkCount(file, '_ws.malformed')).toBe(0);
    const stats = await import('node:child_process').then((cp) => cp.execFileSync('capinfos', ['-M', file]).toString());
    expect(stats).toMatch(/Number of packets:\s+9\b/);
  });

  it('captures one endpoint only, in classic pcap too, and ends when that port leaves', () => {
    const { sw, pa, pb, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'port', port: pb }, format: 'pcap' }, sink);
    pa.inject(icmpish(B, A)); // in on a, out on b: only the out copy
    pa.inject(ethFrame(BROADCAST, A, 0x0806));
    sw.drain();
    const f = readCapture(sink.bytes());
    expect(f.format).toBe('pcap');
    expect(f.records).toHaveLength(2);
    expect(Buffer.from(f.records[0].data).equals(Buffer.from(icmpish(B, A)))).toBe(true);
    sw.removePort(pb);
    expect(s.ended).toBe('target-gone');
    expect(sink.ended).toBe(true);
    expect(sw.capture).toBeNull();
  });

  it('applies a BPF filter per frame, in both directions, and stops after -c frames', () => {
    const { sw, pa, pb, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: pa.domain! }, filter: 'tcp and ether src 02:42:0a:00:00:02', count: 3 }, sink);
    pa.inject(ethFrame(BROADCAST, A, 0x0806)); // arp: filtered out (3 copies: in, out, out)
    pa.inject(icmpish(B, A)); // tcp from A: in + out = 2
    pb.inject(icmpish(A, B)); // tcp from B: filtered out
    pa.inject(icmpish(B, A)); // tcp from A: in (the 3rd), then the count is reached
    sw.drain();
    expect(s.ended).toBe('count');
    const f = readCapture(sink.bytes());
    expect(f.records.map((r) => r.direction)).toEqual([1, 1, 2]);
    expect(s.counters).toMatchObject({ captured: 3 });
    expect(pb.take()).toHaveLength(3); // broadcast + two unicasts: the data plane is unaffected
  });

  it('drops frames from the capture, not from the switch, when the writer is behind', () => {
    const { sw, pa, pb, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: pa.domain! }, maxQueueBytes: 4096 }, sink);
    sink.backlog = 4000; // the reader is slow: less than one frame's worth of room
    for (let i = 0; i < 20; i++) pa.inject(icmpish(B, A));
    sw.drain();
    expect(pb.take()).toHaveLength(20);
    expect(s.counters.dropped).toBe(40);
    expect(s.counters.captured).toBe(0);
    sink.backlog = 0;
    pa.inject(icmpish(B, A));
    sw.drain();
    expect(s.counters.captured).toBe(2);
    s.end('stopped');
    const f = readCapture(sink.bytes());
    expect(f.records).toHaveLength(2);
  });

  it('follows a port that joins the network while the capture runs', () => {
    const { sw, net, pa, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: net } }, sink);
    const pd = new MemoryPort('d', { ownMac: 0x02420a000009 });
    sw.addPort(pd, net);
    pd.label = 'late:eth0';
    pa.inject(ethFrame(0x02420a000009, A));
    sw.drain();
    expect(s.interfaceNames()).toEqual(['web1:eth0', 'web2:eth0', 'gw', 'late:eth0']);
    const f = readCapture(sink.bytes());
    expect(f.records.map((r) => r.interfaceName)).toEqual(['web1:eth0', 'late:eth0']);
  });

  it('records inbound frames as they arrived even when a later stage rewrites them, with its note', () => {
    const { sw, pa, pb, hub } = topology();
    // A stage that rewrites headers in place (as NAT does) and leaves a note for annotations.
    const rewriter: Stage = {
      name: 'rewriter',
      next: [],
      dropReasons: [],
      drops: new Float64Array(0),
      process(batch) {
        for (let i = 0; i < batch.count; i++) {
          const row = batch.rows[i];
          batch.pool.bytes[batch.pool.desc[row * DESC_STRIDE + D_OFF] + 14 + 8] = 7; // IPv4 TTL
          if (batch.notes !== null) batch.notes[row] = 'rewriter ttl 7';
        }
      },
    };
    // Last before egress, over bridge frames.
    const graph = (sw as unknown as { graph: StageGraph }).graph;
    graph.schedule.push({ stage: rewriter, classes: [CLASS_BRIDGE] });
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: pa.domain! }, annotate: true }, sink);
    const big = tcpFrame({ dst: B, src: A, srcIp: '10.0.0.2', dstIp: '10.0.0.3', sport: 1, dport: 2, payloadLen: 3000 }).frame;
    pa.inject(big);
    sw.drain();
    s.end('stopped');
    const [inbound, outbound] = readCapture(sink.bytes()).records;
    expect(Buffer.from(inbound.data).equals(Buffer.from(big))).toBe(true); // TTL 64 as sent, payload whole
    expect(inbound.comments).toEqual(['rewriter ttl 7; fdb hit -> web2:eth0']);
    expect(outbound.data[22]).toBe(7);
    expect(Buffer.from(outbound.data.subarray(23)).equals(Buffer.from(big.subarray(23)))).toBe(true);
    expect(pb.take()[0].frame[22]).toBe(7);
  });

  it('ends a network capture when the network goes, with its statistics written', () => {
    const { sw, net, hub } = topology();
    const sink = new MemorySink();
    const s = hub.start({ target: { kind: 'domain', domain: net } }, sink);
    sw.removeDomain(net);
    expect(s.ended).toBe('target-gone');
    expect(sink.ended).toBe(true);
    expect(readCapture(sink.bytes()).interfaces).toHaveLength(3);
    expect(sw.capture).toBeNull();
  });

  it('refuses bad options before writing anything', () => {
    const { net, hub, sw } = topology();
    const sink = new MemorySink();
    expect(() => hub.start({ target: { kind: 'domain', domain: net }, filter: 'tcp prt 80' }, sink)).toThrow(/capture filter "tcp prt 80": .*syntax error/);
    expect(() => hub.start({ target: { kind: 'domain', domain: net }, snaplen: 0 }, sink)).toThrow(/snaplen 0: expected an integer from 1 to 262144/);
    expect(() => hub.start({ target: { kind: 'domain', domain: net }, format: 'pcap', annotate: true }, sink)).toThrow(/--annotate needs the pcapng format/);
    expect(sink.chunks).toHaveLength(0);
    expect(sw.capture).toBeNull();
  });
});
