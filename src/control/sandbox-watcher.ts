/**
 * SandboxWatcher: endpoints whose sandbox went away are released (address, port, record) within a
 * tick, however they were attached (`connect --netns/--pid`, Docker, a CNI runtime). A few hundred
 * `docker run --rm` must not exhaust a /24, nor leave ports in `stats`.
 *
 * Two signs, checked every tick for every endpoint with a TAP:
 *  1. The device is gone: TUNGETIFF on the port's descriptor fails with EBADFD once the kernel has
 *     deleted the device (`ip link del`, or its namespace destroyed). One ioctl, no netlink. This is the
 *     only sign for a TAP that a runtime moved into the sandbox (our descriptor does not hold the
 *     sandbox's namespace, so the namespace dies with its container and takes the device along).
 *  2. The sandbox is unreachable: its name (the netns file, /proc/PID/ns/net, Docker's SandboxKey) no
 *     longer leads to the namespace the device is in (TUNGETDEVNETNS gives that namespace; a namespace
 *     file's inode is its id) AND no process lives in that namespace any more (/proc/PID/ns/net of
 *     every process, read only when a name went). A TAP made inside the sandbox pins its namespace (the tun descriptor holds a
 *     reference), so sign 1 alone would never fire for it: the container is gone, the namespace lives
 *     on for our descriptor only. Releasing closes the descriptor and the namespace goes with it.
 * The same tick follows the moves of runtime-moved TAPs (src/control/runtime-moved-tap.ts).
 */
import { readdirSync, statSync } from 'node:fs';
import { TapPort } from '../dataplane/ports/tap-port.js';
import type { Daemon } from './daemon.js';
import { learnMove } from './runtime-moved-tap.js';

function nsInode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** The network namespaces (inodes) some process is in now. */
function namespacesWithProcesses(): Set<number> {
  const live = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const ino = nsInode(`/proc/${name}/ns/net`);
    if (ino !== null) live.add(ino);
  }
  return live;
}

export class SandboxWatcher {
  private timer: NodeJS.Timeout | null = null;
  /** Endpoints released so far (for the log and tests). */
  released = 0;

  constructor(private readonly daemon: Daemon) {}

  start(intervalMs = 250): void {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  tick(): void {
    let live: Set<number> | null = null;
    const gone: { networkId: string; endpointId: string; why: string }[] = [];
    const moved: { network: string; endpointId: string }[] = [];
    for (const { network, endpoint } of this.daemon.endpointRuntimes()) {
      const rec = endpoint.record;
      const port = endpoint.port;
      if (!(port instanceof TapPort) || !port.isOpen) continue;
      const name = port.deviceName();
      const devNs = name === null ? null : port.netnsInode();
      if (name === null || devNs === null) {
        gone.push({ networkId: network.record.id, endpointId: rec.id, why: `its interface ${rec.ifname} is gone` });
        continue;
      }
      if (rec.hostSide) {
        if (learnMove(rec, name)) moved.push({ network: network.record.name, endpointId: rec.id });
        if (!rec.hostSide.moved) {
          // Back under its source name while the sandbox it was in is gone: the runtime took it back
          // from a container it could not tell us about (libnetwork, with the daemon down). Otherwise
          // (before Join, between Leave and DeleteEndpoint) the runtime owns it: only sign 1 applies.
          const key = rec.hostSide.sandboxKey;
          if (rec.hostSide.returned && key && nsInode(key) === null) gone.push({ networkId: network.record.id, endpointId: rec.id, why: `its sandbox ${key} is gone and the runtime took the interface back` });
          continue;
        }
      }
      if (nsInode(rec.sandboxPath) === devNs) continue; // its name still leads to it
      live ??= namespacesWithProcesses();
      if (!live.has(devNs)) gone.push({ networkId: network.record.id, endpointId: rec.id, why: `its sandbox ${rec.sandboxPath} is gone (no name and no process left in it)` });
    }
    for (const m of moved) {
      try {
        this.daemon.updateEndpoint(m.network, m.endpointId, {});
      } catch (err) {
        this.daemon.log(`watcher: endpoint ${m.endpointId}: ${(err as Error).message}`);
      }
    }
    for (const g of gone) {
      this.daemon.releaseGone(g.networkId, g.endpointId, g.why);
      this.released++;
    }
  }
}
