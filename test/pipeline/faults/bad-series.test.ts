import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SopClass } from '@mipseg/shared/dicom';
import { killAndWait, startMipsegProcess, type MipsegProcess } from '../../support/mipseg-process';
import { waitForJobs, type ApiJob } from '../../support/pipeline-wait';
import { postStow } from '../../support/stow';
import { syntheticPetStudy, type PetStudyVariant, type SyntheticPetStudy } from './synthetic-pet-study';

/** The jobs API also reports attempts; a failure of bad data must not be retried. */
type Job = ApiJob & { readonly attempts: number };

const SLICES = 12;
const TERMINAL = ['done', 'failed', 'not-applicable'];
const WAIT_MS = 60_000;

/** Each a study of its own; expectations per case below. */
const VARIANTS = {
  missingSlice: { slices: SLICES, omit: [6] },
  duplicatePosition: { slices: SLICES, duplicate: [5] },
  noPatientWeight: { slices: SLICES, attributes: { PatientWeight: undefined } },
  noInjectedDose: {
    slices: SLICES,
    attributes: { RadiopharmaceuticalInformationSequence: [{ Radiopharmaceutical: 'Fluorodeoxyglucose', RadiopharmaceuticalStartTime: '090000',
      RadionuclideHalfLife: 6586.2 }] },
  },
  notAttenuationCorrected: { slices: SLICES, attributes: { CorrectedImage: ['DECY', 'SCAT'] } },
  dynamic: { slices: SLICES, attributes: { SeriesType: ['DYNAMIC', 'IMAGE'] } },
  // The last two slices never came (yet): the series says it has SLICES.
  stillArriving: { slices: SLICES, omit: [SLICES - 2, SLICES - 1], attributes: { NumberOfSlices: SLICES } },
  psma: {
    slices: SLICES,
    attributes: { RadiopharmaceuticalInformationSequence: [{ Radiopharmaceutical: '18F-PSMA-1007', RadiopharmaceuticalStartTime: '090000',
      RadionuclideTotalDose: 350e6, RadionuclideHalfLife: 6586.2 }] },
  },
  ctOnly: {
    slices: SLICES,
    sopClassUid: SopClass.CtImageStorage,
    attributes: { Modality: 'CT', ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'], Units: undefined, SeriesType: undefined,
      CorrectedImage: undefined, DecayCorrection: undefined, RadiopharmaceuticalInformationSequence: undefined },
  },
} as const satisfies Record<string, PetStudyVariant>;
type Case = keyof typeof VARIANTS;

const FAILURES: ReadonlyArray<[Case, string, readonly string[], readonly string[]]> = [
  // slicePosition(6): the middle slice that was left out; slicePosition(5): the one sent twice.
  ['missingSlice', 'MIPSEG_VOLUME_INVALID', ['gap: 1 slice(s) missing', 'expected at ImagePositionPatient (-30.00, -30.00, -24.00)'], []],
  ['duplicatePosition', 'MIPSEG_VOLUME_INVALID', ['duplicate position', 'ImagePositionPatient (-30.00, -30.00, -20.00)'], []],
  ['noPatientWeight', 'MIPSEG_SUV_UNAVAILABLE', ['PatientWeight (0010,1030)'], ['RadionuclideTotalDose']],
  ['noInjectedDose', 'MIPSEG_SUV_UNAVAILABLE', ['RadionuclideTotalDose (0018,1074)'], ['PatientWeight']],
];

const NOT_APPLICABLE: ReadonlyArray<[Case, readonly string[]]> = [
  ['notAttenuationCorrected', ['CorrectedImage is DECY\\SCAT (ATTN and DECY needed)']],
  ['dynamic', ['SeriesType is DYNAMIC\\IMAGE']],
  ['stillArriving', [`${SLICES - 2} of ${SLICES} slices received (NumberOfSlices): the series is incomplete`]],
  ['psma', ['the radiopharmaceutical is 18F-PSMA-1007, not FDG']],
  ['ctOnly', ['Modality is CT', 'not a PET image storage class']],
];

