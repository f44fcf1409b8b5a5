/**
 * Rtnetlink: links, addresses and routes of one network namespace, through the addon's rtnetlink
 * client (native/src/netlink.c). No `ip` commands and no text parsing.
 *
 * The socket is created inside the namespace it is opened for (`Rtnetlink.open('/var/run/netns/NAME')`,
 * or a /proc/PID/ns/net path; none = ours), and every request on it acts there, while this process
 * stays where it is. Requests are synchronous and take microseconds; they never run per packet.
 *
 * Errors: a kernel refusal is a NativeError with `code` the errno name ('EEXIST', 'ENODEV', ...),
 * `errno`, and `syscall` the request ('RTM_NEWADDR', ...); its message names the operation and the
 * interface, and carries the kernel's explanation when it gives one. Bad arguments (an IP or MAC
 * string that does not parse, a prefix out of range) are code 'ERR_INVALID_ARG_VALUE'.
 *
 * IPv4 only for now.
 */
import { TsnError } from '../errors.js';
import {
  native,
  type NativeAddon,
  type NlAddr,
  type NlLinkAttrs,
  type NlLinkAlias,
  type NlLinkInfo,
  type NlRoute,
  type NlRouteEntry,
} from '../native/addon.js';

export type { NlAddr, NlLinkAlias, NlLinkAttrs, NlLinkInfo, NlRoute, NlRouteEntry };

export class Rtnetlink {
  private fd: number;

  private constructor(
    private readonly addon: NativeAddon,
    fd: number,
    /** The namespace file this socket acts in; undefined for the namespace we run in. */
    readonly netns: string | undefined,
  ) {
    this.fd = fd;
  }

  /** A NETLINK_ROUTE socket acting in `netns` (a namespace file path), or in ours. */
  static open(netns?: string): Rtnetlink {
    const addon = native();
    return new Rtnetlink(addon, addon.nlOpen(netns ?? null), netns);
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  private sock(): number {
    if (this.fd < 0) {
      throw new TsnError('ERR_RTNETLINK_CLOSED', `rtnetlink socket for ${this.netns ?? 'this namespace'} is closed (its sandbox went away, or the daemon is stopping)`);
    }
    return this.fd;
  }

  /** The interface's index, or 0 if there is no link of that name. */
  linkIndex(name: string): number {
    return this.addon.nlLinkIndex(this.sock(), name);
  }

  /** Rename, set MAC/MTU, bring up or down; absent attributes are left alone. */
  linkSet(ifindex: number, attrs: NlLinkAttrs): void {
    this.addon.nlLinkSet(this.sock(), ifindex, attrs);
  }

  /** Move the link into the namespace at `netnsPath` (its addresses and routes stay behind). */
  linkSetNetns(ifindex: number, netnsPath: string): void {
    this.addon.nlLinkSetNetns(this.sock(), ifindex, netnsPath);
  }

  linkDel(ifindex: number): void {
    this.addon.nlLinkDel(this.sock(), ifindex);
  }

  /** Throws ENODEV if there is no such link. */
  linkInfo(ifindex: number): NlLinkInfo {
    return this.addon.nlLinkInfo(this.sock(), ifindex);
  }

  /** Add an IPv4 address (and so the kernel's route to its subnet); EEXIST if it is there already. */
  addrAdd(ifindex: number, address: string, prefixLen: number): void {
    this.addon.nlAddrAdd(this.sock(), ifindex, address, prefixLen);
  }

  /** EADDRNOTAVAIL if the link has no such address. */
  addrDel(ifindex: number, address: string, prefixLen: number): void {
    this.addon.nlAddrDel(this.sock(), ifindex, address, prefixLen);
  }

  /** IPv4 (family 6: IPv6) addresses of every link, or of one. */
  addrList(ifindex?: number, family: 4 | 6 = 4): NlAddr[] {
    return this.addon.nlAddrList(this.sock(), ifindex ?? null, family);
  }

  /** Add a main-table route (proto static); EEXIST if the same route is there already. */
  routeAdd(route: NlRoute): void {
    this.addon.nlRouteAdd(this.sock(), route);
  }

  /** Delete the main-table route matching dst/prefixLen (and gateway, ifindex if given); ESRCH if none. */
  routeDel(route: NlRoute): void {
    this.addon.nlRouteDel(this.sock(), route);
  }

  /** IPv4 routes of the main table; the default route is dst '0.0.0.0', prefixLen 0. */
  routeList(): NlRouteEntry[] {
    return this.addon.nlRouteList(this.sock());
  }

  /** Set the link's alias (`ip link set DEV alias TEXT`), the daemon's marker on what it made; '' clears. */
  linkSetAlias(ifindex: number, alias: string): void {
    this.addon.nlLinkSetAlias(this.sock(), ifindex, alias);
  }

  /** Every link of the namespace with its alias and kind. */
  linkAliasList(): NlLinkAlias[] {
    return this.addon.nlLinkAliasList(this.sock());
  }

  /** Close the socket; closing twice is harmless. */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.addon.closeFd(fd);
  }
}

/**
 * Run `fn` with a socket acting in `netns` (or ours), and close the socket when it returns, throws,
 * or — for an async `fn` — when its promise settles.
 */
export function withRtnetlink<T>(netns: string | undefined, fn: (nl: Rtnetlink) => T): T {
  const nl = Rtnetlink.open(netns);
  let result: T;
  try {
    result = fn(nl);
  } catch (err) {
    nl.close();
    throw err;
  }
  if (result instanceof Promise) return result.finally(() => nl.close()) as T;
  nl.close();
  return result;
}
