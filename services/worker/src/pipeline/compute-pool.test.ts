import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import * as dcmjs from 'dcmjs';
import { isMipsegError, MipsegError } from '@mipseg/shared/errors';
import { isUnrecoverable } from '@mipseg/shared/queue';
import { syntheticPetStudy } from '../../../../test/pipeline/faults/synthetic-pet-study';
import { GE_SERIES, readDicomFolder } from '../../../../test/pipeline/volume/ge-series-files';
import { CRASH_MESSAGE } from '../../../../test/support/crashing-analysis-thread';
import { sharedData } from '../../../../test/support/shared-data';
import type { AnalysisThreadInit } from './analysis-thread-protocol';
import { ComputePool, type ComputePoolOptions } from './compute-pool';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', '..', 'models', 'mip-attention-unet');
const CRASHING_THREAD = resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'crashing-analysis-thread.ts');
const THREAD: AnalysisThreadInit = {
  modelDir: MODEL_DIR,
  loadOptions: { threads: 1, executionProvider: 'cpu' },
  equipment: { manufacturerModelName: 'mipseg', softwareVersions: 'test', deviceSerialNumber: 'compute-pool-test' },
};
const log = pino({ level: 'silent' });

function startPool(options: Partial<ComputePoolOptions> = {}): Promise<ComputePool> {
  return ComputePool.start({ size: 2, thread: THREAD, log, ...options });
}

const noStages = () => undefined;

async function failureOf(promise: Promise<unknown>): Promise<MipsegError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof MipsegError)) throw new Error(`expected a MipsegError, got ${String(err)}`);
  return err;
}

function readPart10(bytes: Uint8Array): Record<string, unknown> {
  const file = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
}

/** Threads of this process, as Linux counts them: a closed pool must give its threads back. */
function osThreads(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Threads:'));
  return Number(line?.split(/\s+/)[1]);
}

/**
 * The thread count once it has held still for 100 ms: a pool closed a moment ago may still be joining its
 * threads, and a count read mid-way made this suite fail now and then.
 */
async function settledThreadCount(): Promise<number> {
  let last = osThreads();
  for (let steady = 0, tries = 0; steady < 5 && tries < 250; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = osThreads();
    steady = now === last ? steady + 1 : 0;
    last = now;
  }
  return last;
}

describe('analysis threads', () => {
  let pool: ComputePool;
  beforeAll(async () => {
    pool = await startPool();
  });
  afterAll(async () => pool?.close());

  test('derive a MIP and a SEG of the series, with the model and the stages it went through', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    const stages: string[] = [];
    const results = await pool.deriveSeriesResults(study.instances, (stage) => stages.push(stage));
    expect(stages).toEqual(['inference', 'write']);
    expect(Object.keys(results.timingsMs).sort()).toEqual(['decode', 'inference', 'mip', 'suv', 'write']);
    expect(results.model).toEqual({ name: 'mip-attention-unet', version: expect.any(String) });
    const mip = readPart10(results.mip.bytes);
    const seg = readPart10(results.seg.bytes);
    expect(mip).toMatchObject({ Modality: 'PT', StudyInstanceUID: study.studyInstanceUid, SOPInstanceUID: results.mip.sopInstanceUid,
      SeriesInstanceUID: results.mip.seriesInstanceUid });
    expect(seg).toMatchObject({ Modality: 'SEG', StudyInstanceUID: study.studyInstanceUid, SOPInstanceUID: results.seg.sopInstanceUid });
    expect(results.lesionAreasPx.every((a) => Number.isInteger(a) && a > 0)).toBe(true);
  });

  test('move the series to the thread without copying it where a buffer holds one instance', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    const owned = study.instances.map((b) => new Uint8Array(b)); // each its own ArrayBuffer
    await pool.deriveSeriesResults(owned, noStages);
    expect(owned.every((view) => view.byteLength === 0)).toBe(true); // moved: detached here
  });

  test('read a series given as local files in the thread, with the same result as from its bytes', async () => {
    const study = syntheticPetStudy({ slices: 12 });
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-pool-files-'));
    try {
      const files = study.instances.map((bytes, i) => {
        const file = join(dir, `${i}.dcm`);
        writeFileSync(file, bytes);
        return file;
      });
      const fromFiles = await pool.deriveSeriesResults({ files }, noStages);
      const fromBytes = await pool.deriveSeriesResults(study.instances, noStages);
      expect(fromFiles.lesionAreasPx).toEqual(fromBytes.lesionAreasPx);
      expect(readPart10(fromFiles.mip.bytes)['PixelData']).toEqual(readPart10(fromBytes.mip.bytes)['PixelData']);
      // A file that has gone fails the analysis (retryable), and the thread stays up for the next one.
      const err = await failureOf(pool.deriveSeriesResults({ files: [...files, join(dir, 'gone.dcm')] }, noStages));
      expect(err.code).toBe('MIPSEG_INTERNAL');
      expect(err.message).toContain('gone.dcm');
      await expect(pool.deriveSeriesResults({ files }, noStages)).resolves.toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fail a series with a missing slice with the same catalogue error as in the main thread', async () => {
    const study = syntheticPetStudy({ slices: 12, omit: [6] });
    const err = await failureOf(pool.deriveSeriesResults(study.instances, noStages));
    expect(err.code).toBe('MIPSEG_VOLUME_INVALID');
    expect(err.message).toContain('gap: 1 slice(s) missing');
    expect(isUnrecoverable(err)).toBe(true); // bad data fails the job at once
  });

  test('fail a series without PatientWeight with MIPSEG_SUV_UNAVAILABLE, naming the attribute', async () => {
    const study = syntheticPetStudy({ slices: 12, attributes: { PatientWeight: undefined } });
    const err = await failureOf(pool.deriveSeriesResults(study.instances, noStages));
    expect(isMipsegError(err, 'MIPSEG_SUV_UNAVAILABLE')).toBe(true);
    expect(err.message).toContain('PatientWeight (0010,1030)');
  });

  const ge = sharedData(GE_SERIES);
  (ge.available ? test : test.skip)('run two analyses at once, one on each thread', async () => {
    // Checked where the pool hands out work, not by when stages happen to be reported: on a loaded machine a thread
    // can finish its series before the other thread has been given the CPU to report anything.
    const first = pool.deriveSeriesResults(readDicomFolder(ge.path), noStages);
    const second = pool.deriveSeriesResults(readDicomFolder(ge.path), noStages);
    expect([pool.running, pool.waitingCount]).toEqual([2, 0]);
    const results = await Promise.all([first, second]);
    expect(results.map((r) => r.seg.bytes.length > 0)).toEqual([true, true]);
    expect(pool.running).toBe(0);
  });
});

