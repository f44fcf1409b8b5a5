/**
 * Real TAP devices made by the addon, moved into two test namespaces, switched by the engine on this
 * process's event loop: ping and iperf3 cross it, with TSO left on inside the namespaces.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { TapPort, type TapPortOptions } from '../../src/dataplane/ports/tap-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { addNetns, delNetns, kill, nsExec, nsSpawn, plumb, privilegedSkipReason, uniqueTag } from '../helpers/netns.js';

const skip = privilegedSkipReason();
if (skip) console.warn(`skipping TAP integration tests: ${skip}`);

const MAC_A = 0x02420a000002;
const MAC_B = 0x02420a000003;

interface Pair {
  sw: SwitchEngine;
  a: TapPort;
  b: TapPort;
  nsA: string;
  nsB: string;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

/** Two namespaces, each with one TAP of the switch, 10.77.0.2 and 10.77.0.3 on one /24. */
async function pair(optsB: TapPortOptions = {}): Promise<Pair> {
  const tag = uniqueTag();
  const nsA = `tsnt-${tag}-a`;
  const nsB = `tsnt-${tag}-b`;
  const sw = new SwitchEngine();
  cleanup.push(async () => {
    sw.close();
    await delNetns(nsA);
    await delNetns(nsB);
  });
  const net = sw.createDomain('t');
  const a = TapPort.open(`tt${tag}a`, { ownMac: MAC_A });
  const b = TapPort.open(`tt${tag}b`, { ownMac: MAC_B, ...optsB });
  sw.addPort(a, net);
  sw.addPort(b, net);
  await addNetns(nsA);
  await addNetns(nsB);
  await plumb(nsA, a.name, '02:42:0a:00:00:02', '10.77.0.2/24');
  await plumb(nsB, b.name, '02:42:0a:00:00:03', '10.77.0.3/24');
  return { sw, a, b, nsA, nsB };
}

async function iperf(p: Pair, seconds: number): Promise<{ bitsPerSecond: number; bytes: number }> {
  let server: ChildProcess | undefined;
  try {
    server = nsSpawn(p.nsB, 'iperf3', ['-s', '-1', '-B', '10.77.0.3']);
    await new Promise((r) => setTimeout(r, 400));
    const out = await nsExec(p.nsA, 'iperf3', ['-c', '10.77.0.3', '-t', String(seconds), '-J'], { timeoutMs: (seconds + 15) * 1000 });
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
    return { bitsPerSecond: j.end.sum_received.bits_per_second, bytes: j.end.sum_received.bytes };
  } finally {
    kill(server);
  }
}

describe.skipIf(skip !== null)('TAP ports in network namespaces', () => {
  it('carries ping both ways and learns nothing it should not', async () => {
    const p = await pair();
    const ab = await nsExec(p.nsA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.3']);
    expect(ab).toMatch(/3 packets transmitted, 3 received/);
    const ba = await nsExec(p.nsB, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2']);
    expect(ba).toMatch(/3 packets transmitted, 3 received/);
    expect(p.a.counters.rxPackets).toBeGreaterThanOrEqual(6); // 3 requests + 3 replies + ARP
    expect(p.b.counters.txPackets).toBeGreaterThanOrEqual(6);
    expect(p.a.counters.dropCount('spoofed-src-mac')).toBe(0);
  });

  it('moves an iperf3 TCP stream with TSO on: 64 KB super-frames cross unsegmented', async () => {
    const p = await pair();
    const k = await nsExec(p.nsA, 'ethtool', ['-k', p.a.name]);
    expect(k).toMatch(/^tcp-segmentation-offload: on/m);
    const r = await iperf(p, 2);
    expect(r.bytes).toBeGreaterThan(50e6);
    // Frames averaging above an Ethernet MTU prove the super-frames crossed whole.
    expect(p.a.counters.rxBytes / p.a.counters.rxPackets).toBeGreaterThan(1514);
    expect(p.b.counters.txSegments).toBe(0);
    console.log(`tap-bridge iperf3: ${(r.bitsPerSecond / 1e9).toFixed(2)} Gbit/s (a functional check; speed is measured in bench/)`);
  });

  it('segments super-frames in C for a port without a virtio-net header, and TCP still flows', async () => {
    const p = await pair({ vnetHdr: false, offload: false });
    const r = await iperf(p, 2);
    expect(r.bytes).toBeGreaterThan(5e6);
    expect(p.b.counters.txSegments).toBeGreaterThan(p.b.counters.txPackets / 10);
    expect(p.b.counters.dropCount('bad-gso')).toBe(0);
  });

  it('refuses a bad interface name with a clear error and leaves nothing behind', () => {
    expect(() => TapPort.open('x'.repeat(16))).toThrow(/longer than 15 bytes/);
    expect(() => TapPort.open('bad name/0')).toThrow(/TUNSETIFF.*EINVAL/);
  });
});
