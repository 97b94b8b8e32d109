import type { JobQueue } from '@mipseg/shared/queue';

/**
 * Why a study may not be deleted now: while it waits out its quiet period, or its analysis is queued or running,
 * a deletion would be followed by an analysis that fails on missing instances, or that stores its MIP and SEG into
 * the deleted study and so brings the patient back. Undefined when nothing of the study is in flight.
 */
export async function studyDeletionRefusal(queue: JobQueue, studyInstanceUid: string): Promise<string | undefined> {
  if ((await queue.pendingStudies()).includes(studyInstanceUid)) {
    return 'it is waiting for more images (quiet period), then for analysis; try again once its job has finished';
  }
  for (const state of ['running', 'queued'] as const) {
    const [job] = await queue.listJobs({ studyInstanceUid, state, limit: 1, offset: 0 });
    if (job) return `its analysis (job ${job.id}) is ${state}; try again once it has finished`;
  }
  return undefined;
}
