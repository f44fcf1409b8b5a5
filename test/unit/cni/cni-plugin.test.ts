/**
 * The plugin's pure parts: environment and CNI_ARGS parsing, configuration checks with their spec
 * codes, the result's shape per version, and the mapping of daemon refusals onto CNI codes.
 */
import { describe, expect, it } from 'vitest';
import { parsePluginConfig } from '../../../src/cni/cni-config.js';
import { CniError } from '../../../src/cni/cni-error.js';
import { parseCniArgs, readCniEnv } from '../../../src/cni/cni-env.js';
import { cniErrorFrom, runCniPlugin } from '../../../src/cni/cni-plugin.js';
import { addResult } from '../../../src/cni/cni-result.js';
import { readIpamResult } from '../../../src/cni/ipam-delegate.js';
import { TsnError } from '../../../src/errors.js';

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e.code;
    throw e;
  }
  throw new Error('did not throw');
}

const base = { cniVersion: '1.0.0', name: 'n', type: 'tsnet-switch' };
const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };

describe('CNI environment', () => {
  it('reads the parameters of each command and names the bad variable', () => {
    expect(readCniEnv(env)).toMatchObject({ command: 'ADD', containerId: 'c1', netns: '/run/netns/x', ifname: 'eth0', path: ['/opt/cni/bin', '/usr/lib/cni'] });
    expect(readCniEnv({ ...env, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }).netns).toBe(''); // DEL may come without a namespace
    expect(codeOf(() => readCniEnv({ ...env, CNI_NETNS: 'x' }))).toBe(4);
    expect(codeOf(() => readCniEnv({ ...env, CNI_CONTAINERID: '-x' }))).toBe(4);
    expect(codeOf(() => readCniEnv({ ...env, CNI_COMMAND: 'GC', CNI_PATH: '' }))).toBe(4);
    expect(readCniEnv({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
    expect(() => readCniEnv({ ...env, CNI_IFNAME: 'has space' })).toThrow(/CNI_IFNAME/);
  });

  it('splits CNI_ARGS into pairs and refuses a pair without =', () => {
    expect([...parseCniArgs('IgnoreUnknown=1;IP=10.0.0.5;;K=a=b')]).toEqual([
      ['IgnoreUnknown', '1'],
      ['IP', '10.0.0.5'],
      ['K', 'a=b'],
    ]);
    expect(codeOf(() => parseCniArgs('IP'))).toBe(4);
  });
});

describe('CNI configuration', () => {
  const cfg = (o: Record<string, unknown>) => parsePluginConfig(JSON.stringify({ ...base, ...o }));
  it('takes the network from "network", else from the conflist name', () => {
    expect(cfg({}).network).toBe('n');
    expect(cfg({ network: 'other' }).network).toBe('other');
    expect(cfg({ ipam: {} }).ipam).toBeNull();
    expect(cfg({ ipam: { type: 'host-local', subnet: '10.0.0.0/24' } }).ipam?.type).toBe('host-local');
  });
  it('gives each kind of bad input its spec code', () => {
    expect(codeOf(() => parsePluginConfig('{'))).toBe(6);
    expect(codeOf(() => parsePluginConfig('[]'))).toBe(6);
    expect(codeOf(() => cfg({ cniVersion: '0.3.1' }))).toBe(1);
    expect(codeOf(() => cfg({ cniVersion: undefined }))).toBe(7);
    expect(codeOf(() => cfg({ driver: 'vxlan' }))).toBe(2);
    expect(codeOf(() => cfg({ subnet: 'fd00::/64' }))).toBe(2);
    expect(codeOf(() => cfg({ subnet: 'ten' }))).toBe(7);
    expect(codeOf(() => cfg({ subnet: '10.300.0.0/16' }))).toBe(7);
    expect(codeOf(() => cfg({ subnet: '10.89.0.0/33' }))).toBe(7);
    // Host bits set: refused here with the fix, as the daemon would, not at ADD time.
    const hostBits = (() => {
      try {
        cfg({ subnet: '10.89.0.1/24' });
      } catch (err) {
        return err as { code: number; details?: string };
      }
      return null;
    })();
    expect(hostBits?.code).toBe(7);
    expect(hostBits?.details).toContain('10.89.0.0/24');
    expect(codeOf(() => cfg({ gateway: '10.0.0' }))).toBe(7);
    expect(codeOf(() => cfg({ gateway: '999.0.0.1' }))).toBe(7); // the project's one parser: not just "four numbers"
    expect(codeOf(() => cfg({ mtu: '1500' }))).toBe(7);
    expect(codeOf(() => cfg({ options: { icc: false } }))).toBe(7);
    expect(codeOf(() => cfg({ ipam: { subnet: '10.0.0.0/24' } }))).toBe(7);
    expect(codeOf(() => cfg({ ipam: { type: '../x' } }))).toBe(7);
    expect(codeOf(() => cfg({ network: 'bad name' }))).toBe(7);
    expect(codeOf(() => cfg({ 'cni.dev/valid-attachments': [{ containerID: 1 }] }))).toBe(7);
  });
});

describe('CNI result', () => {
  const a = { endpoint: { id: 'e', ifname: 'eth0', mac: '02:42:0a:00:00:02', ip: '10.0.0.2', prefixLen: 24 }, network: { name: 'n', gateway: '10.0.0.1', mtu: 1450 }, routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }] };
  it('has version in ips only for 0.4.0 and the interface mtu only for 1.1.0', () => {
    const r04 = addResult('0.4.0', a, '/run/netns/x', undefined);
    expect(r04.ips).toEqual([{ version: '4', address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }]);
    expect(r04.interfaces).toEqual([{ name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: '/run/netns/x' }]);
    expect(addResult('1.0.0', a, '/run/netns/x', undefined).ips).toEqual([{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 }]);
    expect((addResult('1.1.0', a, '/run/netns/x', undefined).interfaces as unknown[])[0]).toMatchObject({ mtu: 1450 });
  });
  it('appends to a prevResult, indexing its own interface after the ones there', () => {
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'lo0' }], ips: [{ address: '192.0.2.1/32', interface: 0 }], dns: { nameservers: ['192.0.2.53'] } };
    const r = addResult('1.0.0', a, '/run/netns/x', undefined, prev);
    expect(r.interfaces).toHaveLength(2);
    expect((r.ips as { interface: number }[])[1].interface).toBe(1);
    expect(r.dns).toEqual({ nameservers: ['192.0.2.53'] });
  });
  it('reads exactly one IPv4 address from an IPAM result', () => {
    expect(readIpamResult('host-local', { ips: [{ version: '4', address: '10.1.0.5/16', gateway: '10.1.0.1' }], routes: [{ dst: '0.0.0.0/0' }] })).toEqual({
      address: { ip: '10.1.0.5', prefixLen: 16, gateway: '10.1.0.1' },
      routes: [{ dst: '0.0.0.0/0' }],
      dns: undefined,
    });
    expect(codeOf(() => readIpamResult('x', { ips: [] }))).toBe(2);
    expect(codeOf(() => readIpamResult('x', { ips: [{ address: '10.0.0.256/24' }] }))).toBe(6);
    expect(codeOf(() => readIpamResult('x', { ips: [{ address: '10.0.0.1/33' }] }))).toBe(6);
    expect(codeOf(() => readIpamResult('x', { ips: [{ address: '10.0.0.1/24' }, { address: '10.0.0.2/24' }] }))).toBe(2);
  });
});

