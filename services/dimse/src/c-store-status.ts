import { MipsegError } from '@mipseg/shared/errors';
import type { StoreOutcome } from '@mipseg/shared/store';

/** C-STORE status values used here (PS3.4 B.2.3, PS3.7 C.4.2.1.4). */
export const CStoreStatus = {
  Success: 0x0000,
  ProcessingFailure: 0x0110,
} as const;

/** The response to one C-STORE: Status (0000,0900) and, on failure, ErrorComment (0000,0902). */
export interface CStoreResult {
  readonly status: number;
  readonly errorComment?: string;
}

// ErrorComment is LO: at most 64 characters of the default repertoire, no backslash or control characters.
const ERROR_COMMENT_MAX = 64;

function errorComment(message: string): string {
  return message.replace(/[^\x20-\x5b\x5d-\x7e]/g, ' ').slice(0, ERROR_COMMENT_MAX).trimEnd();
}

/** The catalogue's failure reason (shared with STOW-RS); errors without one are processing failures. */
export function cStoreFailureStatus(error: MipsegError): number {
  return error.failureReason ?? CStoreStatus.ProcessingFailure;
}

/**
 * What the peer is told of a failure. A fault of ours, or a storage failure the system raised (its message names
 * files under DATA_DIR), is logged in full and the peer gets its code only, as a 500 over HTTP gives a reference
 * only: any calling AE may be answered. Failures about the instance itself say what is wrong with it.
 */
function peerComment(error: MipsegError): string {
  if (error.code === 'MIPSEG_INTERNAL') return 'internal error; see the mipseg log';
  const cause: unknown = error.cause;
  if (SERVER_SIDE.has(error.code) && cause instanceof Error && !(cause instanceof MipsegError)) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${error.code}${typeof code === 'string' ? ` (${code})` : ''}; see the mipseg log`;
  }
  // The catalogue's words take 20-40 of ErrorComment's 64 characters, and the status already says as much: where the
  // whole message does not fit, the part that names what is wrong (the detail) goes alone.
  return error.message.length <= ERROR_COMMENT_MAX || error.detail === '' ? error.message : error.detail;
}

/** Failures of the server's storage, whose system errors name its files; any other code is about the instance. */
const SERVER_SIDE: ReadonlySet<string> = new Set(['MIPSEG_STORAGE_FAILED', 'MIPSEG_STORAGE_BUSY', 'MIPSEG_STORAGE_FULL']);

/** Maps what the archive did with a received instance to the C-STORE response the SCU gets. */
export function cStoreResultFor(outcome: StoreOutcome): CStoreResult {
  if (outcome.status !== 'failed') return { status: CStoreStatus.Success };
  return {
    status: cStoreFailureStatus(outcome.error),
    errorComment: errorComment(peerComment(outcome.error)),
  };
}

/** What an SCU should do about a C-STORE response status. */
export type CStoreStatusClass = 'success' | 'warning' | 'retryable' | 'failure';

/** PS3.7 C.4's general warning statuses, which some archives answer a C-STORE with: Attribute List Error, Attribute Value Out of Range. */
const GENERAL_WARNINGS = new Set([0x0107, 0x0116]);

/**
 * PS3.4 B.2.3: 0000 success; 0001 and Bxxx warnings (stored, perhaps coerced), as are 0107 and 0116 (PS3.7 C.4);
 * A7xx "Out of Resources" is worth retrying later; everything else (A9xx, Cxxx, 0122, 0110, 0111, ...) fails the
 * same way again.
 */
export function classifyCStoreStatus(status: number): CStoreStatusClass {
  if (status === 0x0000) return 'success';
  if (status === 0x0001 || (status & 0xf000) === 0xb000 || GENERAL_WARNINGS.has(status)) return 'warning';
  if ((status & 0xff00) === 0xa700) return 'retryable';
  return 'failure';
}
