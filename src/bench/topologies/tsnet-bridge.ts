/**
 * Path "tsnet": the same two hosts on a tsnet-switch L2 domain, as the bridge driver plumbs them. Each
 * host's eth0 is a TAP that the switch owns, made directly inside the host's namespace (TapPort.open
 * with netns), with the virtio-net header and TSO/checksum offloads, and port security on its MAC.
 * The switch is the run's SwitchEngine on this process's event loop, so its CPU is this process's.
 */
import { parseMac } from '../../packet/mac.js';
import { TapPort } from '../../dataplane/ports/tap-port.js';
import type { BenchPath } from '../scenario.js';
import { netnsPath } from '../host-commands.js';
import { CLIENT, SERVER, configureLink, type HostPair } from './host-pair.js';

export const tsnetBridgePath: BenchPath<HostPair> = {
  id: 'tsnet',
  label: 'tsnet-switch, TAP',
  async build(ctx) {
    const clientNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-tc`);
    const serverNs = await ctx.cleanup.netns(`tsnb-${ctx.tag}-ts`);
    const engine = ctx.engine();
    const domain = engine.createDomain(`bench-${ctx.tag}`);
    ctx.cleanup.defer(`switch domain bench-${ctx.tag}`, () => engine.removeDomain(domain));
    for (const [ns, host] of [[clientNs, CLIENT], [serverNs, SERVER]] as const) {
      const port = TapPort.open('eth0', { netns: netnsPath(ns), ownMac: parseMac(host.mac) });
      ctx.cleanup.defer(`TAP eth0 in ${ns}`, () => engine.removePort(port)); // no-op once the domain took it away
      try {
        engine.addPort(port, domain);
      } catch (err) {
        port.close();
        throw err;
      }
      await configureLink(ns, 'eth0', host.mac, host.ip);
    }
    return { clientNs, serverNs, clientIp: CLIENT.ip, serverIp: SERVER.ip, cpu: { self: true } };
  },
};
