/**
 * CniError: the error object of the CNI spec (SPEC.md, section 5 "Error"): a numeric code, a short
 * `msg` and a `details` text naming the bad value. Codes 1-99 are the spec's; 100+ are ours.
 * The plugin prints it on stdout and exits 1 (libcni reads a failed plugin's stdout for it).
 */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  NOT_AVAILABLE_LIMITED: 51,
  // Ours (100+):
  /** The daemon refused: it conflicts with what exists (an attachment or interface of that name, an address in use). */
  CONFLICT: 100,
  /** CHECK: the attachment is missing or no longer as it was made. */
  CHECK_FAILED: 101,
  /** The daemon failed (an internal error, a syscall refused). */
  DAEMON_FAILED: 102,
  /** A delegated (IPAM) plugin failed without an error object of its own. */
  DELEGATE_FAILED: 103,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details !== undefined ? { details: this.details } : {}) };
  }
}
