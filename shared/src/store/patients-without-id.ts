import type { InstanceHeader } from '../dicom/parse-header';
import type { Logger } from '../log';
import type { SqliteArchiveIndex, StoredInstance } from './sqlite-index';

/** Reads the header of a stored instance (from its file). */
export type StoredHeaderReader = (instance: StoredInstance) => Promise<InstanceHeader>;

/**
 * Gives each study without a PatientID that an earlier release filed under one patient shared by all such studies
 * (so each showed the name of whichever was stored last) a patient of its own again, its attributes read from one of
 * its instances: the index alone no longer holds them. Runs once (recorded in the index), at start-up, before any
 * store: one file read per such study. Returns how many studies were given their patient.
 */
export async function separatePatientsWithoutId(index: SqliteArchiveIndex, headerOf: StoredHeaderReader, log: Logger): Promise<number> {
  const studies = index.studiesOnSharedPatientWithoutId();
  for (const studyUid of studies) {
    index.refileStudyPatient(studyUid, await readStudyHeader(index, studyUid, headerOf, log));
  }
  index.recordPatientsSeparated();
  if (studies.length) log.info({ studies: studies.length }, 'studies without a PatientID, merged into one patient by an earlier release, each given their own');
  return studies.length;
}

/** One instance's header of the study, or undefined (logged) when there is none to read. */
async function readStudyHeader(index: SqliteArchiveIndex, studyUid: string, headerOf: StoredHeaderReader,
  log: Logger): Promise<InstanceHeader | undefined> {
  const instance = index.findRepresentativeInstance({ studyUid });
  if (!instance) {
    log.warn({ studyInstanceUid: studyUid }, 'a study without a PatientID has no instance: its patient is left without a name');
    return undefined;
  }
  try {
    return await headerOf(instance);
  } catch (err) {
    log.warn({ err, studyInstanceUid: studyUid, sopInstanceUid: instance.sopInstanceUid },
      'an instance of a study without a PatientID could not be read: its patient is left without a name');
    return undefined;
  }
}
