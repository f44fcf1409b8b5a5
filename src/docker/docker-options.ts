/**
 * Docker's network options, as libnetwork hands them to a remote driver's CreateNetwork, mapped to a
 * tsnet network request. `-o KEY=VALUE` of `docker network create` arrives under
 * com.docker.network.generic; `--internal` and `--ipv6` as their own labels (with `--ipv6`, IPv6Data's
 * one pool is the network's IPv6 subnet: a dual-stack network, control/dual-stack.ts; the ip-ranges,
 * which IPv4Data/IPv6Data do not repeat, come from our IPAM driver's pending pools). Our own keys:
 * `tsnet.driver` (bridge, macvlan, ipvlan, overlay) and `tsnet.name` (the tsnet network's name; by
 * default the first 12 hex digits of Docker's network id, as `docker network ls` shows it). Every other
 * key goes to the daemon, which knows Docker's names where they mean the same as ours and refuses the
 * rest with the list of accepted keys.
 */
import { TsnError } from '../errors.js';
import type { CreateNetworkRequest } from '../control/daemon.js';
import { DRIVERS, type DriverName } from '../control/model.js';

export const GENERIC = 'com.docker.network.generic';
const ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
const INTERNAL = 'com.docker.network.internal';
const MASQUERADE_KEYS = ['masquerade', 'com.docker.network.bridge.enable_ip_masquerade'];

export interface DockerIpamData {
  AddressSpace?: string;
  Pool?: string;
  Gateway?: string;
  AuxAddresses?: Record<string, string> | null;
}

const stripPrefix = (cidrOrIp: string) => cidrOrIp.split('/')[0];

export function networkRequestFromDocker(body: { NetworkID: string; Options?: Record<string, unknown> | null; IPv4Data?: DockerIpamData[] | null; IPv6Data?: DockerIpamData[] | null }, ipRangeOf: (subnet: string) => string | null): CreateNetworkRequest & { docker: { networkId: string } } {
  const opts = body.Options ?? {};
  const generic: Record<string, string> = {};
  for (const [k, v] of Object.entries((opts[GENERIC] as Record<string, unknown> | undefined) ?? {})) generic[k] = String(v);
  // --ipv6: a dual-stack network (control/dual-stack.ts checks the rest: a subnet, a driver that has IPv6).
  const ipv6 = opts[ENABLE_IPV6] === true || opts[ENABLE_IPV6] === 'true';
  const v6 = body.IPv6Data ?? [];
  if (v6.length > 1) throw new TsnError('ERR_BAD_OPTION', `${v6.length} IPv6 subnets (${v6.map((d) => d.Pool).join(', ')}): a tsnet network has one; give one IPv6 --subnet`);
  const v4 = body.IPv4Data ?? [];
  if (v4.length > 1) throw new TsnError('ERR_BAD_OPTION', `${v4.length} IPv4 subnets (${v4.map((d) => d.Pool).join(', ')}): a tsnet network has one; give one --subnet`);
  const { 'tsnet.driver': driverOpt, 'tsnet.name': nameOpt, ...rest } = generic;
  const driver = (driverOpt ?? 'bridge') as DriverName;
  if (!DRIVERS.includes(driver) || driver === 'null') {
    throw new TsnError('ERR_BAD_OPTION', `-o tsnet.driver=${driverOpt}: expected one of ${DRIVERS.filter((d) => d !== 'null').join(', ')}`);
  }
  if (opts[INTERNAL] === true || opts[INTERNAL] === 'true') rest.internal = 'true';
  // Docker's bridge masquerades by default; so do networks made through Docker (the CLI's default is off).
  if (driver === 'bridge' && !MASQUERADE_KEYS.some((k) => k in rest)) rest.masquerade = 'true';
  const d = v4[0];
  const subnet = d?.Pool || undefined;
  const aux: Record<string, string> = {};
  for (const [k, v] of Object.entries(d?.AuxAddresses ?? {})) aux[k] = stripPrefix(v);
  const d6 = v6[0];
  for (const [k, v] of Object.entries(d6?.AuxAddresses ?? {})) aux[k] = stripPrefix(v);
  return {
    name: nameOpt ?? body.NetworkID.slice(0, 12),
    driver,
    subnet,
    gateway: d?.Gateway ? stripPrefix(d.Gateway) : undefined,
    ipRange: subnet ? (ipRangeOf(subnet) ?? undefined) : undefined,
    auxAddresses: Object.keys(aux).length ? aux : undefined,
    ...(ipv6 || d6 ? { ipv6, subnet6: d6?.Pool || undefined, gateway6: d6?.Gateway ? stripPrefix(d6.Gateway) : undefined, ipRange6: d6?.Pool ? (ipRangeOf(d6.Pool) ?? undefined) : undefined } : {}),
    options: rest,
    docker: { networkId: body.NetworkID },
  };
}
