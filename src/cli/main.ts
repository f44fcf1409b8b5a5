/**
 * The tsnet-switch command. `daemon` runs the switch; every other command is a thin client of the
 * daemon's API socket (--socket PATH, or TSNET_SWITCH_SOCKET, default /run/tsnet-switch/api.sock),
 * with --json wherever it prints data. Errors name the bad value and what is accepted, and exit 1.
 */
import { Command, Option } from 'commander';
import { ApiClient, DEFAULT_SOCKET, socketPathFrom } from '../control/api-client.js';
import { TsnError } from '../errors.js';
import { parseTcpListenAddress } from '../control/tcp-listen-address.js';
import { registerBenchCommand } from './bench-command.js';
import { registerCaptureCommand } from './capture-command.js';
import { registerCniCommand } from './cni-command.js';
import { registerNetavarkCommand } from './netavark-command.js';
import { registerEmulateCommand } from './emulate-command.js';
import { registerOverlayFdbCommands } from './fdb-commands.js';
import { registerTraceCommand } from './trace-command.js';
import { bytes, table } from './format.js';
import { installGlobalOptions } from './global-options.js';
import { renderTemplate } from './go-template.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './completion-script.js';
import { registerLbCommands } from './lb-commands.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerTopCommand } from './top-command.js';
import { registerOverlayCommands } from './overlay-command.js';

const program = new Command();
program
  .name('tsnet-switch')
  .description('A userspace virtual switch for containers: bridge networks over TAP devices, switched in user space')
  .showHelpAfterError();
installGlobalOptions(program);

const socketOption = () => new Option('--socket <path>', `the daemon's API socket (env TSNET_SWITCH_SOCKET; default ${DEFAULT_SOCKET})`);
const client = (o: { socket?: string }) => new ApiClient(socketPathFrom(o.socket));
const collect = (v: string, prev: string[]) => [...prev, v];
const print = (json: boolean, data: unknown, text: () => string) => console.log(json ? JSON.stringify(data, null, 2) : text());
const formatOption = () => new Option('-f, --format <template>', "Go-template-like output, as docker's: '{{.Name}}', '{{.IPAM.Config}}', '{{json .}}', '{{range .Endpoints}}…{{end}}'");

