import { describe, expect, it } from 'vitest';
import { TsnError } from '../../../src/errors.js';
import { checkNoOverlap, chooseDefaultSubnet, DOCKER_DEFAULT_POOLS, NetworkIpam } from '../../../src/control/ipam.js';
import { expectTsnError } from '../../helpers/tsn-error.js';


describe('NetworkIpam: configuration', () => {
  it('defaults the gateway to the first host and hands out from the next address', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24' });
    expect(ipam.subnet).toBe('10.0.0.0/24');
    expect(ipam.prefixLen).toBe(24);
    expect(ipam.gateway).toBe('10.0.0.1');
    expect(ipam.ipRange).toBeNull();
    expect([ipam.allocate(), ipam.allocate(), ipam.allocate()]).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  });

  it('takes an explicit gateway anywhere in the subnet', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.0.254' });
    expect(ipam.gateway).toBe('10.0.0.254');
    expect(ipam.allocate()).toBe('10.0.0.1');
    expect(ipam.reservedReason('10.0.0.254')).toBe('the gateway of 10.0.0.0/24');
  });

  it('refuses a malformed subnet', () => {
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/33' }), 'ERR_BAD_CIDR', 'subnet "10.0.0.0/33"', '0..32');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0/24' }), 'ERR_BAD_CIDR', 'subnet "10.0.0/24"', '3 parts');
    expectTsnError(() => new NetworkIpam({ subnet: '300.1.1.1/8' }), 'ERR_BAD_CIDR', 'subnet "300.1.1.1/8"', 'above 255');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.1/24' }), 'ERR_BAD_CIDR', 'did you mean 10.0.0.0/24?');
  });

  it('refuses subnets too small or too large for a network', () => {
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/31' }), 'ERR_BAD_CIDR', 'subnet 10.0.0.0/31 is too small', 'at least a /30');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.1/32' }), 'ERR_BAD_CIDR', 'too small');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/7' }), 'ERR_BAD_CIDR', 'subnet 10.0.0.0/7 is too large', '/8');
  });

  it('refuses a gateway outside the subnet', () => {
    const e = expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.1.1' }), 'ERR_IP_OUT_OF_SUBNET', 'gateway 10.0.1.1', 'outside the subnet 10.0.0.0/24', '10.0.0.1..10.0.0.254');
    expect(e.status).toBe(400);
  });

  it('refuses the network or broadcast address as the gateway, and a malformed gateway', () => {
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.0.0' }), 'ERR_BAD_IP', 'gateway 10.0.0.0 is the network address of 10.0.0.0/24', 'host address in 10.0.0.1..10.0.0.254');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.0.255' }), 'ERR_BAD_IP', 'broadcast address');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.0.999' }), 'ERR_BAD_IP', 'gateway "10.0.0.999"');
  });

  it('refuses an ip-range outside the subnet, larger than it, or malformed', () => {
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', ipRange: '10.0.1.0/25' }), 'ERR_IP_OUT_OF_SUBNET', 'ip-range 10.0.1.0/25 is not within the subnet 10.0.0.0/24', 'e.g. 10.0.0.0/25');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', ipRange: '10.0.0.0/16' }), 'ERR_IP_OUT_OF_SUBNET', 'ip-range 10.0.0.0/16');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', ipRange: '10.0.0.5/25' }), 'ERR_BAD_CIDR', 'ip-range "10.0.0.5/25"', 'did you mean 10.0.0.0/25?');
  });

  it('refuses aux addresses outside the subnet, on the gateway, duplicated, or badly named', () => {
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { router: '10.9.0.1' } }), 'ERR_IP_OUT_OF_SUBNET', "aux address 'router' 10.9.0.1", 'outside the subnet 10.0.0.0/24');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { router: '10.0.0.1' } }), 'ERR_IP_IN_USE', "aux address 'router' 10.0.0.1 is already the gateway of 10.0.0.0/24");
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { a: '10.0.0.9', b: '10.0.0.9' } }), 'ERR_IP_IN_USE', "aux address 'b' 10.0.0.9 is already reserved as aux address 'a'");
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { a: '10.0.0.255' } }), 'ERR_BAD_IP', 'broadcast address');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { 'bad name': '10.0.0.9' } }), 'ERR_BAD_NAME', 'aux address name "bad name"');
    expectTsnError(() => new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { a: 'x' } }), 'ERR_BAD_IP', `aux address 'a' "x"`);
  });
});

