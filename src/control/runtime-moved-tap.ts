/**
 * TAPs that a runtime moves into the sandbox itself. Docker's libnetwork asks a remote driver for an
 * interface in the host namespace (Join's SrcName), moves it into the container's namespace and renames
 * it (eth0, eth1…); on Leave it moves it back under SrcName. A TAP descriptor survives both moves, so
 * the port stays attached to the switch throughout; what the daemon must keep up with is *where the
 * device is*, for re-adoption after a restart (TUNSETIFF finds a device by name in the namespace the
 * descriptor is opened in) and for the sandbox-gone watcher.
 *
 *   placement()      where a driver makes or re-adopts the TAP of an endpoint record
 *   learnMove()      compare the device's name now (TUNGETIFF, one ioctl) with the record
 *   findInSandbox()  after a restart, the device under the name libnetwork gave it: the link in the
 *                    sandbox that carries the endpoint's address and MAC (rtnetlink, no text parsing)
 */
import { TsnError } from '../errors.js';
import type { EndpointRecord } from './model.js';
import { Rtnetlink } from './rtnetlink.js';

/** sandboxPath of a host-side endpoint not (or no longer) in its sandbox: the daemon's host namespace. */
export const HOST_SIDE = '';

export interface TapPlacement {
  /** Namespace file to make or find the device in; null: the daemon's host namespace. */
  netns: string | null;
  ifname: string;
  /** Configure address and default route (not for a device the runtime configures after its move). */
  configure: boolean;
}

/** The device's name in the sandbox whose link carries `ip` with `mac`, or null. */
export function findInSandbox(sandboxPath: string, ip: string | null, mac: string): string | null {
  if (!ip) return null;
  let nl: Rtnetlink;
  try {
    nl = Rtnetlink.open(sandboxPath);
  } catch {
    return null; // the sandbox is gone
  }
  try {
    for (const a of nl.addrList()) {
      if (a.address !== ip) continue;
      const info = nl.linkInfo(a.index);
      if (info.mac.toLowerCase() === mac.toLowerCase()) return info.name;
    }
    return null;
  } finally {
    nl.close();
  }
}

function linkExists(netns: string | null, ifname: string): boolean {
  try {
    const nl = Rtnetlink.open(netns ?? undefined);
    try {
      return nl.linkIndex(ifname) !== 0;
    } finally {
      nl.close();
    }
  } catch {
    return false;
  }
}

/**
 * Where the endpoint's TAP is made (new endpoint) or re-adopted (after a restart). An ordinary
 * endpoint's is in its sandbox; a host-side one's in the host namespace under srcName until it was
 * seen moved. Re-adoption looks where the record says first, then in the other place (the device may
 * have moved while the daemon was down), and updates the record to what it found.
 */
export function placement(ep: EndpointRecord, hostNetns: string | null, adopt: boolean): TapPlacement {
  const hs = ep.hostSide;
  if (!hs) return { netns: ep.sandboxPath, ifname: ep.ifname, configure: true };
  if (!adopt) return { netns: hostNetns, ifname: hs.srcName, configure: false };
  if (hs.moved && linkExists(ep.sandboxPath, ep.ifname)) return { netns: ep.sandboxPath, ifname: ep.ifname, configure: false };
  if (linkExists(hostNetns, hs.srcName)) {
    if (hs.moved) learnMove(ep, hs.srcName); // moved back while we were down: the record says where it is now
    return { netns: hostNetns, ifname: hs.srcName, configure: false };
  }
  const key = hs.sandboxKey;
  const name = key ? findInSandbox(key, ep.ip, ep.mac) : null;
  if (key && name) {
    hs.moved = true;
    ep.sandbox = { kind: 'path', path: key };
    ep.sandboxPath = key;
    ep.ifname = name;
    return { netns: key, ifname: name, configure: false };
  }
  throw new TsnError('ERR_DEVICE_GONE', `interface ${hs.srcName} is in neither the host namespace nor its sandbox${key ? ` ${key}` : ''}`);
}

/**
 * At start: the runtime took the TAP back out of the sandbox (libnetwork's Leave moves it back under
 * its source name) and so is done with the endpoint, but its DeleteEndpoint was lost while the daemon
 * was down — Docker retries a plugin for a while and then forgets the endpoint. Such an endpoint has
 * no container and would never be deleted: the daemon releases it. A TAP that was never moved (made,
 * not yet joined) is not one of these.
 */
export function leftWhileDown(ep: EndpointRecord, hostNetns: string | null): boolean {
  const hs = ep.hostSide;
  if (!hs || !ep.docker) return false;
  if (hs.moved) return !linkExists(ep.sandboxPath, ep.ifname) && linkExists(hostNetns, hs.srcName);
  return hs.returned === true;
}

/** Delete the host-side TAP of such an endpoint (it is persistent: it would outlive us otherwise). */
export function deleteHostSide(ep: EndpointRecord, hostNetns: string | null): void {
  const nl = Rtnetlink.open(hostNetns ?? undefined);
  try {
    const index = nl.linkIndex(ep.hostSide!.srcName);
    if (index) nl.linkDel(index);
  } finally {
    nl.close();
  }
}

/**
 * The device is now called `nameNow`: did the runtime move it into the sandbox (renamed) or back (its
 * source name again)? Updates the record and returns true when something changed.
 */
export function learnMove(ep: EndpointRecord, nameNow: string): boolean {
  const hs = ep.hostSide;
  if (!hs) return false;
  if (!hs.moved && nameNow !== hs.srcName && hs.sandboxKey) {
    hs.moved = true;
    delete hs.returned;
    ep.sandbox = { kind: 'path', path: hs.sandboxKey };
    ep.sandboxPath = hs.sandboxKey;
    ep.ifname = nameNow;
    return true;
  }
  if (hs.moved && nameNow === hs.srcName) {
    hs.moved = false;
    hs.returned = true;
    ep.sandbox = { kind: 'path', path: HOST_SIDE };
    ep.sandboxPath = HOST_SIDE;
    ep.ifname = hs.srcName;
    return true;
  }
  return false;
}
