/**
 * TsnError: the one error class of tsnet-switch (control plane, CLI, capture, emulator, bench, cluster
 * store, CNI). Every refusal is a TsnError with
 *   - a stable `code` ('ERR_BAD_CIDR', 'ERR_POOL_EXHAUSTED', ...) that clients and tests match on; the
 *     message may be reworded, the code never is;
 *   - the HTTP `status` the API answers with, which comes from TSN_ERROR_STATUS and nowhere else: a
 *     code means one status everywhere;
 *   - a message that names the bad value and says what would be accepted;
 *   - optional machine-readable `details` (the offending value, a suggestion, the other network, ...).
 *
 * A new code is a line in the table (the constructor takes only the table's codes, and
 * test/unit/architecture/error-codes.test.ts checks that every 'ERR_*' in src/ is one of them).
 * The model is undici's lib/core/errors.js: plain classes, stable codes, no string parsing by callers.
 * It lives at the top of src/ because every layer above the packet views throws it.
 */

/** Every code and the HTTP status it carries. */
export const TSN_ERROR_STATUS = {
  // 400: the request itself is wrong
  ERR_BAD_CIDR: 400,
  ERR_BAD_IP: 400,
  ERR_BAD_MAC: 400,
  ERR_BAD_NAME: 400,
  ERR_BAD_OPTION: 400,
  ERR_BAD_CAPTURE: 400,
  ERR_BAD_SANDBOX: 400,
  ERR_BAD_REQUEST: 400, // API: a body or query that is not what the route takes
  ERR_BAD_JSON: 400, // API: a body that is not JSON
  ERR_BAD_FORMAT: 400, // CLI: --format names no format
  ERR_BAD_CONTAINER_ID: 400, // runtime attachments (CNI): a container id that is not one
  ERR_IP_OUT_OF_SUBNET: 400,
  ERR_LB_BAD_ADDRESS: 400, // lb: a VIP:PORT / RIP[:RPORT] that does not parse, or a VIP outside its network
  ERR_LB_BAD_SCHEDULER: 400, // lb: -s names no scheduler
  ERR_LB_BAD_WEIGHT: 400, // lb: -w outside 0..65535
  ERR_LB_BAD_SERVER: 400, // lb: a real server the switch cannot reach with that forwarding method
  ERR_BAD_FILTER: 400, // a capture filter libpcap cannot compile
  ERR_BAD_FRAME_SPEC: 400, // a trace frame spec that is none of the accepted forms
  ERR_BAD_CAPTURE_FILE: 400, // not a pcap/pcapng file, or a truncated one
  ERR_BAD_TOPOLOGY: 400, // an emulator topology file that does not validate
  ERR_NO_SUCH_SCENARIO: 400, // bench: a scenario name that is none of the registry's
  ERR_BAD_BENCH_FILE: 400, // bench --compare/--from: not a result written by bench --json
  ERR_NO_CLUSTER_STORE: 400, // cluster requests to a daemon started without --cluster-store
  ERR_NEEDS_ROOT: 403, // bench: namespaces and TAP devices need root
  ERR_UI_TOKEN: 401, // the page's actions (capture, trace) without the token `tsnet-switch ui` prints
  // 404: it names something that does not exist
  ERR_NOT_FOUND: 404, // API: no such route
  ERR_NO_SUCH_NETWORK: 404,
  ERR_NO_SUCH_ENDPOINT: 404,
  ERR_NO_SUCH_SANDBOX: 404,
  ERR_NO_SUCH_ATTACHMENT: 404, // runtime attachments: no such (container, ifname)
  ERR_NO_SUCH_HOST: 404, // cluster gc: a host that holds nothing in the store
  ERR_LB_NO_SUCH_SERVICE: 404,
  ERR_LB_NO_SUCH_SERVER: 404,
  ERR_NO_SUCH_CAPTURE: 404,
  ERR_NO_SUCH_PARENT: 404, // macvlan/ipvlan: -o parent= names no interface of the host
  ERR_NO_SUCH_FDB_ENTRY: 404, // fdb del: no such entry on the network
  // 409: it conflicts with what exists
  ERR_SUBNET_OVERLAP: 409,
  ERR_SUBNET_IN_USE: 409, // network create: a device of the host holds or routes the subnet (--force skips)
  ERR_LB_SERVICE_EXISTS: 409,
  ERR_LB_SERVER_EXISTS: 409,
  ERR_LB_VIP_IN_USE: 409, // lb: the VIP is an endpoint's, the gateway's or otherwise reserved
  ERR_VNI_IN_USE: 409, // overlay: another overlay network uses that VNI on the same VTEP
  ERR_VTEP_IN_USE: 409, // overlay: the VTEP's UDP port is taken (a kernel vxlan device, another daemon)
  ERR_IP_IN_USE: 409,
  ERR_POOL_EXHAUSTED: 409,
  ERR_NETWORK_EXISTS: 409,
  ERR_NETWORK_IN_USE: 409,
  ERR_NETWORK_MISMATCH: 409, // runtime attachments: the network exists with another driver/subnet/gateway
  ERR_IFNAME_IN_USE: 409,
  ERR_MAC_IN_USE: 409,
  ERR_ENDPOINT_EXISTS: 409,
  ERR_AMBIGUOUS_ENDPOINT: 409,
  ERR_ATTACHMENT_BROKEN: 409, // runtime attachments (CNI CHECK): recorded, but not as it was made
  ERR_PARENT_IN_USE: 409, // macvlan/ipvlan: the parent carries another network already
  ERR_NETWORK_FULL: 409, // macvlan passthru: its one endpoint is connected already
  ERR_PORT_IN_USE: 409, // published ports: the host port/protocol forwards to another endpoint already
  ERR_DAEMON_RUNNING: 409, // daemon: another daemon holds the state dir or the socket
  ERR_HOST_ALIVE: 409, // cluster gc: the host's lease is held
  ERR_STORE_CONFLICT: 409, // cluster: a store record changed under a read-modify-write (another host wrote it)
  ERR_DEVICE_GONE: 410, // re-adoption: the endpoint's device is no longer there
  ERR_BODY_TOO_LARGE: 413, // API: a request body over the limit
  // 500: the daemon's own trouble
  ERR_STATE_CORRUPT: 500,
  ERR_STATE_UNREADABLE: 500,
  ERR_STATE_VERSION: 500,
  ERR_STATE_WRITE: 500,
  ERR_STATE_DIR: 500, // the state dir's path is too long for the device marker (an interface alias)
  ERR_INTERNAL: 500,
  ERR_PCAP: 500, // the addon's live capture (native/src/pcap_live.c): libpcap refused the device; the capture service reports it as ERR_BAD_CAPTURE
  ERR_TOOL_MISSING: 500, // bench: a tool it runs (iperf3, ping) is not on PATH; the message names the Debian package
  // 502: someone the daemon (or a client) talks to answered wrongly
  ERR_DAEMON: 502, // a client: the daemon answered an error without a code
  ERR_BAD_RESPONSE: 502, // a client: the daemon's answer is not JSON
  ERR_STORE_REFUSED: 502, // the cluster store refused a request
  // 503: it cannot be done now
  ERR_NO_DAEMON: 503, // a client: no daemon on the socket
  ERR_PARENT_UNAVAILABLE: 503, // macvlan/ipvlan: the network's parent could not be opened at start
  ERR_NETWORK_DOWN: 503, // the network's data plane could not be re-adopted at start
  ERR_STORE_UNAVAILABLE: 503, // the cluster store is unreachable
  ERR_RTNETLINK_CLOSED: 503, // a namespace's rtnetlink socket was closed (its sandbox went, or the daemon is stopping)
  ERR_TIMEOUT: 504, // a client: the daemon did not answer in time
} as const;

