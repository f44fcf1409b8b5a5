/**
 * `tsnet-switch cluster ls` (hosts, VTEPs, lease age, endpoints per host; hosts gone but still
 * holding addresses) and `cluster gc HOST` (release a dead host's address claims), for a daemon
 * started with --cluster-store.
 */
import type { Command, Option } from 'commander';
import type { ApiClient } from '../control/api-client.js';
import { table } from './format.js';

interface ClusterLs {
  store: string;
  link: string;
  lastError?: string;
  host: string;
  revision: number;
  ttlSeconds: number;
  hosts: { id: string; vtep: string; port: number; underlayMtu: number; self: boolean; leaseAgeSeconds: number | null; leaseTtlSeconds: number | null; endpoints: number; clockOffsetMs: number | null }[];
  departed: { id: string; addresses: number }[];
  networks: { id: string; name: string; vni: number; subnet: string; endpoints: number }[];
}

export function registerClusterCommands(program: Command, socketOption: () => Option, client: (o: { socket?: string }) => ApiClient): void {
  const cluster = program.command('cluster').description('the cluster store (daemon --cluster-store): hosts, their VTEPs and leases');
  cluster
    .command('ls')
    .description('hosts with their VTEP, lease age, endpoints and clock offset from this host; hosts gone that still hold addresses')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (o) => {
      const r = await client(o).call<ClusterLs>('GET', '/v1/cluster');
      if (o.json) return console.log(JSON.stringify(r, null, 2));
      const head = `store ${r.store} (${r.link}${r.lastError ? `: ${r.lastError}` : ''}), this host ${r.host}, revision ${r.revision}, lease TTL ${r.ttlSeconds}s`;
      const hosts = table(
        ['HOST', 'VTEP', 'MTU', 'LEASE AGE', 'LEASE LEFT', 'ENDPOINTS', 'CLOCK'],
        r.hosts.map((h) => [`${h.id}${h.self ? ' *' : ''}`, `${h.vtep}:${h.port}`, h.underlayMtu, h.leaseAgeSeconds === null ? null : `${h.leaseAgeSeconds}s`, h.leaseTtlSeconds === null ? null : `${h.leaseTtlSeconds}s`, h.endpoints, h.clockOffsetMs === null ? null : `${h.clockOffsetMs >= 0 ? '+' : ''}${(h.clockOffsetMs / 1000).toFixed(1)}s`]),
      );
      const gone = r.departed.length ? `\ngone, still holding addresses (tsnet-switch cluster gc HOST):\n${table(['HOST', 'ADDRESSES'], r.departed.map((d) => [d.id, d.addresses]))}` : '';
      console.log(`${head}\n${hosts}${gone}`);
    });
  cluster
    .command('gc')
    .description("release the address claims of a host that is gone (refused while its lease lives)")
    .argument('<host>')
    .option('--json', 'print JSON')
    .addOption(socketOption())
    .action(async (host: string, o) => {
      const r = await client(o).call<{ host: string; addresses: string[]; endpoints: number }>('POST', '/v1/cluster/gc', { host });
      console.log(o.json ? JSON.stringify(r, null, 2) : `${r.host}: released ${r.addresses.length} address(es)${r.addresses.length ? ` (${r.addresses.join(', ')})` : ''}, ${r.endpoints} endpoint key(s)`);
    });
}