describe('NetworkIpam: allocation', () => {
  it('never hands out an aux address, and refuses it as a static IP saying why', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/29', auxAddresses: { printer: '10.0.0.3', nas: '10.0.0.5' } });
    const got = [ipam.allocate(), ipam.allocate(), ipam.allocate()];
    expect(got).toEqual(['10.0.0.2', '10.0.0.4', '10.0.0.6']);
    expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED');
    const e = expectTsnError(() => ipam.allocate('10.0.0.3'), 'ERR_IP_IN_USE', 'requested IP 10.0.0.3 is not available', "reserved as aux address 'printer'");
    expect(e.status).toBe(409);
    expect(ipam.isAllocated('10.0.0.3')).toBe(false);
    expect(ipam.reservedReason('10.0.0.5')).toBe("reserved as aux address 'nas'");
  });

  it('exhausts a /30 after exactly one allocation', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.4/30' });
    expect(ipam.gateway).toBe('10.0.0.5');
    expect(ipam.allocate()).toBe('10.0.0.6');
    const e = expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED', 'no free IPv4 address left in 10.0.0.4/30', '1 allocated', 'larger --subnet');
    expect(e.status).toBe(409);
    expect(e.details).toMatchObject({ subnet: '10.0.0.4/30', allocated: 1 });
    expect(ipam.freeCount()).toBe(0);
  });

  it('exhausts a /28 with two aux addresses after exactly 16 - 3 - 2 = 11 allocations', () => {
    // 16 addresses; network, broadcast and gateway reserved, and the two aux addresses.
    const ipam = new NetworkIpam({ subnet: '192.168.5.0/28', auxAddresses: { a: '192.168.5.7', b: '192.168.5.14' } });
    expect(ipam.freeCount()).toBe(11);
    for (let i = 0; i < 11; i++) ipam.allocate();
    expect(ipam.allocatedCount).toBe(11);
    expect(ipam.freeCount()).toBe(0);
    expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED');
  });

  it('refuses a static IP outside the subnet, malformed, or reserved, saying why', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24' });
    const e = expectTsnError(() => ipam.allocate('10.0.1.5'), 'ERR_IP_OUT_OF_SUBNET', 'requested IP 10.0.1.5 is outside the network\'s subnet 10.0.0.0/24', '10.0.0.1..10.0.0.254');
    expect(e.status).toBe(400);
    expectTsnError(() => ipam.allocate('10.0.0.256'), 'ERR_BAD_IP', 'requested IP "10.0.0.256"');
    expectTsnError(() => ipam.allocate('10.0.0.0'), 'ERR_IP_IN_USE', 'the network address of 10.0.0.0/24');
    expectTsnError(() => ipam.allocate('10.0.0.255'), 'ERR_IP_IN_USE', 'the broadcast address of 10.0.0.0/24');
    expectTsnError(() => ipam.allocate('10.0.0.1'), 'ERR_IP_IN_USE', 'the gateway of 10.0.0.0/24');
    expect(ipam.allocatedCount).toBe(0);
  });

  it('refuses a duplicate IP, static or dynamic', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24' });
    expect(ipam.allocate('10.0.0.7')).toBe('10.0.0.7');
    expectTsnError(() => ipam.allocate('10.0.0.7'), 'ERR_IP_IN_USE', 'requested IP 10.0.0.7 is already allocated in 10.0.0.0/24', 'omit --ip');
    const dyn = ipam.allocate();
    expectTsnError(() => ipam.allocate(dyn), 'ERR_IP_IN_USE', `requested IP ${dyn} is already allocated`);
  });

  it('skips static IPs in the dynamic walk, and a static IP does not move the cursor', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24' });
    ipam.allocate('10.0.0.3');
    ipam.allocate('10.0.0.200');
    expect([ipam.allocate(), ipam.allocate(), ipam.allocate()]).toEqual(['10.0.0.2', '10.0.0.4', '10.0.0.5']);
  });

  it('hands out dynamic addresses from the ip-range only, static ones from the whole subnet', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/16', ipRange: '10.0.5.0/30' });
    expect(ipam.gateway).toBe('10.0.0.1');
    // Docker: the ip-range's own first and last addresses are ordinary hosts of the /16.
    expect([ipam.allocate(), ipam.allocate(), ipam.allocate(), ipam.allocate()]).toEqual(['10.0.5.0', '10.0.5.1', '10.0.5.2', '10.0.5.3']);
    expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED', 'the ip-range 10.0.5.0/30 of 10.0.0.0/16', '--ip-range');
    expect(ipam.allocate('10.0.9.9')).toBe('10.0.9.9');
    expect(ipam.inspect().Config[0].IPRange).toBe('10.0.5.0/30');
  });

  it('does not reuse a just-released address until the range wraps', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/29' }); // hosts .2-.6 for endpoints
    expect([ipam.allocate(), ipam.allocate(), ipam.allocate()]).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(ipam.release('10.0.0.3')).toBe(true);
    expect(ipam.isAllocated('10.0.0.3')).toBe(false);
    expect(ipam.allocate()).toBe('10.0.0.5');
    expect(ipam.allocate()).toBe('10.0.0.6');
    // End of the subnet: wrap to the start and find the released address.
    expect(ipam.allocate()).toBe('10.0.0.3');
    expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED');
  });

  it('release is idempotent and refuses reserved or foreign addresses', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { r: '10.0.0.100' } });
    const a = ipam.allocate();
    expect(ipam.release(a)).toBe(true);
    expect(ipam.release(a)).toBe(false);
    expect(ipam.release('10.0.0.50')).toBe(false);
    expectTsnError(() => ipam.release('10.0.0.1'), 'ERR_BAD_IP', 'cannot release 10.0.0.1: it is the gateway');
    expectTsnError(() => ipam.release('10.0.0.100'), 'ERR_BAD_IP', "aux address 'r'");
    expectTsnError(() => ipam.release('10.1.0.1'), 'ERR_IP_OUT_OF_SUBNET', 'released IP 10.1.0.1');
    expect(ipam.allocatedCount).toBe(0);
  });

  it('lists allocations in address order, without the reserved addresses', () => {
    const ipam = new NetworkIpam({ subnet: '10.0.0.0/24', auxAddresses: { r: '10.0.0.100' } });
    ipam.allocate('10.0.0.77');
    ipam.allocate();
    ipam.allocate('10.0.0.33');
    expect(ipam.allocated()).toEqual(['10.0.0.2', '10.0.0.33', '10.0.0.77']);
    expect(ipam.allocatedCount).toBe(3);
    expect(ipam.contains('10.0.0.9')).toBe(true);
    expect(ipam.contains('10.0.1.9')).toBe(false);
  });

  it('fills and wraps a /16 quickly, without per-address strings', () => {
    const ipam = new NetworkIpam({ subnet: '172.20.0.0/16' });
    const t0 = performance.now();
    const n = 65536 - 3; // network, gateway, broadcast
    let last = '';
    for (let i = 0; i < n; i++) last = ipam.allocate();
    expect(last).toBe('172.20.255.254');
    expect(ipam.allocatedCount).toBe(n);
    expectTsnError(() => ipam.allocate(), 'ERR_POOL_EXHAUSTED', '65533 allocated');
    expect(ipam.freeCount()).toBe(0);
    expect(ipam.allocated()).toHaveLength(n);
    ipam.release('172.20.128.7');
    expect(ipam.allocate()).toBe('172.20.128.7');
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('NetworkIpam: inspect and persistence', () => {
  it('inspects like docker network inspect .IPAM', () => {
    expect(new NetworkIpam({ subnet: '10.0.0.0/24' }).inspect()).toEqual({ Driver: 'default', Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] });
    expect(new NetworkIpam({ subnet: '10.0.0.0/16', gateway: '10.0.0.254', ipRange: '10.0.1.0/24', auxAddresses: { host1: '10.0.0.5' } }).inspect()).toEqual({
      Driver: 'default',
      Config: [{ Subnet: '10.0.0.0/16', Gateway: '10.0.0.254', IPRange: '10.0.1.0/24', AuxiliaryAddresses: { host1: '10.0.0.5' } }],
    });
  });

  it('round-trips through JSON with allocations and the cursor', () => {
    const a = new NetworkIpam({ subnet: '10.0.0.0/24', gateway: '10.0.0.254', ipRange: '10.0.0.0/25', auxAddresses: { r: '10.0.0.10' } });
    for (let i = 0; i < 5; i++) a.allocate();
    a.allocate('10.0.0.200');
    a.release('10.0.0.2');
    const json = JSON.parse(JSON.stringify(a));
    expect(json).toEqual({
      subnet: '10.0.0.0/24',
      gateway: '10.0.0.254',
      ipRange: '10.0.0.0/25',
      auxAddresses: { r: '10.0.0.10' },
      allocated: ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.200'],
      next: '10.0.0.6',
    });
    const b = NetworkIpam.fromJSON(json);
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.inspect()).toEqual(a.inspect());
    // The restored cursor continues where the old one stopped: the released .2 is not reused yet.
    expect(b.allocate()).toBe('10.0.0.6');
    expect(a.allocate()).toBe('10.0.0.6');
  });

  it('refuses stored state that is not its own output', () => {
    expectTsnError(() => NetworkIpam.fromJSON(null), 'ERR_STATE_CORRUPT', 'stored IPAM state is invalid', 'null is not an object');
    expectTsnError(() => NetworkIpam.fromJSON({ allocated: [] }), 'ERR_STATE_CORRUPT', 'subnet is missing');
    expectTsnError(() => NetworkIpam.fromJSON({ subnet: '10.0.0.0/24', allocated: 'x' }), 'ERR_STATE_CORRUPT', 'not an array');
    expectTsnError(
      () => NetworkIpam.fromJSON({ subnet: '10.0.0.0/24', gateway: '10.0.0.1', allocated: ['10.0.0.1'], next: '10.0.0.2' }),
      'ERR_STATE_CORRUPT',
      'network 10.0.0.0/24',
      'the gateway of 10.0.0.0/24',
    );
    expectTsnError(() => NetworkIpam.fromJSON({ subnet: '10.0.0.0/24', allocated: ['10.0.0.5', '10.0.0.5'] }), 'ERR_STATE_CORRUPT', 'already allocated');
  });
});

