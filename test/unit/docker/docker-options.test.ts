/** Docker's CreateNetwork body -> a tsnet network request (src/docker/docker-options.ts): the IPv6 side. */
import { describe, expect, it } from 'vitest';
import { networkRequestFromDocker } from '../../../src/docker/docker-options.js';

const none = () => null;

describe('networkRequestFromDocker', () => {
  it('maps --ipv6 and IPv6Data to a dual-stack request, IPv6 aux addresses included', () => {
    const r = networkRequestFromDocker(
      {
        NetworkID: 'abcdef0123456789',
        Options: { 'com.docker.network.enable_ipv6': true, 'com.docker.network.generic': {} },
        IPv4Data: [{ Pool: '10.1.0.0/24', Gateway: '10.1.0.1/24' }],
        IPv6Data: [{ Pool: 'fd00:1::/64', Gateway: 'fd00:1::1/64', AuxAddresses: { DefaultGatewayIPv6: 'fd00:1::fe/64' } }],
      },
      none,
    );
    expect(r).toMatchObject({ ipv6: true, subnet: '10.1.0.0/24', gateway: '10.1.0.1', subnet6: 'fd00:1::/64', gateway6: 'fd00:1::1', auxAddresses: { DefaultGatewayIPv6: 'fd00:1::fe' } });
  });

  it("takes each family's ip-range from our IPAM driver's pending pools (IPv4Data/IPv6Data do not carry it)", () => {
    const ranges: Record<string, string> = { '10.1.0.0/24': '10.1.0.128/25', 'fd00:1::/64': 'fd00:1::100/120' };
    const r = networkRequestFromDocker(
      { NetworkID: 'abcdef0123456789', Options: { 'com.docker.network.enable_ipv6': true }, IPv4Data: [{ Pool: '10.1.0.0/24' }], IPv6Data: [{ Pool: 'fd00:1::/64' }] },
      (subnet) => ranges[subnet] ?? null,
    );
    expect(r).toMatchObject({ ipRange: '10.1.0.128/25', subnet6: 'fd00:1::/64', ipRange6: 'fd00:1::100/120' });
  });

  it('leaves an IPv4 network as it was, and refuses two IPv6 pools by name', () => {
    const r = networkRequestFromDocker({ NetworkID: 'abcdef0123456789', IPv4Data: [{ Pool: '10.1.0.0/24' }] }, none);
    expect('ipv6' in r).toBe(false);
    expect(() =>
      networkRequestFromDocker({ NetworkID: 'abcdef0123456789', Options: { 'com.docker.network.enable_ipv6': true }, IPv6Data: [{ Pool: 'fd00:1::/64' }, { Pool: 'fd00:2::/64' }] }, none),
    ).toThrow('2 IPv6 subnets (fd00:1::/64, fd00:2::/64): a tsnet network has one');
  });
});