function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(kv)}: expected KEY=VALUE`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** A repeatable address flag of `network create`: at most one IPv4 and one IPv6 value (Docker's dual-stack shape). */
function byFamily(list: string[], flag: string): [string | undefined, string | undefined] {
  const v6 = list.filter((v) => v.includes(':'));
  const v4 = list.filter((v) => !v.includes(':'));
  if (v4.length > 1 || v6.length > 1) throw new TsnError('ERR_BAD_OPTION', `${flag} ${list.join(' ')}: a network takes one IPv4 and one IPv6 ${flag.slice(2)} at most`);
  return [v4[0], v6[0]];
}

function intArg(v: string, flag: string): number {
  if (!/^\d+$/.test(v)) throw new TsnError('ERR_BAD_OPTION', `${flag} ${JSON.stringify(v)}: expected a whole number`);
  return Number(v);
}

program
  .command('daemon')
  .description('run the switch and serve the API (root)')
  .option('--state-dir <dir>', 'where state is persisted', '/var/lib/tsnet-switch')
  .addOption(socketOption())
  .option('--default-address-pool <base=CIDR,size=N>', 'pool for networks created without --subnet (repeatable; default: Docker\'s)', collect, [])
  .option('--busy-poll <us>', 'after a burst, keep polling the ports this many µs before sleeping (0 = off, at most 1000; env TSNET_SWITCH_BUSY_POLL; default 0)')
  .option('--lb-max-connections <n>', 'connections the load balancer tracks at most (default 1048576, about 57 bytes each)')
  .option('--cluster-store <etcd://HOST:PORT[,...]>', 'share overlay networks, addresses, endpoints and hosts through etcd (docs/overlay-etcd.md)')
  .option('--cluster-prefix <prefix>', 'key prefix in the store (default /tsnet)')
  .option('--host-id <id>', "this host's id in the cluster (default: made once, kept in the state dir)")
  .option('--advertise-addr <ip>', "this host's VTEP address (default: its only non-loopback IPv4 address)")
  .option('--cluster-ttl <seconds>', "the host's lease: its endpoints vanish from the others this long after it dies (default 15)")
  .option('--cluster-ca <file>', 'CA bundle to verify etcd with (TLS)')
  .option('--cluster-cert <file>', 'client certificate for etcd (TLS)')
  .option('--cluster-key <file>', 'client key for etcd (TLS)')
  .option('--docker-plugin <path|off>', 'serve the Docker network + IPAM driver `tsnet` on this socket (dockerd looks in /run/docker/plugins), or off', '/run/docker/plugins/tsnet.sock')
  .option('--docker-api <unix://path|off>', "dockerd's API, read to name Docker endpoints by their container (default unix:///var/run/docker.sock when it exists)")
  .option('--metrics-listen <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (off by default; e.g. 127.0.0.1:9477)')
  .option('--ui-listen <host:port>', 'serve the live, read-only page at http://HOST:PORT/ (off by default; bind it to loopback, e.g. 127.0.0.1:9480)')
  .action(async (o) => {
    const metricsListen = o.metricsListen !== undefined ? parseTcpListenAddress(o.metricsListen, '--metrics-listen') : undefined;
    const uiListen = o.uiListen !== undefined ? parseTcpListenAddress(o.uiListen, '--ui-listen') : undefined;
    const busyText = o.busyPoll ?? process.env.TSNET_SWITCH_BUSY_POLL;
    const busyPoll = busyText !== undefined ? Number(busyText) : undefined;
    if (busyPoll !== undefined && !(/^\d+$/.test(String(busyText).trim()) && busyPoll <= 1000)) {
      throw new TsnError('ERR_BAD_OPTION', `--busy-poll ${JSON.stringify(busyText)}: expected whole microseconds from 0 (off) to 1000`);
    }
    const lbMax = o.lbMaxConnections !== undefined ? intArg(o.lbMaxConnections, '--lb-max-connections') : undefined;
    if (lbMax !== undefined && (lbMax < 1 || lbMax > 1 << 24)) throw new TsnError('ERR_BAD_OPTION', `--lb-max-connections ${lbMax}: expected 1 to ${1 << 24}`);
    const clusterFlags = ['clusterPrefix', 'hostId', 'advertiseAddr', 'clusterTtl', 'clusterCa', 'clusterCert', 'clusterKey'].filter((k) => o[k] !== undefined);
    if (o.clusterStore === undefined && clusterFlags.length) throw new TsnError('ERR_BAD_OPTION', `${clusterFlags.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} need --cluster-store etcd://HOST:PORT`);
    const cluster = o.clusterStore !== undefined ? { clusterStore: o.clusterStore, clusterPrefix: o.clusterPrefix, hostId: o.hostId, advertiseAddr: o.advertiseAddr, clusterTtl: o.clusterTtl, clusterCa: o.clusterCa, clusterCert: o.clusterCert, clusterKey: o.clusterKey } : undefined;
    // Loaded here, not at the top: no other command needs the data plane or the daemon.
    const { runDaemon } = await import('./daemon-command.js');
    await runDaemon({ stateDir: o.stateDir, socket: socketPathFrom(o.socket), defaultAddressPool: o.defaultAddressPool, lbMaxConnections: lbMax, busyPoll, cluster, dockerPlugin: o.dockerPlugin === 'off' ? null : o.dockerPlugin, dockerApi: o.dockerApi, metricsListen, uiListen });
  });

const network = program.command('network').description('manage networks');

network
  .command('create')
  .description('create a network')
  .argument('<name>')
  .addOption(new Option('-d, --driver <driver>', 'network driver').choices(['bridge', 'null', 'overlay', 'macvlan', 'ipvlan']).default('bridge'))
  .option('--subnet <cidr>', 'subnet (default: the first free default pool); with --ipv6 once more for the IPv6 subnet', collect, [])
  .option('--gateway <ip>', 'gateway address (default: the first host); one per family', collect, [])
  .option('--ip-range <cidr>', 'allocate container addresses from this sub-range; one per family', collect, [])
  .option('--ipv6', 'dual stack: an IPv6 subnet too (give it with --subnet fd00:1::/64); bridge networks')
  .option('--aux-address <name=ip>', 'reserve an address (repeatable)', collect, [])
  .option('--mtu <n>', 'MTU of the network\'s interfaces')
  .option('-o, --opt <key=value>', 'driver option: icc=true|false, internal=true|false, bridge.name=NAME; overlay: vni=N, vtep=LOCAL_IP (IPv4 or IPv6), peers=IP[,IP...] (the vtep family), port=4789, learning=true|false; macvlan/ipvlan: parent=IFACE, mode=bridge|private|vepa|passthru (ipvlan: l2), host_shim=IP, host_shim.name=NAME (repeatable)', collect, [])
  .option('--force', 'create it even if a device of the host holds or routes the subnet')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (name: string, o) => {
    const [subnet, subnet6] = byFamily(o.subnet, '--subnet');
    const [gateway, gateway6] = byFamily(o.gateway, '--gateway');
    const [ipRange, ipRange6] = byFamily(o.ipRange, '--ip-range');
    const body = {
      name,
      force: o.force ? true : undefined,
      driver: o.driver,
      subnet,
      gateway,
      ipRange,
      ...(o.ipv6 ? { ipv6: true } : {}),
      subnet6,
      gateway6,
      ipRange6,
      auxAddresses: o.auxAddress.length ? keyValues(o.auxAddress, '--aux-address') : undefined,
      mtu: o.mtu !== undefined ? intArg(o.mtu, '--mtu') : undefined,
      options: o.opt.length ? keyValues(o.opt, '-o') : undefined,
    };
    const r = await client(o).call<{ id: string }>('POST', '/v1/networks', body);
    print(o.json, r, () => r.id);
  });