describe('bad PET series fail at once with a reason, and the service keeps working', () => {
  const studies = Object.fromEntries(Object.entries(VARIANTS).map(([name, v]) => [name, syntheticPetStudy(v)])) as Record<Case, SyntheticPetStudy>;
  const jobsOf = new Map<Case, Job[]>();
  let control: Job[];
  let dataDir: string;
  let mipseg: MipsegProcess;
  let root: string;

  const send = async (study: SyntheticPetStudy): Promise<void> => {
    const reply = await postStow(`${root}/dicomweb/studies`, study.instances);
    expect(reply.status).toBe(200);
  };
  const settled = async (study: SyntheticPetStudy): Promise<Job[]> =>
    (await waitForJobs(root, study.studyInstanceUid, (j) => j.length > 0 && j.every((x) => TERMINAL.includes(x.state)), WAIT_MS)) as Job[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-faults-'));
    // Short backoff: were bad data retried, the job would end as failed after 3 attempts within the wait.
    mipseg = await startMipsegProcess({ DATA_DIR: dataDir, QUIET_PERIOD_MS: '800', MIN_PET_SLICES: '10', MIN_PET_COVERAGE_MM: '0', JOB_ATTEMPTS: '3',
      JOB_BACKOFF_MS: '200', DIMSE_ENABLED: 'false' });
    root = `http://127.0.0.1:${mipseg.httpPort}`;
    const cases = Object.keys(studies) as Case[];
    for (const name of cases) await send(studies[name]);
    await Promise.all(cases.map(async (name) => jobsOf.set(name, await settled(studies[name]))));
    // Only once every bad study has failed: a valid one must still go through.
    const valid = syntheticPetStudy({ slices: SLICES });
    await send(valid);
    control = await settled(valid);
  }, 180_000);

  afterAll(async () => {
    if (mipseg) await killAndWait(mipseg.child, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  test.each(FAILURES)('%s: one job fails at once with %s, naming the fault', (name, code, named, notNamed) => {
    const jobs = jobsOf.get(name) ?? [];
    expect(jobs).toHaveLength(1);
    const [job] = jobs as [Job];
    expect({ state: job.state, failureCode: job.failureCode, attempts: job.attempts }).toEqual({ state: 'failed', failureCode: code, attempts: 1 });
    for (const text of named) expect(job.failureReason).toContain(text);
    for (const text of notNamed) expect(job.failureReason).not.toContain(text);
    expect(job.result).toBeNull();
  });

  test.each(NOT_APPLICABLE)('%s: the study is not applicable, with the series and the rule it fails', (name, named) => {
    const jobs = jobsOf.get(name) ?? [];
    expect(jobs).toHaveLength(1);
    const [job] = jobs as [Job];
    expect({ state: job.state, failureCode: job.failureCode }).toEqual({ state: 'not-applicable', failureCode: 'MIPSEG_NOT_APPLICABLE' });
    expect(job.failureReason).toContain(studies[name].seriesInstanceUid);
    for (const text of named) expect(job.failureReason).toContain(text);
  });

  test('a series found incomplete is analysed once its last slices arrive', async () => {
    const study = syntheticPetStudy({ slices: SLICES, attributes: { NumberOfSlices: SLICES } });
    const first = study.instances.slice(0, SLICES - 3);
    expect((await postStow(`${root}/dicomweb/studies`, first)).status).toBe(200);
    const [waiting] = await settled(study);
    expect(waiting?.state).toBe('not-applicable');
    expect((await postStow(`${root}/dicomweb/studies`, study.instances.slice(SLICES - 3))).status).toBe(200);
    const jobs = (await waitForJobs(root, study.studyInstanceUid, (j) => j.some((x) => x.state === 'done'), WAIT_MS)) as Job[];
    expect(jobs.find((j) => j.state === 'done')?.result?.segSopInstanceUid).toBeTruthy();
  });

  test('after them, a valid study still completes and /healthz answers', async () => {
    expect(control).toHaveLength(1);
    const [job] = control as [Job];
    expect({ state: job.state, failureCode: job.failureCode, attempts: job.attempts }).toEqual({ state: 'done', failureCode: null, attempts: 1 });
    expect(job.result?.mipSopInstanceUid).toBeTruthy();
    expect(job.result?.segSopInstanceUid).toBeTruthy();
    const health = await fetch(`${root}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
