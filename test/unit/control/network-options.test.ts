/**
 * `network create` option parsing (src/control/network-options.ts) with the daemon's real drivers'
 * keys (src/control/drivers/driver-registry.ts): the texts the CLI has always printed, kept.
 */
import { describe, expect, it } from 'vitest';
import { createDrivers } from '../../../src/control/drivers/driver-registry.js';
import type { SwitchEngine } from '../../../src/dataplane/switch-engine.js';
import { parseNetworkOptions, type CreateNetworkRequest } from '../../../src/control/network-options.js';
import { expectTsnError } from '../../helpers/tsn-error.js';

// The drivers are only asked for their option keys here: nothing touches the engine.
const drivers = Object.values(createDrivers({ engine: {} as SwitchEngine, hostNetns: null, log: () => {} }).byName);
const parse = (driver: CreateNetworkRequest['driver'] & string, options: Record<string, string>, mtu?: number) =>
  parseNetworkOptions({ name: 'n', driver, options, ...(mtu !== undefined ? { mtu } : {}) }, driver, drivers);

describe('parseNetworkOptions', () => {
  it('defaults, and every common key with its Docker long form', () => {
    expect(parse('bridge', {}).options).toEqual({ mtu: 1500, icc: true, internal: false, bridgeName: null });
    const p = parse('bridge', { 'com.docker.network.bridge.enable_icc': 'false', internal: 'true', 'com.docker.network.bridge.name': 'br-x', 'com.docker.network.driver.mtu': '9000', port_security: 'ip' });
    expect(p.options).toEqual({ mtu: 9000, icc: false, internal: true, bridgeName: 'br-x', portSecurity: 'ip' });
    expect([...p.given].sort()).toEqual(['bridgeName', 'icc', 'internal', 'mtu', 'portSecurity']);
  });

  it('--mtu counts as a given MTU; -o mtu overrides it', () => {
    expect([...parse('bridge', {}, 1400).given]).toEqual(['mtu']);
    expect(parse('bridge', { mtu: '1300' }, 1400).options.mtu).toBe(1300);
    expectTsnError(() => parse('bridge', {}, 67), 'ERR_BAD_OPTION', '--mtu 67: expected an integer from 68 to 65535');
    expectTsnError(() => parse('bridge', { mtu: '1e3' }), 'ERR_BAD_OPTION', '-o mtu 1e3: expected an integer from 68 to 65535');
  });

  it('refuses bad values naming the key', () => {
    expectTsnError(() => parse('bridge', { icc: 'yes' }), 'ERR_BAD_OPTION', '-o icc=yes: expected true or false');
    expectTsnError(() => parse('bridge', { port_security: 'all' }), 'ERR_BAD_OPTION', '-o port_security=all: expected mac or ip');
    expectTsnError(() => parse('bridge', { 'bridge.name': 'a/b' }), 'ERR_BAD_NAME', '-o bridge.name "a/b" is not a valid interface name');
  });

  it('an unknown key lists the accepted ones, the parent drivers\' included, as before', () => {
    const err = expectTsnError(() => parse('bridge', { vni: '5' }), 'ERR_BAD_OPTION');
    expect(err.message).toBe(
      '-o vni=5: unknown option; accepted: icc, com.docker.network.bridge.enable_icc, internal, bridge.name, com.docker.network.bridge.name, mtu, com.docker.network.driver.mtu, port_security, masquerade, com.docker.network.bridge.enable_ip_masquerade, parent, mode, macvlan_mode, ipvlan_mode, host_shim, host_shim.name',
    );
  });

  it('passes over the overlay driver\'s own keys for an overlay network only', () => {
    expect(parse('overlay', { vni: '5', peers: '198.18.0.2', mtu: '1400' }).options).toEqual({ mtu: 1400, icc: true, internal: false, bridgeName: null });
    expectTsnError(() => parse('null', { learning: 'true' }), 'ERR_BAD_OPTION', '-o learning=true: unknown option');
  });

  it('keeps the parent drivers\' keys raw for their plan, and refuses them by name on other drivers', () => {
    const p = parse('macvlan', { parent: 'eth0', macvlan_mode: 'vepa', host_shim: '10.1.0.9', 'host_shim.name': 'shim0' });
    expect(p.options).toMatchObject({ parent: 'eth0', mode: 'vepa', hostShim: '10.1.0.9', hostShimName: 'shim0' });
    expect(parse('ipvlan', { ipvlan_mode: 'l2' }).options.mode).toBe('l2');
    const one = expectTsnError(() => parse('bridge', { macvlan_mode: 'vepa' }), 'ERR_BAD_OPTION');
    expect(one.message).toBe('-o mode: option of the macvlan and ipvlan drivers, not of bridge');
    // -o parent is the bridge's too (a NIC uplink), and still no overlay's.
    expect(parse('bridge', { parent: 'p0' }).options.parent).toBe('p0');
    expect(expectTsnError(() => parse('overlay', { parent: 'p0' }), 'ERR_BAD_OPTION').message).toBe('-o parent: option of the bridge, macvlan and ipvlan drivers, not of overlay');
    const many = expectTsnError(() => parse('overlay', { 'host_shim.name': 's', ipvlan_mode: 'l2' }), 'ERR_BAD_OPTION');
    expect(many.message).toBe('-o mode, -o host_shim.name: options of the macvlan and ipvlan drivers, not of overlay');
  });

  it('an unknown key is reported before another driver\'s key, as the daemon did', () => {
    expectTsnError(() => parse('bridge', { parent: 'p0', nope: '1' }), 'ERR_BAD_OPTION', '-o nope=1: unknown option');
  });
});
