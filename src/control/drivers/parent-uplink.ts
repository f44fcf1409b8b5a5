/**
 * A host interface as a port of the switch: the AF_PACKET uplink (PacketPort) of a macvlan/ipvlan
 * network's parent, or of a bridge network's `-o parent=` (a NIC on the bridge, as `brctl addif`).
 * What both need: opening it with errors that name the interface and the fix, and a watchdog that
 * survives the interface going down and up (the kernel re-hooks the socket by itself) or being deleted
 * and made again under the same name (a new socket: `reopen`).
 */
import { PacketPort } from '../../dataplane/ports/packet-port.js';
import { TsnError } from '../../errors.js';
import { parentLink } from '../parent-network-options.js';

const WATCHDOG_MS = 1000;

function errCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

/** Open the uplink on `parent` in the host namespace; `role` names what it is for in errors ("macvlan and ipvlan need"). */
export function openParentUplink(parent: string, hostNetns: string | null, role: string): PacketPort {
  try {
    return PacketPort.open(parent, { netns: hostNetns ?? undefined });
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENODEV') {
      throw new TsnError('ERR_NO_SUCH_PARENT', `parent interface ${JSON.stringify(parent)} does not exist in the host namespace: give -o parent= an existing interface (ip link show)`);
    }
    if (code === 'EPROTONOSUPPORT') {
      throw new TsnError('ERR_BAD_OPTION', `parent interface ${parent} is not an Ethernet device: ${role} an Ethernet parent (a NIC, veth, bond, VLAN, bridge)`);
    }
    throw err;
  }
}

/** Once a second: the parent's presence and state; a parent made again gets a new socket. */
export class ParentWatch {
  /** The parent is up (as last seen). */
  up: boolean;
  /** The parent is gone (deleted); the socket waits for one of the same name. */
  missing = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly uplink: PacketPort,
    private readonly parent: string,
    private readonly hostNetns: string | null,
    /** "network NAME" for the log lines. */
    private readonly owner: string,
    private readonly log: (msg: string) => void,
    initiallyUp: boolean,
    /** After a successful reopen (the macvlan driver follows a changed parent MAC). */
    private readonly onReopen: () => void = () => undefined,
  ) {
    this.up = initiallyUp;
    this.timer = setInterval(() => this.check(), WATCHDOG_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const u = this.uplink;
    if (u.id < 0) return; // the switch is shutting down, or the network is going
    try {
      u.collectKernelDrops();
    } catch {
      /* a dead socket: handled below */
    }
    let link: ReturnType<typeof parentLink>;
    try {
      link = parentLink(this.parent, this.hostNetns);
    } catch (err) {
      if (!this.missing) this.log(`${this.owner}: parent ${this.parent} is gone (${(err as Error).message}); waiting for it to come back`);
      this.missing = true;
      u.gone = true;
      this.up = false;
      return;
    }
    if (link.up !== this.up) this.log(`${this.owner}: parent ${this.parent} is ${link.up ? 'up' : 'down'}`);
    this.up = link.up;
    // Reopen a socket that is dead (parent deleted), bound to an index that is no longer the parent's,
    // or no longer read (the engine stopped it after an unexpected read error).
    if (this.missing || u.gone || link.index !== u.ifindex || !u.isWatching) {
      try {
        u.reopen();
        this.missing = false;
        this.onReopen();
        this.log(`${this.owner}: parent ${this.parent} is back (ifindex ${u.ifindex}); uplink reopened`);
      } catch (err) {
        this.log(`${this.owner}: parent ${this.parent}: could not reopen the uplink: ${(err as Error).message}`);
      }
    }
  }
}