export type TsnErrorCode = keyof typeof TSN_ERROR_STATUS;

/** The JSON body the API sends for an error. */
export interface TsnErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export class TsnError extends Error {
  override name = 'TsnError';
  /** Stable, machine-matchable: 'ERR_' and upper-case words (a client may receive a code it does not know). */
  readonly code: string;
  /** HTTP status for the API: TSN_ERROR_STATUS[code]. */
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: TsnErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = TSN_ERROR_STATUS[code];
    if (details !== undefined) this.details = details;
  }

  /**
   * An error a daemon sent back to a client (api-client, capture-client), its code and status as
   * received: a newer daemon may send a code this client's table does not have.
   */
  static received(code: string, status: number, message: string): TsnError {
    const e = new TsnError('ERR_DAEMON', message);
    Object.defineProperty(e, 'code', { value: code });
    Object.defineProperty(e, 'status', { value: status });
    return e;
  }

  toJSON(): TsnErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isTsnError(e: unknown): e is TsnError {
  return e instanceof TsnError;
}

/**
 * Any thrown value as a TsnError, for the API's last-resort handler: a TsnError passes through,
 * anything else becomes ERR_INTERNAL (500) with the original as `cause`.
 */
export function asTsnError(e: unknown): TsnError {
  if (e instanceof TsnError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new TsnError('ERR_INTERNAL', `internal error: ${msg}`, undefined, { cause: e });
}