describe('chooseDefaultSubnet', () => {
  it("exports Docker's local-scope default pools", () => {
    expect(DOCKER_DEFAULT_POOLS).toEqual([
      { base: '172.17.0.0/16', size: 16 },
      { base: '172.18.0.0/16', size: 16 },
      { base: '172.19.0.0/16', size: 16 },
      { base: '172.20.0.0/14', size: 16 },
      { base: '172.24.0.0/14', size: 16 },
      { base: '172.28.0.0/14', size: 16 },
      { base: '192.168.0.0/16', size: 20 },
    ]);
  });

  it('picks the first pool subnet when nothing is taken', () => {
    expect(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, [])).toBe('172.17.0.0/16');
  });

  it('skips subnets taken by networks and overlapped by host routes or addresses', () => {
    expect(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, ['172.17.0.0/16', '172.18.5.0/24'])).toBe('172.19.0.0/16');
    // An interface address with host bits set, and a host route, count as taken too.
    expect(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, ['172.17.0.1/16', '172.18.0.9', '172.19.200.0/22'])).toBe('172.20.0.0/16');
    // A route covering all of 172.16/12 pushes to 192.168.0.0/16 in /20s; a host route inside
    // 192.168.16.0/20 skips that one too.
    expect(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, ['172.16.0.0/12', '192.168.0.0/20', '192.168.17.5/32'])).toBe('192.168.32.0/20');
  });

  it('does not count a default route as an overlap', () => {
    expect(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, ['0.0.0.0/0', '172.17.0.0/16'])).toBe('172.18.0.0/16');
  });

  it('hands out 31 subnets from the Docker defaults, then reports exhaustion listing the pools', () => {
    const taken: string[] = [];
    for (let i = 0; i < 31; i++) taken.push(chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, taken));
    expect(taken[14]).toBe('172.31.0.0/16');
    expect(taken[15]).toBe('192.168.0.0/20');
    expect(taken[30]).toBe('192.168.240.0/20');
    const e = expectTsnError(() => chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, taken), 'ERR_POOL_EXHAUSTED', 'no free subnet in the default address pools', '172.17.0.0/16 in /16s', '172.20.0.0/14 in /16s', '192.168.0.0/16 in /20s', '--subnet');
    expect(e.status).toBe(409);
  });

  it('jumps over a large taken block instead of walking it subnet by subnet', () => {
    const pools = [{ base: '10.0.0.0/8', size: 24 }];
    expect(chooseDefaultSubnet(pools, ['10.0.0.0/9'])).toBe('10.128.0.0/24');
    expect(chooseDefaultSubnet(pools, ['10.0.0.0/9', '10.128.0.0/24', '10.128.1.7/32'])).toBe('10.128.2.0/24');
    expectTsnError(() => chooseDefaultSubnet(pools, ['10.0.0.0/8']), 'ERR_POOL_EXHAUSTED', '10.0.0.0/8 in /24s');
  });

  it('refuses bad pools and bad taken entries', () => {
    expectTsnError(() => chooseDefaultSubnet([{ base: '10.0.0.0/16', size: 8 }], []), 'ERR_BAD_OPTION', 'default address pool 10.0.0.0/16: size 8 is invalid', 'from 16');
    expectTsnError(() => chooseDefaultSubnet([{ base: '10.0.0.0/16', size: 31 }], []), 'ERR_BAD_OPTION', 'size 31');
    expectTsnError(() => chooseDefaultSubnet([{ base: '10.0.0.1/16', size: 24 }], []), 'ERR_BAD_CIDR', 'default address pool base', 'did you mean 10.0.0.0/16?');
    expectTsnError(() => chooseDefaultSubnet(DOCKER_DEFAULT_POOLS, ['nope']), 'ERR_BAD_CIDR', 'taken subnet/route "nope"');
    expectTsnError(() => chooseDefaultSubnet([], []), 'ERR_POOL_EXHAUSTED', 'no default address pools are configured');
  });
});

