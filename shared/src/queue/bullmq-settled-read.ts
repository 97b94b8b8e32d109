import type { Job, Queue } from 'bullmq';

/**
 * A job's hash and its state, read so that a finished state comes with the finished hash. `Job.getState()` is a
 * second round trip after the hash was read; a job that finished in between would pair "completed" with the
 * attempts count and the empty result of its running hash (the jobs API then showed a done job without its
 * output UIDs). BullMQ moves a job to a finished set and writes its finishedOn in one script (and deletes
 * finishedOn when a finished job is retried), so a finished state without finishedOn marks a stale hash, and the
 * hash is read again. Not covered: a hash read while running, then a failed attempt that is retried, still shows
 * the attempts before that failure until the next read — a lag of one poll, never a wrong final record.
 */
export async function readSettled(queue: Queue, snapshot: Job): Promise<{ job: Job; state: string }> {
  let job = snapshot;
  for (let reads = 1; ; reads++) {
    const state = await job.getState();
    const finished = state === 'completed' || state === 'failed';
    // Three reads bound the loop; the second is already after the finishing script.
    if (!finished || job.finishedOn !== undefined || reads === 3) return { job, state };
    const fresh = (await queue.getJob(job.id ?? '')) as Job | undefined;
    // Removed in between: its state is no longer known, and the stale hash must not pass for a finished one.
    if (!fresh) return { job, state: 'unknown' };
    job = fresh;
  }
}
