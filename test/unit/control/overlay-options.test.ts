/**
 * `-o` options of `network create -d overlay`: defaults, the VNI rules, and each refusal naming the
 * value and what is accepted.
 */
import { describe, expect, it } from 'vitest';
import type { OverlayRecord } from '../../../src/control/model.js';
import { parseEncryptionOptions } from '../../../src/control/overlay-encryption-options.js';
import { checkVtepAddress, parseOverlayOptions, vtepFamily, vtepWithPort } from '../../../src/control/overlay-options.js';
import { checkClusterVtep } from '../../../src/cluster/cluster-options.js';

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

  describe('an IPv6 underlay', () => {
    const host6 = { hostAddresses: ['198.18.0.1', 'fd00::1', '2001:db8:7::10'], others: [] as OverlayRecord[] };
    const fails = (f: () => unknown, message: RegExp) => {
      expect(f).toThrow(message);
      try {
        f();
      } catch (err) {
        expect((err as { code: string }).code).toBe('ERR_BAD_OPTION');
      }
    };

    it('takes an IPv6 vtep and IPv6 peers, canonical, duplicates dropped', () => {
      const r = parseOverlayOptions({ vtep: 'FD00:0::1', peers: 'fd00::2, fd00:0:0:0::3,fd00::2', vni: '42' }, host6);
      expect(r).toEqual({ vni: 42, vtep: 'fd00::1', port: 4789, peers: ['fd00::2', 'fd00::3'], learning: true, staticFdb: [] });
      expect(vtepFamily(r.vtep)).toBe(6);
      expect(vtepWithPort(r.vtep, r.port)).toBe('[fd00::1]:4789');
      expect(vtepWithPort('198.18.0.1', 4789)).toBe('198.18.0.1:4789');
    });

    it('defaults the vtep to the only IPv6 address when every peer is IPv6; IPv4 otherwise', () => {
      const one6 = { hostAddresses: ['198.18.0.1', 'fd00::1'], others: [] as OverlayRecord[] };
      expect(parseOverlayOptions({ peers: 'fd00::2' }, one6).vtep).toBe('fd00::1');
      expect(parseOverlayOptions({}, one6).vtep).toBe('198.18.0.1');
      refused({ peers: 'fd00::2' }, /several global IPv6 addresses \(fd00::1, 2001:db8:7::10\): choose the underlay one with -o vtep=IP/, 'ERR_BAD_OPTION', host6);
      refused({ peers: 'fd00::2' }, /no global IPv6 address besides loopback/, 'ERR_BAD_OPTION', { hostAddresses: ['198.18.0.1'], others: [] });
    });

    it('refuses mixing families, naming the value and what is accepted', () => {
      refused({ vtep: '198.18.0.1', peers: 'fd00::2' }, /-o peers= fd00::2 is an IPv6 address but the VTEP 198\.18\.0\.1 is IPv4: a VTEP sends and receives VXLAN over one family; expected IPv4 addresses/, 'ERR_BAD_OPTION', host6);
      refused({ vtep: 'fd00::1', peers: 'fd00::2,198.18.0.2' }, /-o peers= 198\.18\.0\.2 is an IPv4 address but the VTEP fd00::1 is IPv6.*expected IPv6 addresses \(e\.g\. fd00::2\)/, 'ERR_BAD_OPTION', host6);
      fails(() => checkVtepAddress('198.18.0.5', '--vtep', 6, 'fd00::1'), /--vtep 198\.18\.0\.5 is an IPv4 address but the VTEP fd00::1 is IPv6/);
    });

    it('refuses IPv6 addresses a VTEP cannot use, and ones that are not this host\'s', () => {
      for (const a of ['::', '::1', 'ff02::1', 'fe80::1', '::ffff:198.18.0.2']) {
        refused({ vtep: 'fd00::1', peers: a }, /is not a unicast IPv6 address a VTEP can use \(::, loopback, multicast, link-local and IPv4-mapped are not\): expected a global or unique-local address/, 'ERR_BAD_OPTION', host6);
      }
      refused({ vtep: 'fd00::1', peers: 'fd00::zz' }, /-o peers= "fd00::zz" is not an IPv6 address: expected RFC 4291 text/, 'ERR_BAD_OPTION', host6);
      refused({ vtep: 'fd00::1', peers: 'fd00::1' }, /fd00::1 is the local VTEP itself/, 'ERR_BAD_OPTION', host6);
      refused({ vtep: 'fd00::9' }, /vtep=fd00::9: not an address of this host; expected one of: 198\.18\.0\.1, fd00::1, 2001:db8:7::10/, 'ERR_BAD_OPTION', host6);
      refused({ vtep: 'fe80::1' }, /vtep= fe80::1 is not a unicast IPv6 address/, 'ERR_BAD_OPTION', host6);
    });

    it('keeps VNIs apart per VTEP address: the same VNI on the IPv4 and the IPv6 VTEP is allowed', () => {
      const others = [rec(7, 'fd00::1')];
      expect(parseOverlayOptions({ vni: '7', vtep: '198.18.0.1' }, { ...host6, others }).vni).toBe(7);
      refused({ vni: '7', vtep: 'fd00::1' }, /VNI 7 is used by another overlay network on VTEP \[fd00::1\]:4789/, 'ERR_VNI_IN_USE', { ...host6, others });
    });

    it('refuses -o encrypted=true on an IPv6 VTEP (WireGuard runs over IPv4 only), and IPv6 cluster VTEPs', () => {
      fails(
        () => parseEncryptionOptions({ encrypted: 'true' }, 'fd00::1', { peersFromStore: true }),
        /-o encrypted=true: the VTEP fd00::1 is IPv6, and encrypted overlays run over an IPv4 underlay only; expected an IPv4 -o vtep= for an encrypted overlay, or a plaintext one over IPv6 \(drop -o encrypted\)/,
      );
      expect(parseEncryptionOptions({}, 'fd00::1', { peersFromStore: false })).toBeUndefined();
      fails(() => checkClusterVtep('fd00::1', '--advertise-addr'), /--advertise-addr fd00::1: cluster hosts' VTEPs are IPv4 only so far .*expected an IPv4 address, e\.g\. 198\.18\.0\.1/);
      expect(checkClusterVtep('198.18.0.1', '--advertise-addr')).toBe('198.18.0.1');
    });
  });
});