describe('checkNoOverlap', () => {
  const existing = [
    { name: 'front', subnet: '10.0.1.0/24' },
    { name: 'back', subnet: '172.18.0.0/16' },
  ];

  it('accepts a disjoint subnet', () => {
    expect(() => checkNoOverlap('10.0.2.0/24', existing)).not.toThrow();
    expect(() => checkNoOverlap('10.0.0.0/24', existing)).not.toThrow();
  });

  it('refuses a subnet containing another network', () => {
    const e = expectTsnError(() => checkNoOverlap('10.0.0.0/16', existing), 'ERR_SUBNET_OVERLAP', "subnet 10.0.0.0/16 overlaps network 'front' (10.0.1.0/24)");
    expect(e.status).toBe(409);
    expect(e.details).toEqual({ subnet: '10.0.0.0/16', network: 'front', networkSubnet: '10.0.1.0/24' });
  });

  it('refuses a subnet inside another network', () => {
    expectTsnError(() => checkNoOverlap('172.18.3.0/24', existing), 'ERR_SUBNET_OVERLAP', "subnet 172.18.3.0/24 overlaps network 'back' (172.18.0.0/16)");
  });

  it('refuses the same subnet', () => {
    expectTsnError(() => checkNoOverlap('10.0.1.0/24', existing), 'ERR_SUBNET_OVERLAP', "10.0.1.0/24 is already the subnet of network 'front'");
  });

  it('refuses a malformed subnet', () => {
    expectTsnError(() => checkNoOverlap('10.0.1.0/99', existing), 'ERR_BAD_CIDR', 'subnet "10.0.1.0/99"');
  });
});