describe('daemon refusals as CNI codes', () => {
  it('maps by code and status', () => {
    expect(cniErrorFrom(new TsnError('ERR_NO_DAEMON', 'x'), 'ADD').code).toBe(11);
    expect(cniErrorFrom(new TsnError('ERR_NO_DAEMON', 'x'), 'STATUS').code).toBe(50);
    expect(cniErrorFrom(new TsnError('ERR_BAD_CIDR', 'x'), 'ADD').code).toBe(7);
    expect(cniErrorFrom(new TsnError('ERR_NO_SUCH_SANDBOX', 'x'), 'ADD').code).toBe(4);
    expect(cniErrorFrom(new TsnError('ERR_ENDPOINT_EXISTS', 'x'), 'ADD').code).toBe(100);
    expect(cniErrorFrom(new TsnError('ERR_ATTACHMENT_BROKEN', 'x'), 'CHECK').code).toBe(101);
    expect(cniErrorFrom(new TsnError('ERR_INTERNAL', 'x'), 'ADD').code).toBe(102);
    expect(cniErrorFrom(new TsnError('ERR_NETWORK_MISMATCH', 'the subnet'), 'ADD')).toMatchObject({ code: 7, details: 'ERR_NETWORK_MISMATCH: the subnet' });
  });
  it('answers VERSION and errors on stdout with the input cniVersion', async () => {
    expect(JSON.parse((await runCniPlugin({ CNI_COMMAND: 'VERSION' }, '')).stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
    const r = await runCniPlugin({ ...env, CNI_IFNAME: '' }, JSON.stringify(base));
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 4, msg: 'invalid CNI_IFNAME' });
  });
});
