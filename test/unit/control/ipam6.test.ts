/** IPv6 IPAM of dual-stack networks (src/control/ipam6.ts) and the create-time split (dual-stack.ts). */
import { describe, expect, it } from 'vitest';
import { planIpv6 } from '../../../src/control/dual-stack.js';
import { checkNoOverlap6, NetworkIpam6, parseCidr6 } from '../../../src/control/ipam6.js';

describe('NetworkIpam6', () => {
  it('reserves the anycast address and the gateway, hands out serially, and takes static addresses anywhere', () => {
    const ipam = new NetworkIpam6({ subnet: 'fd00:1::/64' });
    expect(ipam.gateway).toBe('fd00:1::1');
    expect(ipam.allocate()).toBe('fd00:1::2');
    expect(ipam.allocate('fd00:1::ffff:1')).toBe('fd00:1::ffff:1');
    expect(ipam.allocate()).toBe('fd00:1::3'); // a static address does not move the cursor
    ipam.release('fd00:1::2');
    expect(ipam.allocate()).toBe('fd00:1::4'); // a released one is not reused at once
    expect(() => ipam.allocate('fd00:1::3')).toThrow('--ip6 fd00:1::3 is in use on this network');
    expect(() => ipam.allocate('fd00:1::1')).toThrow('is the IPv6 gateway of fd00:1::/64');
    expect(() => ipam.allocate('fd00:1::')).toThrow('subnet-router anycast address');
    expect(() => ipam.allocate('fd00:2::1')).toThrow('--ip6 fd00:2::1 is outside the IPv6 subnet fd00:1::/64');
    expect(() => ipam.allocate('10.0.0.1')).toThrow('is not an IPv6 address');
  });

  it('wraps inside its ip-range, skips what is taken, and says when it is full', () => {
    const ipam = new NetworkIpam6({ subnet: 'fd00:1::/64', ipRange: 'fd00:1::/126', auxAddresses: { h: 'fd00:1::2' } });
    expect(ipam.allocate()).toBe('fd00:1::3');
    expect(() => ipam.allocate()).toThrow('no free IPv6 address in fd00:1::/126');
    ipam.release('fd00:1::3');
    expect(ipam.allocate()).toBe('fd00:1::3');
    expect(() => new NetworkIpam6({ subnet: 'fd00:1::/64', ipRange: 'fd00:2::/80' })).toThrow('IPv6 ip-range fd00:2::/80 is not within the subnet fd00:1::/64');
    expect(() => new NetworkIpam6({ subnet: 'fd00:1::/127' })).toThrow('too small');
    expect(() => new NetworkIpam6({ subnet: 'fd00::/16' })).toThrow('too large');
    expect(() => new NetworkIpam6({ subnet: 'fd00:1::/64', auxAddresses: { a: 'fd00:1::1' } })).toThrow("aux address 'a' fd00:1::1 is already the IPv6 gateway");
  });

  it('refuses prefixes that are no subnet for hosts, and wraps at the very top of the address space', () => {
    for (const [s, what] of [['ff02::/64', 'multicast'], ['fe80::/64', 'link-local'], ['::/64', 'unspecified'], ['::ffff:0:0/96', 'IPv4-mapped']]) {
      expect(() => new NetworkIpam6({ subnet: s }), s).toThrow(what);
    }
    const top = new NetworkIpam6({ subnet: 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124' });
    const got = Array.from({ length: 14 }, () => top.allocate()); // ::f1 .. ::fe, ::ff
    expect(got[got.length - 1]).toBe('fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    top.release('fdff:ffff:ffff:ffff:ffff:ffff:ffff:fff2');
    const back = NetworkIpam6.fromJSON(JSON.parse(JSON.stringify(top.toJSON())));
    expect(back.allocate()).toBe('fdff:ffff:ffff:ffff:ffff:ffff:ffff:fff2'); // wrapped inside the subnet, not to ::
  });

  it('round-trips through JSON with its cursor and allocations', () => {
    const ipam = new NetworkIpam6({ subnet: 'fd00:1::/64', gateway: 'fd00:1::fe' });
    expect(ipam.allocate()).toBe('fd00:1::1'); // the gateway is elsewhere: ::1 is a host like any
    ipam.allocate('fd00:1::99');
    const back = NetworkIpam6.fromJSON(JSON.parse(JSON.stringify(ipam.toJSON())));
    expect(back.toJSON()).toEqual(ipam.toJSON());
    expect(back.allocate()).toBe('fd00:1::2');
    expect(back.isAllocated('fd00:1::99')).toBe(true);
  });

  it('finds overlaps both ways, and canonicalises prefixes', () => {
    expect(parseCidr6('FD00:0001:0:0::/64').text).toBe('fd00:1::/64');
    expect(() => checkNoOverlap6('fd00:1::/48', [{ name: 'a', subnet: 'fd00:1:0:5::/64' }])).toThrow('overlaps fd00:1:0:5::/64 of network a');
    expect(() => checkNoOverlap6('fd00:1:0:5::/64', [{ name: 'a', subnet: 'fd00:1::/48' }])).toThrow('overlaps');
    expect(() => checkNoOverlap6('fd00:2::/64', [{ name: 'a', subnet: 'fd00:1::/48' }])).not.toThrow();
  });
});

describe('planIpv6', () => {
  const bridge = { name: 'bridge', ipv6: true };
  it('splits IPv6 aux addresses off, and refuses IPv6 without --ipv6, --ipv6 without a subnet, a driver without IPv6', () => {
    const p = planIpv6({ name: 'n', ipv6: true, subnet: '10.0.0.0/24', subnet6: 'fd00:1::/64', auxAddresses: { r: '10.0.0.9', r6: 'fd00:1::9' } }, bridge, [], false);
    expect(p.req.auxAddresses).toEqual({ r: '10.0.0.9' });
    expect(p.ipam6!.auxAddresses).toEqual({ r6: 'fd00:1::9' });
    expect(planIpv6({ name: 'n', subnet: '10.0.0.0/24' }, bridge, [], false).ipam6).toBeNull();
    expect(() => planIpv6({ name: 'n', auxAddresses: { r6: 'fd00:1::9' } }, bridge, [], false)).toThrow('--aux-address r6=fd00:1::9 is IPv6: add --ipv6');
    expect(() => planIpv6({ name: 'n', ipv6: true }, bridge, [], false)).toThrow('--ipv6 needs an IPv6 --subnet');
    expect(() => planIpv6({ name: 'n', ipv6: true, subnet6: 'fd00:1::/64' }, { name: 'macvlan' }, [], false)).toThrow('the macvlan driver has no IPv6');
    expect(() => planIpv6({ name: 'n', ipv6: true, subnet6: 'fd00:1::/64', auxAddresses: { DefaultGatewayIPv6: 'fd00:1::fe' } }, bridge, [], false)).toThrow('DefaultGatewayIPv6=fd00:1::fe without -o parent=IFACE');
    expect(planIpv6({ name: 'n', ipv6: true, subnet6: 'fd00:1::/64', auxAddresses: { DefaultGatewayIPv6: 'fd00:1::fe' } }, bridge, [], true).ipam6!.auxAddresses.DefaultGatewayIPv6).toBe('fd00:1::fe');
  });
});
