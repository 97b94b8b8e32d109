import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as dcmjs from 'dcmjs';
import pino from 'pino';
import { MipsegError } from '@mipseg/shared/errors';
import type { AnalysisRequest, JobProgress } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { syntheticPetStudy } from '../../../../test/pipeline/faults/synthetic-pet-study';
import { analyzeSeries, type AnalysisDeps } from './analyze-series';
import { ComputePool } from './compute-pool';
import { ArchiveResultSink, type ResultSink } from './result-sink';
import { ArchiveStudySource, type StudySource } from './study-source';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', '..', 'models', 'mip-attention-unet');
const log = pino({ level: 'silent' });
const progress: JobProgress = { stage: () => Promise.resolve(), timing: () => undefined };

/** Stores the first result instance, then fails as a full disk would, once; stores everything after that. */
class SinkFailingOnce implements ResultSink {
  private failed = false;
  constructor(private readonly archive: ArchiveResultSink) {}

  async store(instances: readonly Buffer[]): Promise<void> {
    if (this.failed) return this.archive.store(instances);
    this.failed = true;
    await this.archive.store(instances.slice(0, 1));
    throw new MipsegError('MIPSEG_STORAGE_FULL', 'no space left while storing the SEG');
  }
}

describe('an analysis retried after its result was partly stored', () => {
  let dataDir: string;
  let archive: Archive;
  let pool: ComputePool;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-analyze-'));
    archive = await Archive.open(dataDir, log);
    pool = await ComputePool.start({ size: 1, log, thread: {
      modelDir: MODEL_DIR, loadOptions: { threads: 1, executionProvider: 'cpu' },
      equipment: { manufacturerModelName: 'mipseg', softwareVersions: 'test', deviceSerialNumber: 'analyze-series-test' },
    } });
  });
  afterAll(async () => {
    await pool.close();
    archive.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('replaces it under the same UIDs: the study holds one MIP and one SEG', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    const sink = new ArchiveResultSink(archive);
    await sink.store(study.instances);
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    const request: AnalysisRequest = {
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    };
    const deps: AnalysisDeps = { source: new ArchiveStudySource(archive), sink: new SinkFailingOnce(sink), compute: pool, log };

    await expect(analyzeSeries(request, deps, progress)).rejects.toMatchObject({ code: 'MIPSEG_STORAGE_FULL' });
    const result = await analyzeSeries(request, deps, progress);

    const outputs = archive.index.listInstances({ studyUid: study.studyInstanceUid }).filter((i) => i.seriesInstanceUid !== study.seriesInstanceUid);
    expect(outputs.map((i) => i.sopInstanceUid).sort()).toEqual([result.mipSopInstanceUid, result.segSopInstanceUid].sort());
    expect(new Set(outputs.map((i) => i.seriesInstanceUid))).toEqual(new Set([result.mipSeriesInstanceUid, result.segSeriesInstanceUid]));
  });

  test('a study deleted during its analysis stays deleted: the results are not stored, the job fails as not found', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    await new ArchiveResultSink(archive).store(study.instances);
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    // The deletion lands while the MIP and SEG are being derived, just before they would be stored.
    const deleting: JobProgress = { ...progress, stage: async (stage) => { if (stage === 'store') await archive.deleteStudy(study.studyInstanceUid); } };
    const deps: AnalysisDeps = { source: new ArchiveStudySource(archive), sink: new ArchiveResultSink(archive), compute: pool, log };
    await expect(analyzeSeries({
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    }, deps, deleting)).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
    expect(archive.index.listInstances({ studyUid: study.studyInstanceUid })).toEqual([]);
  });

  test('a deletion between the analysis\'s last look and its store is caught where the results are stored', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    await new ArchiveResultSink(archive).store(study.instances);
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    const source = new ArchiveStudySource(archive);
    // The source still says the series is there (the answer came just before the deletion).
    const stale: StudySource = { ...source, readSeries: source.readSeries.bind(source), seriesFiles: source.seriesFiles.bind(source),
      hasSeries: async () => { await archive.deleteStudy(study.studyInstanceUid); return true; } };
    const deps: AnalysisDeps = { source: stale, sink: new ArchiveResultSink(archive), compute: pool, log };
    await expect(analyzeSeries({
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    }, deps, progress)).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
    expect(archive.index.findRepresentativeInstance({ studyUid: study.studyInstanceUid })).toBeUndefined();
  });

  test('a store refused because the study was deleted meanwhile (a queue-mode refusal, retried as such) fails as not found', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    await new ArchiveResultSink(archive).store(study.instances);
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    // What a worker's STOW to its gateway gets: the refusal as a refused export, a code that is retried.
    const refusing: ResultSink = { store: async () => {
      await archive.deleteStudy(study.studyInstanceUid);
      throw new MipsegError('MIPSEG_EXPORT_REFUSED', 'the destination refused the result: HTTP 400');
    } };
    const deps: AnalysisDeps = { source: new ArchiveStudySource(archive), sink: refusing, compute: pool, log };
    await expect(analyzeSeries({
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    }, deps, progress)).rejects.toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
  });

  test('names a later result version in its series, so a PACS tells the versions apart', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    const sink = new ArchiveResultSink(archive);
    await sink.store(study.instances);
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    const deps: AnalysisDeps = { source: new ArchiveStudySource(archive), sink, compute: pool, log };
    for (const version of [1, 2]) {
      await analyzeSeries({
        studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
        contentHash: 'test', reason: version === 1 ? 'study-complete' : 'on-demand', version, resultUidSeed: randomUUID(),
      }, deps, progress);
    }
    const outputs = archive.index.listInstances({ studyUid: study.studyInstanceUid }).filter((i) => i.seriesInstanceUid !== study.seriesInstanceUid);
    const series = await Promise.all(outputs.map(async (i) => {
      const json = JSON.parse(await archive.readMetadata(i)) as Record<string, { Value?: unknown[] }>;
      return `${String(json['00200011']?.Value?.[0])} ${String(json['0008103E']?.Value?.[0])}`;
    }));
    expect(series.sort()).toEqual([
      '9001 MIP (SUV) - mipseg', expect.stringMatching(/^9002 Tumour SEG \(MIP\) - mipseg/),
      '9003 MIP (SUV) - mipseg v2', expect.stringMatching(/^9004 Tumour SEG \(MIP\) - mipseg v2/),
    ]);
  });

  test('analyses a series dated in ACR-NEMA form (yyyy.mm.dd, hh:mm:ss), its results dated in the PS3.5 form', async () => {
    // As a migrated archive sends it; dcmjs writes such values only when told to allow them.
    const legacy = (bytes: Buffer): Buffer => {
      const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
      for (const [tag, vr, value] of [['00080021', 'DA', '2024.05.17'], ['00080022', 'DA', '2024.05.17'],
        ['00080031', 'TM', '09:00:00'], ['00080032', 'TM', '09:00:00']] as const) file.dict[tag] = { vr, Value: [value] };
      return Buffer.from(file.write({ allowInvalidVRLength: true }));
    };
    const study = syntheticPetStudy({ slices: 12 });
    const sink = new ArchiveResultSink(archive);
    await sink.store(study.instances.map(legacy));
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    const deps: AnalysisDeps = { source: new ArchiveStudySource(archive), sink, compute: pool, log };
    const result = await analyzeSeries({
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    }, deps, progress);
    const mip = archive.index.listInstances({ studyUid: study.studyInstanceUid }).find((i) => i.sopInstanceUid === result.mipSopInstanceUid);
    const json = JSON.parse(await archive.readMetadata(mip as NonNullable<typeof mip>)) as Record<string, { Value?: unknown[] }>;
    expect(['00080021', '00080031', '00080022', '00080032'].map((tag) => json[tag]?.Value?.[0]))
      .toEqual(['20240517', '090000', '20240517', '090000']);
  });

  test('keeps a source AccessionNumber longer than SH allows in its results, and says so at warn, once', async () => {
    const accession = 'ACC-2024-00012345'; // 17 characters: a RIS's, which the PACS matches the result by
    const withAccession = (bytes: Buffer): Buffer => {
      const file = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
      file.dict['00080050'] = { vr: 'SH', Value: [accession] };
      return Buffer.from(file.write({ allowInvalidVRLength: true }));
    };
    const study = syntheticPetStudy({ slices: 12 });
    const sink = new ArchiveResultSink(archive);
    await sink.store(study.instances.map(withAccession));
    const sourceUids = archive.index.listInstances({ studyUid: study.studyInstanceUid }).map((i) => i.sopInstanceUid);
    const lines: Array<{ level: number; msg: string; attributes?: string[] }> = [];
    const heard = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const result = await analyzeSeries({
      studyInstanceUid: study.studyInstanceUid, seriesInstanceUid: study.seriesInstanceUid, sopInstanceUids: sourceUids,
      contentHash: 'test', reason: 'study-complete', version: 1, resultUidSeed: randomUUID(),
    }, { source: new ArchiveStudySource(archive), sink, compute: pool, log: heard }, progress);

    expect(lines.filter((l) => l.attributes !== undefined)).toEqual([expect.objectContaining({ level: 40, attributes: ['AccessionNumber'],
      msg: 'source identifiers longer than their VR allows were copied unchanged into the MIP and SEG' })]);
    const seg = archive.index.listInstances({ studyUid: study.studyInstanceUid }).find((i) => i.sopInstanceUid === result.segSopInstanceUid);
    const json = JSON.parse(await archive.readMetadata(seg as NonNullable<typeof seg>)) as Record<string, { Value?: unknown[] }>;
    expect(json['00080050']?.Value?.[0]).toBe(accession);
  });
});
