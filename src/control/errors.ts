/**
 * TsnError: the one error class of the control plane. Every refusal the daemon sends back to a client
 * is a TsnError with
 *   - a stable `code` ('ERR_BAD_CIDR', 'ERR_POOL_EXHAUSTED', ...) that clients and tests match on; the
 *     message may be reworded, the code never is;
 *   - the HTTP `status` the API answers with: 400 bad input, 404 not found, 409 conflict with the
 *     current state, 500 the daemon's own failure;
 *   - a message that names the bad value and says what would be accepted;
 *   - optional machine-readable `details` (the offending value, a suggestion, the other network, ...).
 *
 * The model is undici's lib/core/errors.js: plain classes, stable codes, no string parsing by callers.
 * The codes known here are listed in TSN_ERROR_STATUS with their usual status; other files may use
 * codes of their own (the constructor takes any 'ERR_*' string), but should add them to the table.
 */

/** The known codes and the HTTP status each one usually carries. */
export const TSN_ERROR_STATUS = {
  // 400: the request itself is wrong
  ERR_BAD_CIDR: 400,
  ERR_BAD_IP: 400,
  ERR_BAD_MAC: 400,
  ERR_BAD_NAME: 400,
  ERR_BAD_OPTION: 400,
  ERR_BAD_SANDBOX: 400,
  ERR_IP_OUT_OF_SUBNET: 400,
  // 404: it names something that does not exist
  ERR_NO_SUCH_NETWORK: 404,
  ERR_NO_SUCH_ENDPOINT: 404,
  ERR_NO_SUCH_SANDBOX: 404,
  // 409: it conflicts with what exists
  ERR_SUBNET_OVERLAP: 409,
  ERR_IP_IN_USE: 409,
  ERR_POOL_EXHAUSTED: 409,
  ERR_NETWORK_EXISTS: 409,
  ERR_NETWORK_IN_USE: 409,
  ERR_IFNAME_IN_USE: 409,
  ERR_MAC_IN_USE: 409,
  ERR_ENDPOINT_EXISTS: 409,
  ERR_AMBIGUOUS_ENDPOINT: 409,
  // 500: the daemon's own trouble
  ERR_STATE_CORRUPT: 500,
  ERR_STATE_UNREADABLE: 500,
  ERR_STATE_VERSION: 500,
  ERR_STATE_WRITE: 500,
  ERR_INTERNAL: 500,
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
  /** Stable, machine-matchable: 'ERR_' and upper-case words. */
  readonly code: string;
  /** HTTP status for the API. */
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: TsnErrorCode | (string & {}), status: number, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
    if (details !== undefined) this.details = details;
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

/** A TsnError whose status is the usual one for its (known) code. */
export function tsnError(code: TsnErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }): TsnError {
  return new TsnError(code, TSN_ERROR_STATUS[code], message, details, options);
}

/**
 * Any thrown value as a TsnError, for the API's last-resort handler: a TsnError passes through,
 * anything else becomes ERR_INTERNAL (500) with the original as `cause`.
 */
export function asTsnError(e: unknown): TsnError {
  if (e instanceof TsnError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new TsnError('ERR_INTERNAL', 500, `internal error: ${msg}`, undefined, { cause: e });
}
