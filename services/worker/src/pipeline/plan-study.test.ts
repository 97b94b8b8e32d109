import * as dcmjs from 'dcmjs';
import pino from 'pino';
import type { EmbeddedJobQueue } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { slicePosition, syntheticPetStudy } from '../../../../test/pipeline/faults/synthetic-pet-study';
import { syntheticPetInstance } from '../../../../test/pipeline/volume/synthetic-pet-instance';
import { openArchiveAndQueue, type ArchiveAndQueue } from '../../../../test/support/archive-and-queue';
import { planStudy } from './plan-study';
import { ArchiveResultSink } from './result-sink';

const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };

describe('planning a quiet study', () => {
  let stores: ArchiveAndQueue;
  let archive: Archive;
  let queue: EmbeddedJobQueue;
  let deps: Parameters<typeof planStudy>[1];
  beforeEach(async () => {
    // Not processing: the jobs stay queued where the test can read them.
    stores = await openArchiveAndQueue('mipseg-plan-', log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
    ({ archive, queue } = stores);
    deps = { archive, queue, log, minPetSlices: 10, minPetCoverageMm: 0 };
  });
  afterEach(() => stores.close());

  async function storedStudy(): Promise<string> {
    const study = syntheticPetStudy({ slices: 12 });
    await new ArchiveResultSink(archive).store(study.instances);
    return study.studyInstanceUid;
  }

  test('reads a series\' header from the start of its first file, not the whole of a large one', async () => {
    const study = await storedStudy();
    const large = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.77001', seriesInstanceUid: '2.25.77000', imagePositionPatient: [0, 0, 0],
      rows: 800, columns: 800, attributes: { StudyInstanceUID: study } }));
    await new ArchiveResultSink(archive).store([large]);
    const readWhole = jest.spyOn(archive.blobs, 'read');
    await planStudy(study, deps);
    const [stored] = archive.index.listInstances({ studyUid: study, seriesUid: '2.25.77000' });
    expect(stored?.size).toBeGreaterThan(1 << 20);
    expect(readWhole.mock.calls.map(([key]) => key)).not.toContain(stored?.storageKey);
    readWhole.mockRestore();
  });

  test.each([['before', 0], ['after', 99]])('a screen capture filed in the PET series (listed %s the slices) is left out of its plan', async (_where, instanceNumber) => {
    const study = syntheticPetStudy({ slices: 12 });
    const capture = syntheticPetInstance({ sopInstanceUid: '2.25.77100', seriesInstanceUid: study.seriesInstanceUid, imagePositionPatient: [0, 0, 0],
      attributes: { StudyInstanceUID: study.studyInstanceUid, InstanceNumber: instanceNumber } });
    const file = dcmjs.data.DicomMessage.readFile(capture.slice().buffer);
    for (const key of ['00020002', '00080016']) file[key.startsWith('0002') ? 'meta' : 'dict'][key] = { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] };
    await new ArchiveResultSink(archive).store([...study.instances, Buffer.from(file.write())]);
    const planned = await planStudy(study.studyInstanceUid, deps);
    expect(planned.kind).toBe('queued');
    const request = (await queue.getJob(planned.jobId))?.request;
    expect(request?.seriesInstanceUid).toBe(study.seriesInstanceUid);
    expect(request?.instanceCount).toBe(12);
  });

  test('reads the whole file where the header runs past that start: an Implicit VR parse cut there would lose the tracer', async () => {
    // 1.3 MB of palette data (0028,1201) before the radiopharmaceutical (0054,0016), in Implicit VR: a parse of the
    // first 1 MiB stops inside it without an error, and what follows would read as absent ("not FDG").
    const study = syntheticPetStudy({ slices: 12 });
    const large = study.instances.map((bytes) => {
      const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
      file.meta['00020010'] = { vr: 'UI', Value: ['1.2.840.10008.1.2'] };
      file.dict['00281201'] = { vr: 'OW', Value: [new ArrayBuffer(1_300_000)] };
      return Buffer.from(file.write());
    });
    await new ArchiveResultSink(archive).store(large);
    const [first] = archive.index.listInstances({ studyUid: study.studyInstanceUid });
    expect([first?.transferSyntaxUid, (first?.size ?? 0) > (1 << 20)]).toEqual(['1.2.840.10008.1.2', true]);
    expect((await planStudy(study.studyInstanceUid, deps)).kind).toBe('queued');
  });

  test('reads no more than the start of a large non-image object (raw data: its private payload comes before any Pixel Data)', async () => {
    const study = await storedStudy();
    const [slice] = syntheticPetStudy({ slices: 1 }).instances;
    const bytes = slice as Uint8Array;
    const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
    const rawData = '1.2.840.10008.5.1.4.1.1.66';
    Object.assign(file.meta, { '00020002': { vr: 'UI', Value: [rawData] }, '00020003': { vr: 'UI', Value: ['2.25.78001'] } });
    Object.assign(file.dict, { '00080016': { vr: 'UI', Value: [rawData] }, '00080018': { vr: 'UI', Value: ['2.25.78001'] },
      '0020000D': { vr: 'UI', Value: [study] }, '0020000E': { vr: 'UI', Value: ['2.25.78000'] },
      '00091010': { vr: 'OB', Value: [new ArrayBuffer(2_000_000)] } });
    delete file.dict['7FE00010'];
    expect((await new ArchiveResultSink(archive).store([Buffer.from(file.write())]))).toBeUndefined();
    const [stored] = archive.index.listInstances({ studyUid: study, seriesUid: '2.25.78000' });
    expect(stored?.size).toBeGreaterThan(1 << 20);
    const readWhole = jest.spyOn(archive.blobs, 'read');
    const readPart = jest.spyOn(archive.blobs, 'openRanged');
    expect((await planStudy(study, deps)).kind).toBe('queued');
    // Told apart by the SOP class the index holds: not a byte of it read.
    expect([...readWhole.mock.calls, ...readPart.mock.calls].map(([key]) => key)).not.toContain(stored?.storageKey);
    readWhole.mockRestore();
    readPart.mockRestore();
  });

  test('two on-demand runs asked for at the same moment (a double click) make one analysis, not two versions to export', async () => {
    const study = await storedStudy();
    const planned = await Promise.all([planStudy(study, deps, { force: true }), planStudy(study, deps, { force: true })]);
    expect(planned).toEqual([{ kind: 'queued', jobId: planned[0]?.jobId },
      { kind: 'unchanged', jobId: planned[0]?.jobId, reason: 'an analysis of the same instances is already queued' }]);
    expect((await queue.listJobs({ studyInstanceUid: study, limit: 10, offset: 0 })).map((j) => j.request?.version)).toEqual([1]);
  });

  test('a study check at the moment of an on-demand run adds no second analysis of the same instances', async () => {
    const study = await storedStudy();
    const planned = await Promise.all([planStudy(study, deps, { force: true }), planStudy(study, deps)]);
    expect(planned.map((p) => p.kind)).toEqual(['queued', 'unchanged']);
    expect(await queue.listJobs({ studyInstanceUid: study, limit: 10, offset: 0 })).toHaveLength(1);
  });

  test('an on-demand run once the analysis of the same instances has finished makes the next version', async () => {
    const study = await storedStudy();
    const first = await planStudy(study, deps);
    queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: () => Promise.reject(new Error('a worker fault, say')),
      exportResult: () => Promise.reject(new Error('no exports in this test')) }, { concurrency: 1, studyChecks: false, analyses: true });
    while ((await queue.getJob(first.jobId))?.state !== 'failed') await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await planStudy(study, deps, { force: true });
    expect(again.kind).toBe('queued');
    expect(again.jobId).not.toBe(first.jobId);
    expect((await queue.getJob(again.jobId))?.request?.version).toBe(2);
  });

  test('of two reconstructions of one scan, queues the one whose SUV can be computed, though the other has more slices', async () => {
    // Counts without a Philips SUV factor (an anonymiser stripped it): the analysis would fail as MIPSEG_SUV_UNAVAILABLE.
    const counts = syntheticPetStudy({ slices: 14, attributes: { Units: 'CNTS', SeriesNumber: '1' } });
    const bqml = syntheticPetStudy({ slices: 12, attributes: { StudyInstanceUID: counts.studyInstanceUid, SeriesNumber: '2' } });
    await new ArchiveResultSink(archive).store([...counts.instances, ...bqml.instances]);
    const planned = await planStudy(counts.studyInstanceUid, deps);
    expect(planned.kind).toBe('queued');
    expect((await queue.getJob(planned.jobId))?.request?.seriesInstanceUid).toBe(bqml.seriesInstanceUid);
  });

  test('a head-and-neck series sent twice is "not applicable" by its span, not taken for whole-body by its doubled slice count', async () => {
    // 70 slices 4 mm apart (280 mm), every one sent again under a new SOP Instance UID: 140 × 4 mm would pass 500 mm.
    const slices = Array.from({ length: 70 }, (_, k) => k);
    const twice = syntheticPetStudy({ slices: 70, duplicate: slices, attributes: { NumberOfSlices: 70, SliceThickness: 4 } });
    await new ArchiveResultSink(archive).store(twice.instances);
    const planned = await planStudy(twice.studyInstanceUid, { ...deps, minPetCoverageMm: 500 });
    expect(planned.kind).toBe('not-applicable');
    expect(planned.reason).toContain('280 mm of the body (140 slices, measured from its first slice to its last), less than 500 mm');
  });

  test('a whole-body series whose NumberOfSlices counts one bed position is still analysed: its span is the whole body', async () => {
    const beds = syntheticPetStudy({ slices: 140, attributes: { NumberOfSlices: 35, SliceThickness: 4 } });
    await new ArchiveResultSink(archive).store(beds.instances);
    const planned = await planStudy(beds.studyInstanceUid, { ...deps, minPetCoverageMm: 500 });
    expect(planned.kind).toBe('queued');
  });

  test('a whole-body series whose scanner numbers each bed position from 1 is measured end to end, not by one bed', async () => {
    // 4 beds of 35 slices 4 mm apart (560 mm), InstanceNumber 1..35 in each; the last bed's first and last slices
    // sort first and last among their numbers' copies, so that a span of one pair would be that bed's 140 mm.
    const study = syntheticPetStudy({ slices: 140, attributes: { NumberOfSlices: 35, SliceThickness: 4 } });
    const series = '2.25.880';
    const instances = Array.from({ length: 140 }, (_, k) => {
      const bed = Math.floor(k / 35);
      const n = (k % 35) + 1;
      const rank = bed === 3 && n === 1 ? 1 : bed === 3 && n === 35 ? 9 : 5;
      return Buffer.from(syntheticPetInstance({ sopInstanceUid: `2.25.880.${rank}${bed}.${k}`, seriesInstanceUid: series,
        imagePositionPatient: slicePosition(k), attributes: { StudyInstanceUID: study.studyInstanceUid, InstanceNumber: n, NumberOfSlices: 35,
          SliceThickness: 4 } }));
    });
    await new ArchiveResultSink(archive).store(instances);
    const planned = await planStudy(study.studyInstanceUid, { ...deps, minPetCoverageMm: 500 });
    expect(planned).toMatchObject({ kind: 'queued' });
  });

  test('content that returns to an earlier state (A, B, A) makes a new result version, so the newest result matches the archive', async () => {
    const study = syntheticPetStudy({ slices: 13 });
    const sink = new ArchiveResultSink(archive);
    await sink.store(study.instances.slice(0, 12));
    const planA = await planStudy(study.studyInstanceUid, deps);
    await sink.store(study.instances.slice(12));
    const planB = await planStudy(study.studyInstanceUid, deps);
    const late = archive.index.listInstances({ studyUid: study.studyInstanceUid }).find((i) => i.instanceNumber === 13);
    expect(late).toBeDefined();
    expect(await archive.deleteInstance(study.studyInstanceUid, study.seriesInstanceUid, late?.sopInstanceUid ?? '')).toBe(true);
    const planA2 = await planStudy(study.studyInstanceUid, deps);
    expect([planA.kind, planB.kind, planA2.kind]).toEqual(['queued', 'queued', 'queued']);
    expect(new Set([planA.jobId, planB.jobId, planA2.jobId]).size).toBe(3);
    const newest = await queue.getJob(planA2.jobId);
    expect(newest?.request).toMatchObject({ version: 3, instanceCount: 12 });
    expect(await planStudy(study.studyInstanceUid, deps)).toEqual({ kind: 'unchanged', jobId: planA2.jobId });
  });

  test('the same content sent again after the study was found "not applicable" is analysed again, so its result shows', async () => {
    const study = await storedStudy();
    const first = await planStudy(study, deps);
    expect(first.kind).toBe('queued');
    // The PET series deleted, say, and the study checked: its newest job says "not applicable".
    await new Promise((resolve) => setTimeout(resolve, 5));
    await queue.recordNotApplicable('na-between', study, 'no PET series');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const again = await planStudy(study, deps);
    expect(again.kind).toBe('queued');
    expect(again.jobId).not.toBe(first.jobId);
    expect((await queue.getJob(again.jobId))?.request?.version).toBe(2);
    expect(await planStudy(study, deps)).toEqual({ kind: 'unchanged', jobId: again.jobId });
  });

  test('a file that cannot be read fails the check, to be retried, instead of making the study "not applicable"', async () => {
    const study = await storedStudy();
    const read = archive.blobs.read.bind(archive.blobs);
    archive.blobs.read = () => Promise.reject(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }));
    await expect(planStudy(study, deps)).rejects.toThrow('EMFILE');
    expect(await queue.listJobs({ studyInstanceUid: study, limit: 10, offset: 0 })).toEqual([]);
    archive.blobs.read = read;
    expect((await planStudy(study, deps)).kind).toBe('queued');
  });
});
