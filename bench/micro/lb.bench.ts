/**
 * Micro benchmarks of the load balancer's hot pieces: connection-table lookup in a table of a million
 * entries, the NAT rewrite of one frame, a Maglev rebuild (65537 entries, 10 servers), and a 64-frame
 * burst of established NAT traffic through the whole graph (lb stage included) over in-memory ports.
 */
import { bench, describe } from 'vitest';
import { MemoryPort } from '../../src/dataplane/ports/memory-port.js';
import { SwitchEngine } from '../../src/dataplane/switch-engine.js';
import { ConnTable, IPPROTO_TCP } from '../../src/lb/conn-table.js';
import { vipMac } from '../../src/lb/load-balancer.js';
import { rewriteDestination } from '../../src/lb/nat-rewrite.js';
import { RealServer } from '../../src/lb/real-server.js';
import { MaglevScheduler } from '../../src/lb/schedulers/maglev.js';
import { tcpFrame } from '../../test/helpers/frames.js';

const VIP = 0x0a010064;

describe('connection table', () => {
  const t = new ConnTable(1 << 20);
  for (let i = 0; i < 1 << 20; i++) t.insert(IPPROTO_TCP, 0x0a000000 + (i >>> 16), i & 0xffff, VIP, 80, 0x0a00000a, 8080, 0, 0, true, 0);
  let i = 0;
  bench('lookup hit (1M entries)', () => {
    const k = (i = (i + 7919) & 0xfffff);
    t.lookup(IPPROTO_TCP, 0x0a000000 + (k >>> 16), k & 0xffff, VIP, 80, 1);
  });
  bench('reply lookup hit (1M entries)', () => {
    const k = (i = (i + 7919) & 0xfffff);
    t.lookupReply(IPPROTO_TCP, 0x0a00000a, 8080, 0x0a000000 + (k >>> 16), k & 0xffff, 1);
  });
});

describe('rewrite and scheduling', () => {
  const { frame } = tcpFrame({ dst: 1, src: 2, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport: 80, payloadLen: 1400 });
  let flip = false;
  bench('NAT destination rewrite (incremental checksums)', () => {
    flip = !flip;
    rewriteDestination(frame, 14, 34, 6, flip ? 0x0a01000b : 0x0a010064, flip ? 8080 : 80, false);
  });
  const servers = Array.from({ length: 10 }, (_, k) => new RealServer(k, 0, 0x0a010010 + k, 8080, 1, 'nat', 1));
  const mh = new MaglevScheduler();
  bench('Maglev rebuild, 65537 slots, 10 servers', () => {
    mh.update(servers);
  });
});

describe('graph with lb', () => {
  class SinkPort extends MemoryPort {
    override transmit(_pool: never, _rows: Int32Array, count: number): void {
      this.counters.txPackets += count;
    }
  }
  const sw = new SwitchEngine({ poolSlots: 64, lb: { connCapacity: 1 << 16 } });
  const net = sw.createDomain('b');
  const a = new MemoryPort('a', { ownMac: 0x02420a010002 });
  const b = new SinkPort('b', { ownMac: 0x02420a01000a });
  sw.addPort(a, net);
  sw.addPort(b, net);
  const svc = sw.lb.addService(net, { protocol: 'tcp', vip: VIP, port: 80, scheduler: 'rr', persistTimeout: 0 });
  sw.lb.addServer(svc, { ip: 0x0a01000a, port: 8080, weight: 1, method: 'nat', mac: 0x02420a01000a });
  const mk = (flags: number) => tcpFrame({ dst: vipMac(VIP), src: 0x02420a010002, srcIp: '10.1.0.2', dstIp: '10.1.0.100', sport: 40000, dport: 80, flags, payloadLen: 0 }).frame;
  a.inject(mk(0x02));
  sw.poll();
  const data = mk(0x10);
  bench('burst of 64 established NAT frames through ingress/lb/learn/fwd/egress', () => {
    for (let k = 0; k < 64; k++) a.inject(data);
    sw.poll();
  });
});
