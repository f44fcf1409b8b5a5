/**
 * Baseline path "kernel": what Docker's bridge driver builds. A Linux bridge in a namespace of its own
 * (so nothing touches the host's), one veth pair per host: eth0 in the host namespace, the peer
 * enslaved to the bridge. The veth is made in place (`ip -n A link add eth0 type veth peer name pN
 * netns BR`), so no device ever appears in the real host namespace; deleting the namespaces deletes
 * the pairs. The switching runs in softirq, billed to no process: CPU is n/a.
 */
import { NO_CPU } from '../cpu-meter.js';
import type { BenchPath } from '../scenario.js';
import { run } from '../host-commands.js';
import { CLIENT, SERVER, configureLink, type HostPair } from './host-pair.js';

export const kernelBridgePath: BenchPath<HostPair> = {
  id: 'kernel',
  label: 'Linux bridge + veth',
  async build(ctx) {
    const br = await ctx.cleanup.netns(`tsnb-${ctx.tag}-kbr`);
    const clientNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-kc`);
    const serverNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-ks`);
    await run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    for (const [ns, host, peer] of [[clientNs, CLIENT, 'p0'], [serverNs, SERVER, 'p1']] as const) {
      await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', peer, 'netns', br]);
      await run('ip', ['-n', br, 'link', 'set', peer, 'master', 'br0', 'up']);
      await configureLink(ns, 'eth0', host.mac, host.ip);
    }
    return { clientNs, serverNs, clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: NO_CPU };
  },
};
