/**
 * The macvlan family's topology: a container with an address on the LAN of its host's parent NIC.
 *
 *   LAN host ─veth─ p0 (the parent, in the host namespace) ─ macvlan child ─ the container
 *
 * Three namespaces: "lan" holds the outside host (lan0, 10.88.0.1), "host" the parent p0 (the other
 * end of that veth pair, made in place), "ctr" the container (10.88.0.2). The child is
 *   kernel: a macvlan device on p0, mode bridge, moved into the container — Docker's macvlan driver;
 *   tsnet:  an AF_PACKET uplink on p0 (PacketPort, unicast MAC membership and a socket filter) and a
 *           TAP in the container, joined by a tsnet-switch macvlan network (bridge mode) in this
 *           process, as the macvlan driver wires it (parent-network-setup.ts); CPU: this process.
 */
import { addParentMember, createParentNetwork, removeParentNetwork } from '../../dataplane/parent-network-setup.js';
import { PacketPort } from '../../dataplane/ports/packet-port.js';
import { TapPort } from '../../dataplane/ports/tap-port.js';
import { parseMac } from '../../packet/mac.js';
import { NO_CPU } from '../cpu-meter.js';
import { netnsPath, run } from '../host-commands.js';
import type { BenchPath, BuildContext } from '../scenario.js';
import { configureLink, type HostPair } from './host-pair.js';

const LAN = { ip: '10.88.0.1', mac: '02:42:0a:58:00:01' };
const CONTAINER = { ip: '10.88.0.2', mac: '02:42:0a:58:00:02' };

async function lanAndParent(ctx: BuildContext): Promise<{ host: string; lan: string; ctr: string }> {
  const host = await ctx.cleanup.netns(`tsnb-${ctx.tag}-host`);
  const lan = await ctx.cleanup.netns(`tsnb-${ctx.tag}-lan`);
  const ctr = await ctx.cleanup.netns(`tsnb-${ctx.tag}-ctr`);
  await run('ip', ['-n', host, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lan]);
  await run('ip', ['-n', host, 'link', 'set', 'dev', 'p0', 'up']);
  await configureLink(lan, 'lan0', LAN.mac, LAN.ip);
  return { host, lan, ctr };
}

function pair(lan: string, ctr: string, cpu: HostPair['cpu']): HostPair {
  return { clientNs: lan, serverNs: ctr, clientIp: LAN.ip, serverIp: CONTAINER.ip, cpu };
}

export const kernelMacvlanPath: BenchPath<HostPair> = {
  id: 'kernel',
  label: 'Linux macvlan (bridge mode)',
  async build(ctx) {
    const { host, lan, ctr } = await lanAndParent(ctx);
    await run('ip', ['-n', host, 'link', 'add', 'mv0', 'link', 'p0', 'type', 'macvlan', 'mode', 'bridge']);
    await run('ip', ['-n', host, 'link', 'set', 'dev', 'mv0', 'netns', ctr]);
    await configureLink(ctr, 'mv0', CONTAINER.mac, CONTAINER.ip);
    return pair(lan, ctr, NO_CPU);
  },
};

export const tsnetMacvlanPath: BenchPath<HostPair> = {
  id: 'tsnet',
  label: 'tsnet-switch, AF_PACKET + TAP',
  async build(ctx) {
    const { host, lan, ctr } = await lanAndParent(ctx);
    const engine = ctx.engine();
    const uplink = PacketPort.open('p0', { netns: netnsPath(host) });
    let net: ReturnType<typeof createParentNetwork>;
    try {
      net = createParentNetwork(engine, `bench-mv-${ctx.tag}`, uplink, { kind: 'macvlan', mode: 'bridge', parentMac: uplink.parentMac });
    } catch (err) {
      uplink.close();
      throw err;
    }
    ctx.cleanup.defer(`macvlan network bench-mv-${ctx.tag}`, () => removeParentNetwork(engine, net));
    const mac = parseMac(CONTAINER.mac);
    const tap = TapPort.open('eth0', { ownMac: mac, netns: netnsPath(ctr) });
    try {
      addParentMember(engine, net, tap, { mac });
    } catch (err) {
      tap.close();
      throw err;
    }
    await configureLink(ctr, 'eth0', CONTAINER.mac, CONTAINER.ip);
    return pair(lan, ctr, { self: true });
  },
};
