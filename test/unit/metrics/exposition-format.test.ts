/**
 * The text exposition format, byte for byte: HELP/TYPE lines, label escaping, special values, empty
 * families left out, and the caller's bugs (bad names, a label set twice) refused.
 */
import { describe, expect, it } from 'vitest';
import { renderExposition } from '../../../src/metrics/exposition-format.js';

describe('renderExposition', () => {
  it('writes HELP, TYPE and one line per sample, families in order', () => {
    const text = renderExposition([
      { name: 'tsnet_port_receive_packets_total', type: 'counter', help: 'Frames received.', samples: [{ labels: { network: 'n1', port: 'c1:eth0' }, value: 12 }, { labels: { network: 'n1', port: 'c2:eth0' }, value: 0 }] },
      { name: 'tsnet_build_info', type: 'gauge', help: 'Always 1.', samples: [{ labels: { version: '0.1.0' }, value: 1 }] },
      { name: 'tsnet_engine_bursts_total', type: 'counter', help: 'Bursts.', samples: [{ value: 3.5e9 }] },
    ]);
    expect(text).toBe(
      [
        '# HELP tsnet_port_receive_packets_total Frames received.',
        '# TYPE tsnet_port_receive_packets_total counter',
        'tsnet_port_receive_packets_total{network="n1",port="c1:eth0"} 12',
        'tsnet_port_receive_packets_total{network="n1",port="c2:eth0"} 0',
        '# HELP tsnet_build_info Always 1.',
        '# TYPE tsnet_build_info gauge',
        'tsnet_build_info{version="0.1.0"} 1',
        '# HELP tsnet_engine_bursts_total Bursts.',
        '# TYPE tsnet_engine_bursts_total counter',
        'tsnet_engine_bursts_total 3500000000',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslash, quote and newline in label values, backslash and newline in HELP', () => {
    const text = renderExposition([{ name: 'x', type: 'gauge', help: 'a\\b\nc "q"', samples: [{ labels: { port: 'a\\b"c\nd' }, value: 1 }] }]);
    expect(text).toBe('# HELP x a\\\\b\\nc "q"\n# TYPE x gauge\nx{port="a\\\\b\\"c\\nd"} 1\n');
  });

  it('writes NaN and infinities as Prometheus spells them', () => {
    const text = renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [{ labels: { a: '1' }, value: NaN }, { labels: { a: '2' }, value: Infinity }, { labels: { a: '3' }, value: -Infinity }] }]);
    expect(text.split('\n').slice(2, 5)).toEqual(['x{a="1"} NaN', 'x{a="2"} +Inf', 'x{a="3"} -Inf']);
  });

  it('leaves out families without samples; nothing at all is an empty body', () => {
    expect(renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [] }])).toBe('');
    expect(renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [] }, { name: 'y', type: 'gauge', help: 'h', samples: [{ value: 2 }] }])).toBe('# HELP y h\n# TYPE y gauge\ny 2\n');
  });

  it('refuses what Prometheus would reject: bad metric or label names, a family twice, a label set twice', () => {
    expect(() => renderExposition([{ name: 'tsnet-port', type: 'gauge', help: 'h', samples: [{ value: 1 }] }])).toThrow(/not a Prometheus metric name/);
    expect(() => renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [{ labels: { 'a-b': '1' }, value: 1 }] }])).toThrow(/not a Prometheus label name/);
    expect(() => renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [{ labels: { __name__: '1' }, value: 1 }] }])).toThrow(/not a Prometheus label name/);
    expect(() => renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [{ value: 1 }] }, { name: 'x', type: 'gauge', help: 'h', samples: [{ value: 1 }] }])).toThrow(/listed twice/);
    expect(() => renderExposition([{ name: 'x', type: 'gauge', help: 'h', samples: [{ labels: { a: '1' }, value: 1 }, { labels: { a: '1' }, value: 2 }] }])).toThrow(/two samples with labels \{a="1"\}/);
  });
});
