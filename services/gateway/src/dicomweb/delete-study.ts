import type { Request, Response } from 'express';
import type { Config } from '@mipseg/shared/config';
import { assertUid } from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import type { Archive } from '@mipseg/shared/store';
import { readQueue } from '../queue-read';
import { remoteFields, requestLogFields } from '../request-log';

/**
 * Why a study may not be deleted now, in words (its analysis is waiting or running, and would store results into
 * a study that no longer exists), or undefined when it may. The process that runs the job queue supplies it.
 */
export type StudyDeletionGuard = (studyInstanceUid: string) => Promise<string | undefined>;

/** Refuses a deletion in the study while deleting is off, or while its analysis is waiting or running. */
async function assertDeletable(study: string, config: Config, guard: StudyDeletionGuard | undefined): Promise<void> {
  if (!config.allowStudyDelete) throw new MipsegError('MIPSEG_DELETE_DISABLED', 'ALLOW_STUDY_DELETE is off');
  const busy = guard
    // Bounded like every read of the queue: a Redis gone away mid-question would otherwise hold the request.
    ? await readQueue(guard(study), `the deletion guard of study ${study}`)
    : undefined;
  if (busy !== undefined) throw new MipsegError('MIPSEG_STUDY_BUSY', `study ${study}: ${busy}`);
}

/**
 * DELETE /studies/{StudyInstanceUID}: not part of PS3.18, but what an administrator needs for a study sent to the
 * wrong place or under the wrong patient (Orthanc and cloud DICOMweb stores answer it too). Off unless
 * ALLOW_STUDY_DELETE is set; every deletion is logged at warn level with the request's id and address, as the
 * audit trail. Results already sent to a PACS stay there: this deletes mipseg's copy only.
 */
export function deleteStudyHandler(archive: Archive, config: Config, log: Logger, guard?: StudyDeletionGuard) {
  return async (req: Request, res: Response): Promise<void> => {
    const study = assertUid(String(req.params['study']), 'StudyInstanceUID');
    await assertDeletable(study, config, guard);
    const instances = await archive.deleteStudy(study);
    if (instances === undefined) throw new MipsegError('MIPSEG_NOT_FOUND', `study ${study}`);
    log.warn({ ...requestLogFields(req), ...remoteFields(req), studyInstanceUid: study, instances }, 'study deleted');
    res.json({ studyInstanceUid: study, deletedInstances: instances });
  };
}

/**
 * DELETE /studies/{StudyInstanceUID}/series/{SeriesInstanceUID}: one series, as a study is deleted (the same
 * switch, guard and audit line): a series sent by mistake, or an AI result a reader rejects. A result deleted
 * this way is not made again by a re-send of its source (the same content is not analysed twice): POST
 * /api/studies/{uid}/analyze makes a new one.
 */
export function deleteSeriesHandler(archive: Archive, config: Config, log: Logger, guard?: StudyDeletionGuard) {
  return async (req: Request, res: Response): Promise<void> => {
    const study = assertUid(String(req.params['study']), 'StudyInstanceUID');
    const series = assertUid(String(req.params['series']), 'SeriesInstanceUID');
    if (!config.allowStudyDelete) res.set('Allow', 'GET, HEAD'); // for the 405: a series URL takes no POST
    await assertDeletable(study, config, guard);
    const instances = await archive.deleteSeries(study, series);
    if (instances === undefined) throw new MipsegError('MIPSEG_NOT_FOUND', `series ${series} of study ${study}`);
    log.warn({ ...requestLogFields(req), ...remoteFields(req), studyInstanceUid: study, seriesInstanceUid: series, instances },
      'series deleted');
    res.json({ studyInstanceUid: study, seriesInstanceUid: series, deletedInstances: instances });
  };
}

/**
 * DELETE /studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}: one instance, as a
 * series is deleted (the same switch, guard and audit line) — a duplicate or stray slice that keeps its series
 * from being analysed, which can then be analysed again by POST /api/studies/{uid}/analyze. The series (and the
 * study) goes with its last instance.
 */
export function deleteInstanceHandler(archive: Archive, config: Config, log: Logger, guard?: StudyDeletionGuard) {
  return async (req: Request, res: Response): Promise<void> => {
    const study = assertUid(String(req.params['study']), 'StudyInstanceUID');
    const series = assertUid(String(req.params['series']), 'SeriesInstanceUID');
    const sop = assertUid(String(req.params['instance']), 'SOPInstanceUID');
    if (!config.allowStudyDelete) res.set('Allow', 'GET, HEAD');
    await assertDeletable(study, config, guard);
    if (!(await archive.deleteInstance(study, series, sop))) {
      throw new MipsegError('MIPSEG_NOT_FOUND', `instance ${sop} of series ${series} of study ${study}`);
    }
    log.warn({ ...requestLogFields(req), ...remoteFields(req), studyInstanceUid: study, seriesInstanceUid: series,
      sopInstanceUid: sop }, 'instance deleted');
    res.json({ studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, deletedInstances: 1 });
  };
}
