/**
 * `-o` options of `network create -d overlay`: defaults, the VNI rules, and each refusal naming the
 * value and what is accepted.
 */
import { describe, expect, it } from 'vitest';
import type { OverlayRecord } from '../../../src/control/model.js';
import { parseOverlayOptions } from '../../../src/control/overlay-options.js';

const host = { hostAddresses: ['198.18.0.1'] };
const rec = (vni: number, vtep = '198.18.0.1', port = 4789): OverlayRecord => ({ vni, vtep, port, peers: [], learning: true, staticFdb: [] });

function refused(options: Record<string, string>, message: RegExp, code = 'ERR_BAD_OPTION', ctx = { ...host, others: [] as OverlayRecord[] }) {
  try {
    parseOverlayOptions(options, ctx);
  } catch (err) {
    expect((err as { code: string }).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error(`${JSON.stringify(options)} was accepted`);
}

describe('overlay options', () => {
  it('defaults: the only host address, port 4789, learning on, the first free VNI from 4097', () => {
    expect(parseOverlayOptions({}, { ...host, others: [] })).toEqual({ vni: 4097, vtep: '198.18.0.1', port: 4789, peers: [], learning: true, staticFdb: [] });
    expect(parseOverlayOptions({}, { ...host, others: [rec(4097), rec(4098), rec(4099, '198.18.0.1', 8472)] }).vni).toBe(4099);
  });

  it('reads every option, Docker\'s VNI key too, and drops duplicate peers', () => {
    const r = parseOverlayOptions(
      { 'com.docker.network.driver.overlay.vxlanid_list': '42', vtep: '198.18.0.1', peers: '198.18.0.2, 198.18.0.3,198.18.0.2', port: '8472', learning: 'false', icc: 'true' },
      { hostAddresses: ['198.18.0.1', '10.0.0.5'], others: [] },
    );
    expect(r).toEqual({ vni: 42, vtep: '198.18.0.1', port: 8472, peers: ['198.18.0.2', '198.18.0.3'], learning: false, staticFdb: [] });
  });

  it('allows one VNI on different VTEP ports, refuses it twice on the same one', () => {
    expect(parseOverlayOptions({ vni: '7', port: '4790' }, { ...host, others: [rec(7)] }).vni).toBe(7);
    refused({ vni: '7' }, /VNI 7 is used by another overlay network on VTEP 198\.18\.0\.1:4789/, 'ERR_VNI_IN_USE', { ...host, others: [rec(7)] });
  });

  it('refuses bad values, naming them and what is accepted', () => {
    refused({ vni: '0' }, /vni=0: expected a VXLAN network identifier 1\.\.16777215/);
    refused({ vni: '0x10' }, /vni=0x10/);
    refused({ vni: '16777216' }, /vni=16777216/);
    refused({ port: '65536' }, /port=65536: expected a UDP port 1\.\.65535/);
    refused({ learning: 'yes' }, /learning=yes: expected true or false/);
    refused({ peers: '198.18.0.2,,198.18.0.3' }, /is not a valid IPv4 address/);
    refused({ peers: '127.0.0.1' }, /127\.0\.0\.1 is not a unicast address a VTEP can use/);
    refused({ peers: '198.18.0.1' }, /198\.18\.0\.1 is the local VTEP itself/);
    refused({ vtep: '198.18.0.9' }, /vtep=198\.18\.0\.9: not an address of this host; expected one of: 198\.18\.0\.1/);
    refused({}, /several IPv4 addresses \(198\.18\.0\.1, 10\.0\.0\.5\): choose the underlay one with -o vtep=IP/, 'ERR_BAD_OPTION', { hostAddresses: ['198.18.0.1', '10.0.0.5'], others: [] });
    refused({}, /no IPv4 address besides loopback/, 'ERR_BAD_OPTION', { hostAddresses: [], others: [] });
  });

  it('never picks a TAP\'s address (a bridge network\'s gateway) as the default VTEP', () => {
    const r = parseOverlayOptions({}, { hostAddresses: ['198.18.0.1', '10.61.0.1'], defaultCandidates: ['198.18.0.1'], others: [] });
    expect(r.vtep).toBe('198.18.0.1');
  });
});