describe('an analysis thread that crashes', () => {
  let pool: ComputePool;
  beforeAll(async () => {
    pool = await startPool({ size: 1, threadModule: CRASHING_THREAD });
  });
  afterAll(async () => pool?.close());

  test('fails its analysis with MIPSEG_INTERNAL, is replaced, and the next analysis succeeds', async () => {
    const err = await failureOf(pool.deriveSeriesResults([], noStages));
    expect(err.code).toBe('MIPSEG_INTERNAL');
    expect(err.message).toContain(CRASH_MESSAGE);
    expect(isUnrecoverable(err)).toBe(false); // retried, as any internal error
    const results = await pool.deriveSeriesResults(syntheticPetStudy({ slices: 12 }).instances, noStages);
    expect(results.seg.bytes.byteLength).toBeGreaterThan(0);
  });
});

describe('an analysis that does not end (ANALYSIS_TIMEOUT_MS)', () => {
  let pool: ComputePool;
  beforeAll(async () => {
    // Long enough for the good analysis after it on a loaded machine (under 1.5 s), short enough to wait for.
    pool = await startPool({ size: 1, threadModule: CRASHING_THREAD, analysisTimeoutMs: 3000 });
  });
  afterAll(async () => pool?.close());

  test('fails with MIPSEG_INTERNAL naming the limit, its thread is replaced, and the next analysis succeeds', async () => {
    const err = await failureOf(pool.deriveSeriesResults([new Uint8Array(0)], noStages));
    expect(err.code).toBe('MIPSEG_INTERNAL');
    expect(err.message).toContain('did not end within 3 s (ANALYSIS_TIMEOUT_MS)');
    expect(isUnrecoverable(err)).toBe(false);
    const results = await pool.deriveSeriesResults(syntheticPetStudy({ slices: 12 }).instances, noStages);
    expect(results.seg.bytes.byteLength).toBeGreaterThan(0);
  });
});

describe('starting and closing analysis threads', () => {
  let brokenModelDir: string | undefined;
  afterAll(() => {
    if (brokenModelDir) rmSync(brokenModelDir, { recursive: true, force: true });
  });

  test('a model that will not load fails the start with its catalogue error', async () => {
    brokenModelDir = mkdtempSync(join(tmpdir(), 'mipseg-model-'));
    for (const file of ['model.json', 'model.schema.json']) copyFileSync(join(MODEL_DIR, file), join(brokenModelDir, file));
    writeFileSync(join(brokenModelDir, 'model.onnx'), 'not the model the manifest names');
    const err = await failureOf(startPool({ thread: { ...THREAD, modelDir: brokenModelDir } }));
    expect(err.code).toBe('MIPSEG_MODEL_INVALID');
    expect(err.message).toContain('SHA-256');
  });

  test('close ends every thread and refuses further analyses', async () => {
    await (await startPool()).close(); // whatever the first pool of a process leaves running for good (ONNX Runtime's own)
    const before = await settledThreadCount();
    const pool = await startPool();
    try {
      expect(await settledThreadCount()).toBeGreaterThanOrEqual(before + 2);
    } finally {
      await pool.close(); // also when the count is wrong: open threads would keep jest from exiting
    }
    expect(await settledThreadCount()).toBeLessThanOrEqual(before);
    const err = await failureOf(pool.deriveSeriesResults(syntheticPetStudy({ slices: 12 }).instances, noStages));
    expect(err.code).toBe('MIPSEG_INTERNAL');
  });
});
