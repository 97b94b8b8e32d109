import { withTimeout } from '@mipseg/shared/async';
import { MipsegError } from '@mipseg/shared/errors';

/**
 * Longest the gateway waits for one read of the job queue (the worklist's, the jobs API's, the deletion guard's), as the queue's ping
 * does: a Redis that accepts commands but never answers (maxRetriesPerRequest is null, and there is no command
 * timeout) would otherwise hold a person's request, or the event poller, for ever.
 */
export const QUEUE_READ_TIMEOUT_MS = 5000;

/** `read` of the job queue, or MIPSEG_QUEUE_UNAVAILABLE (503) once `timeoutMs` has passed without an answer. */
export function readQueue<T>(read: Promise<T>, what: string, timeoutMs = QUEUE_READ_TIMEOUT_MS): Promise<T> {
  return withTimeout(read, timeoutMs, () => new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', `${what}: no answer within ${timeoutMs} ms`));
}
