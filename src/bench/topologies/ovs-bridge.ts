/**
 * Path "ovs": the two hosts on an Open vSwitch bridge with the userspace datapath (datapath_type=netdev,
 * NORMAL action = MAC learning), ports of type=tap with userspace TSO. OVS creates each TAP in its own
 * namespace; it is moved into the host's namespace and configured there (OVS keeps using its fd, and
 * logs that it can no longer query the device by name, which is harmless). `del-br` at teardown closes
 * the fds, which removes the TAPs. CPU: ovs-vswitchd's, from /proc/PID/stat.
 */
import type { BenchPath } from '../scenario.js';
import { run } from '../host-commands.js';
import { CLIENT, SERVER, configureLink, type HostPair } from './host-pair.js';
import { ovsUnavailable } from './ovs-userspace.js';

export const ovsBridgePath: BenchPath<HostPair> = {
  id: 'ovs',
  label: 'Open vSwitch userspace, TAP + TSO',
  unavailable: () => {
    const why = ovsUnavailable();
    return why && `Open vSwitch path skipped: ${why}`;
  },
  async build(ctx) {
    const ovs = await ctx.ovs();
    const clientNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-oc`);
    const serverNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-os`);
    const br = ovs.nextBridgeName();
    ctx.cleanup.defer(`ovs bridge ${br}`, () => ovs.vsctl(['--if-exists', 'del-br', br]).then(() => undefined));
    await ovs.vsctl(['add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev']);
    for (const [ns, host, side] of [[clientNs, CLIENT, 'c'], [serverNs, SERVER, 's']] as const) {
      const tap = `${br}${side}`;
      await ovs.vsctl(['add-port', br, tap, '--', 'set', 'Interface', tap, 'type=tap']);
      await run('ip', ['-n', ovs.netns, 'link', 'set', 'dev', tap, 'netns', ns]);
      await configureLink(ns, tap, host.mac, host.ip);
    }
    return { clientNs, serverNs, clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: { pids: [ovs.pid] } };
  },
};