network
  .command('ls')
  .description('list networks')
  .option('--json', 'print JSON')
  .addOption(formatOption())
  .addOption(socketOption())
  .action(async (o) => {
    const r = await client(o).call<{ id: string; name: string; driver: string; subnet: string | null; gateway: string | null; endpoints: number; internal: boolean }[]>('GET', '/v1/networks');
    // docker network ls --format names its fields ID, Name, Driver…; one line per network.
    if (o.format !== undefined) {
      const rows = r.map((n) => ({ ID: n.id, Name: n.name, Driver: n.driver, Subnet: n.subnet, Gateway: n.gateway, Endpoints: n.endpoints, Internal: n.internal }));
      return void process.stdout.write(rows.map((n) => `${renderTemplate(o.format, n)}\n`).join(''));
    }
    print(o.json, r, () => table(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'ENDPOINTS'], r.map((n) => [n.id, n.name, n.driver, n.subnet, n.gateway, n.endpoints])));
  });

network
  .command('inspect')
  .description('show a network as JSON: IPAM, options, endpoints with MAC and IP')
  .argument('<name>')
  .option('--json', 'print JSON (the default: a no-op, accepted for scripts)')
  .addOption(formatOption())
  .addOption(socketOption())
  .action(async (name: string, o) => {
    const r = await client(o).call('GET', `/v1/networks/${encodeURIComponent(name)}`);
    if (o.format !== undefined) return void process.stdout.write(`${renderTemplate(o.format, r)}\n`);
    console.log(JSON.stringify([r], null, 2));
  });

network
  .command('rm')
  .description('remove a network (refused while endpoints are connected, unless --force)')
  .argument('<name>')
  .option('-f, --force', 'disconnect its endpoints first')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (name: string, o) => {
    await client(o).call('DELETE', `/v1/networks/${encodeURIComponent(name)}${o.force ? '?force=1' : ''}`);
    print(o.json, { name, removed: true }, () => name);
  });

const uplink = network.command('uplink').description("a host interface as a port of a bridge network (Docker's brctl addif): add, rm");
uplink
  .command('add')
  .description('make IFACE (a NIC, veth, bond, VLAN of the host) a port of bridge network NETWORK: promiscuous, learned, loops watched')
  .argument('<network>')
  .argument('<iface>')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (net: string, iface: string, o) => {
    const r = await client(o).call('POST', `/v1/networks/${encodeURIComponent(net)}/uplinks`, { interface: iface });
    print(o.json, r, () => `${net}: uplink ${iface} added`);
  });
uplink
  .command('rm')
  .description('IFACE stops being a port of NETWORK (the interface stays the host\'s)')
  .argument('<network>')
  .argument('<iface>')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (net: string, iface: string, o) => {
    const r = await client(o).call('DELETE', `/v1/networks/${encodeURIComponent(net)}/uplinks/${encodeURIComponent(iface)}`);
    print(o.json, r, () => `${net}: uplink ${iface} removed`);
  });

program
  .command('connect')
  .description('connect a sandbox (network namespace) to a network')
  .argument('<network>')
  .option('--netns <name|path>', 'a name under /var/run/netns, or a path to a namespace file')
  .option('--pid <pid>', 'a process inside the sandbox (e.g. docker inspect -f {{.State.Pid}} C)')
  .option('--ip <ip>', 'static address (default: allocated)')
  .option('--ip6 <ip>', 'static IPv6 address on a dual-stack network (default: allocated)')
  .option('--mac <mac>', 'MAC address (default: 02:42 + the IPv4 address)')
  .option('--ifname <name>', 'interface name inside the sandbox', 'eth0')
  .option('-p, --publish <hostport:port[/proto]>', 'forward HOSTPORT of the host to PORT of the endpoint, tcp or udp (repeatable)', collect, [])
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (net: string, o) => {
    const body = { netns: o.netns, pid: o.pid !== undefined ? intArg(o.pid, '--pid') : undefined, ip: o.ip, ip6: o.ip6, mac: o.mac, ifname: o.ifname, ...(o.publish.length ? { publish: o.publish } : {}) };
    const r = await client(o).call<{ id: string; ifname: string; mac: string; ip: string | null; prefixLen: number | null }>('POST', `/v1/networks/${encodeURIComponent(net)}/connect`, body);
    print(o.json, r, () => `${r.id}  ${r.ifname}  ${r.mac}  ${r.ip ? `${r.ip}/${r.prefixLen}` : '-'}`);
  });

