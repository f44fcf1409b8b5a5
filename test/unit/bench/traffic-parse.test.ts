/**
 * Parsing what the traffic tools print, on real output captured from iperf3 3.12 and iputils ping
 * (fixtures/README.md): the receiver's figures, iperf3's own error sentence, ping's per-reply times,
 * and the percentiles and medians the report is made of.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLoadgenOutput } from '../../../src/bench/connection-rate.js';
import { median, percentile, summarize } from '../../../src/bench/statistics.js';
import { latencySample, parseIperfJson, parsePingRtts, tcpReceivedBitsPerSecond, udpReceivedPacketsPerSecond } from '../../../src/bench/traffic.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('iperf3 -J', () => {
  it('TCP with -P 2: the receiver\'s bits/s over all streams', () => {
    expect(tcpReceivedBitsPerSecond(parseIperfJson(fixture('tcp2.json')))).toBeCloseTo(13386659318.727177, 3);
  });

  it('UDP 64-byte: packets received = packets - lost over the receiver\'s seconds', () => {
    // sum_received: packets 291288, lost_packets 162529, seconds 1.000543 (bytes 8240576 = 128759 x 64)
    const pps = udpReceivedPacketsPerSecond(parseIperfJson(fixture('udp64.json')));
    expect(pps).toBeCloseTo((291288 - 162529) / 1.000543, 6);
    expect(pps * 1.000543 * 64).toBeCloseTo(8240576, 0);
  });

  it('an iperf3 error inside the JSON becomes the thrown message', () => {
    expect(() => parseIperfJson(fixture('refused.json'))).toThrow('iperf3: unable to connect to server: Connection refused');
  });

  it('output that is not JSON is named in the error', () => {
    expect(() => parseIperfJson('iperf3: error - unable to connect')).toThrow(/printed no JSON: iperf3: error - unable to connect/);
    expect(() => parseIperfJson('')).toThrow(/printed no JSON: \(nothing\)/);
  });

  it('a TCP parse of UDP output (or any JSON without the field) says which field is missing', () => {
    expect(() => tcpReceivedBitsPerSecond({ end: {} })).toThrow('end.sum_received.bits_per_second');
    expect(() => udpReceivedPacketsPerSecond({ end: { sum_received: { packets: 3, seconds: 0 } } })).toThrow('packets/lost_packets/seconds');
  });
});

describe('ping', () => {
  it('one round-trip time per reply line, in µs', () => {
    const rtts = parsePingRtts(fixture('ping.txt'));
    expect(rtts).toHaveLength(20);
    expect(rtts[0]).toBeCloseTo(293, 6);
    expect(rtts[1]).toBeCloseTo(17, 6);
    // The summary line (rtt min/avg/max/mdev) is not a reply.
    expect(Math.min(...rtts)).toBeCloseTo(7, 6);
  });

  it('p50 and p99 by nearest rank', () => {
    const s = latencySample(parsePingRtts(fixture('ping.txt')));
    expect(s.p50).toBeCloseTo(10, 6); // the 10th smallest of 20
    expect(s.p99).toBeCloseTo(293, 6); // the largest: ceil(0.99 x 20) = 20
  });
});

describe('statistics', () => {
  it('median of odd and even counts; min–max', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
    expect(summarize([5, 9, 7])).toEqual({ median: 7, min: 5, max: 9 });
  });

  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 500 }, (_, i) => i + 1); // 1..500
    expect(percentile(xs, 50)).toBe(250);
    expect(percentile(xs, 99)).toBe(495);
    expect(percentile(xs, 100)).toBe(500);
    expect(percentile([42], 99)).toBe(42);
  });
});

describe('connection-rate load generator', () => {
  it('reads the last line\'s {cps, done, failed}', () => {
    expect(parseLoadgenOutput('warming up\n{"cps":4210.5,"done":8421,"failed":3}\n')).toEqual({ cps: 4210.5, done: 8421, failed: 3 });
  });

  it('says what it got instead of a result', () => {
    expect(() => parseLoadgenOutput('Error: connect EHOSTUNREACH')).toThrow('load generator printed no result: Error: connect EHOSTUNREACH');
    expect(() => parseLoadgenOutput('{"cps":1}')).toThrow('without cps/done/failed');
  });
});