program
  .command('disconnect')
  .description('disconnect an endpoint (its id, netns name or interface name): the device goes, the address is released')
  .argument('<network>')
  .argument('<endpoint>')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (net: string, endpoint: string, o) => {
    const r = await client(o).call<{ id: string }>('POST', `/v1/networks/${encodeURIComponent(net)}/disconnect`, { endpoint });
    print(o.json, r, () => r.id);
  });

const fdb = program.command('fdb').description('forwarding database');
fdb
  .command('show')
  .description('MAC, port, static/learned, age')
  .argument('[network]')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (net: string | undefined, o) => {
    const q = net ? `?network=${encodeURIComponent(net)}` : '';
    const r = await client(o).call<{ network: string; mac: string; port: string; type: string; ageSeconds: number | null; vtep?: string | null; host?: string | null }[]>('GET', `/v1/fdb${q}`);
    // type `store`: installed from the cluster store, with the host the MAC lives on.
    print(o.json, r, () => table(['NETWORK', 'MAC', 'PORT', 'TYPE', 'AGE', 'VTEP'], r.map((e) => [e.network, e.mac, e.port, e.host ? `${e.type} (${e.host})` : e.type, e.ageSeconds === null ? null : `${e.ageSeconds}s`, e.vtep ?? null])));
  });
registerOverlayFdbCommands(fdb, socketOption, client);

program
  .command('stats')
  .description('per-port and per-network counters, drops by reason')
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (o) => {
    type PortRow = { network: string; port: string; rxPackets: number; rxBytes: number; txPackets: number; txBytes: number; drops: Record<string, number> };
    const r = await client(o).call<{ ports: PortRow[]; vteps?: (Omit<PortRow, 'network' | 'port'> & { vtep: string })[] }>('GET', '/v1/stats');
    const drops = (d: Record<string, number>) => Object.entries(d).map(([k, v]) => `${k}=${v}`).join(',') || '0';
    // VTEP sockets (overlay) belong to no network: their rows count datagrams, and drops before a VNI is known.
    const vteps = (r.vteps ?? []).map((v) => ['-', `vtep ${v.vtep}`, v.rxPackets, bytes(v.rxBytes), v.txPackets, bytes(v.txBytes), drops(v.drops)]);
    print(o.json, r, () =>
      table(
        ['NETWORK', 'PORT', 'RX PKTS', 'RX BYTES', 'TX PKTS', 'TX BYTES', 'DROPS'],
        [...r.ports.map((p) => [p.network, p.port, p.rxPackets, bytes(p.rxBytes), p.txPackets, bytes(p.txBytes), drops(p.drops)]), ...vteps],
      ),
    );
  });

registerLbCommands(program);
registerClusterCommands(program, socketOption, client);
registerDoctorCommand(program, socketOption, client);
registerTopCommand(program, socketOption, client);

program
  .command('ui')
  .description("print the address of the daemon's live page (daemon --ui-listen), with the token its capture and trace actions need")
  .option('--json', 'print JSON')
  .addOption(socketOption())
  .action(async (o) => {
    const r = await client(o).call<{ url: string | null; token?: string; open?: string }>('GET', '/v1/ui');
    if (!r.url) throw new TsnError('ERR_BAD_OPTION', 'the daemon serves no page: start it with --ui-listen 127.0.0.1:9480');
    print(o.json, r, () => r.open!);
  });
registerOverlayCommands(program, socketOption, client);

registerCaptureCommand(program);
registerTraceCommand(program);
registerEmulateCommand(program);
registerBenchCommand(program);
registerCniCommand(program);
registerNetavarkCommand(program);

// The script is written when the command runs, so it knows every command registered anywhere.
program
  .command('completion')
  .description('print a shell completion script: source <(tsnet-switch completion bash)')
  .argument('<shell>', COMPLETION_SHELLS.join('|'))
  .action((shell: string) => {
    if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) throw new TsnError('ERR_BAD_OPTION', `completion ${JSON.stringify(shell)}: expected ${COMPLETION_SHELLS.join(' or ')}`);
    process.stdout.write(completionScript(program, shell as CompletionShell));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { message?: string };
  process.stderr.write(`tsnet-switch: error: ${e?.message ?? String(err)}\n`);
  process.exit(1);
});
