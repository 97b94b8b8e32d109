import Database from 'better-sqlite3';
import pino from 'pino';
import type { Request, Response } from 'express';
import type { DoneAnalysis, JobCounts, JobQueue } from '@mipseg/shared/queue';
import { embeddedJobCounts } from '../../shared/src/queue/embedded-job-counts';
import { EMBEDDED_JOBS_SCHEMA } from '../../shared/src/queue/embedded-schema';
import { StatementCache } from '../../shared/src/store/statement-cache';
import { GatewayMetrics } from '../../services/gateway/src/metrics';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../support/prometheus-text';

/**
 * The job store as a real GatewayMetrics shows it, read from a fake queue whose answers (and their clock) the tests
 * set: what a worker's clock, a slow Redis or an odd row does to the gauges and histograms.
 */

const NO_JOBS: JobCounts = { byState: { queued: 0, running: 0, done: 0, 'not-applicable': 0, failed: 0 }, oldestWaitingCreatedAt: null, exports: [] };

interface FakeQueue {
  readonly queue: JobQueue;
  readonly done: DoneAnalysis[];
}

function fakeQueue(mode: JobQueue['mode'], counts: () => Promise<JobCounts> = () => Promise.resolve(NO_JOBS),
  doneSince?: JobQueue['analysesDoneSince']): FakeQueue {
  const done: DoneAnalysis[] = [];
  const analysesDoneSince = doneSince ?? ((since: number, limit: number, except: ReadonlySet<string>) =>
    Promise.resolve(done.filter((d) => d.finishedAt >= since && !except.has(d.id))
      .sort((a, b) => a.finishedAt - b.finishedAt || a.id.localeCompare(b.id)).slice(0, limit)));
  // Only what JobMetrics reads of a queue.
  const queue = { mode, jobCounts: counts, analysesDoneSince } as unknown as JobQueue;
  return { queue, done };
}

function metricsOf(queue: JobQueue): GatewayMetrics {
  return new GatewayMetrics({ queue, exportDestinations: [], softwareVersion: 'test', log: pino({ level: 'silent' }) });
}

async function scrape(metrics: GatewayMetrics): Promise<Map<string, MetricFamily>> {
  let body = '';
  const res = { set: () => res, send: (text: string) => { body = text; return res; } } as unknown as Response;
  await metrics.handler()({} as Request, res);
  return parsePrometheusText(body);
}

const inferences = (families: Map<string, MetricFamily>): number | undefined =>
  sampleValue(families, 'mipseg_analysis_stage_duration_seconds_count', { stage: 'inference' });

function doneAt(id: string, finishedAt: number): DoneAnalysis {
  return { id, studyInstanceUid: `1.2.3.${id.length}`, reason: 'study-complete', createdAt: finishedAt - 1000, finishedAt, timingsMs: { inference: 500 } };
}

describe('GET /metrics histograms of done analyses', () => {
  let now: number;
  beforeEach(() => {
    now = 1_700_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  test.each(['bullmq', 'embedded'] as const)('keeps counting jobs done after one stamped by a clock 5 minutes fast (%s)', async (mode) => {
    const { queue, done } = fakeQueue(mode);
    const metrics = metricsOf(queue);
    now += 10_000;
    done.push(doneAt('a', now - 1000));
    expect(inferences(await scrape(metrics))).toBe(1);
    done.push(doneAt('fast', now + 300_000));
    expect(inferences(await scrape(metrics))).toBe(2);
    for (let i = 0; i < 10; i++) {
      now += 15_000;
      done.push(doneAt(`b${i}`, now - 500));
      expect(inferences(await scrape(metrics))).toBe(3 + i);
    }
  });

  test('keeps counting after the gateway\'s own clock was stepped back', async () => {
    const { queue, done } = fakeQueue('embedded');
    const metrics = metricsOf(queue);
    now += 600_000;
    done.push(doneAt('ahead', now - 100));
    expect(inferences(await scrape(metrics))).toBe(1);
    now -= 300_000;
    done.push(doneAt('after-step', now - 100));
    expect(inferences(await scrape(metrics))).toBe(2);
  });
});

describe('GET /metrics of a slow job queue', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  test('answers within one 5 s limit for all its reads, not one per read, with job_queue_up 0 and the counts it read', async () => {
    const counts = (): Promise<JobCounts> => new Promise((resolve) => setTimeout(() => resolve({ ...NO_JOBS, byState: { ...NO_JOBS.byState, done: 7 } }), 4900));
    // Redis answers the counts slowly, then not at all.
    const { queue } = fakeQueue('bullmq', counts, () => new Promise(() => undefined));
    const metrics = metricsOf(queue);
    let answered: Map<string, MetricFamily> | undefined;
    void scrape(metrics).then((families) => { answered = families; });
    await jest.advanceTimersByTimeAsync(5001);
    if (answered === undefined) throw new Error('no answer within 5 s');
    expect(sampleValue(answered, 'mipseg_job_queue_up')).toBe(0);
    expect(sampleValue(answered, 'mipseg_jobs', { state: 'done' })).toBe(7);
  });
});

describe('GET /metrics of job store rows in states it does not know', () => {
  test('counts an export in an unknown state under state="unknown", never as a label value of its own', async () => {
    const counts = { ...NO_JOBS, exports: [{ destination: 'stow:http://pacs/dicomweb', state: 'bogus"state', count: 2 },
      { destination: 'stow:http://pacs/dicomweb', state: 'constructor', count: 1 },
      { destination: 'stow:http://pacs/dicomweb', state: 'sent', count: 5 }] } as unknown as JobCounts;
    const { queue } = fakeQueue('embedded', () => Promise.resolve(counts));
    const families = await scrape(metricsOf(queue));
    const states = families.get('mipseg_exports')?.samples.map((s) => s.labels.state) ?? [];
    expect(states.sort()).toEqual(['sent', 'unknown']);
    expect(sampleValue(families, 'mipseg_exports', { destination: 'stow:http://pacs/dicomweb', state: 'unknown' })).toBe(3);
  });

  test('embedded: a job in an unknown state, or one named like an Object property, is not counted as a state', () => {
    const db = new Database(':memory:');
    db.exec(EMBEDDED_JOBS_SCHEMA.sql);
    const insert = db.prepare('INSERT INTO jobs (id, study_uid, state, created_at) VALUES (?, ?, ?, 0)');
    for (const [id, state] of [['a', 'done'], ['b', 'constructor'], ['c', 'toString'], ['d', 'paused']]) insert.run(id, '1.2.3', state);
    const counts = embeddedJobCounts(new StatementCache(db), Date.now());
    expect(Object.keys(counts.byState).sort()).toEqual(['done', 'failed', 'not-applicable', 'queued', 'running']);
    expect(counts.byState.done).toBe(1);
    db.close();
  });
});

describe('mipseg_result_latency_seconds buckets', () => {
  const bucketsOf = async (metrics: GatewayMetrics): Promise<number[]> =>
    ((await scrape(metrics)).get('mipseg_result_latency_seconds')?.samples ?? [])
      .filter((s) => s.name === 'mipseg_result_latency_seconds_bucket').map((s) => Number(s.labels.le));

  test('are fine over the quiet period and the 5 s after it, so that a study\'s analysis time shows', async () => {
    const buckets = await bucketsOf(metricsOf(fakeQueue('embedded').queue));
    // QUIET_PERIOD_MS's default, 5 s: at most a second apart from 5 to 10 s.
    for (let s = 5; s < 10; s++) expect(buckets.filter((b) => b > s && b <= s + 1).length).toBeGreaterThanOrEqual(1);
    expect(buckets.filter((b) => b >= 5 && b <= 10).length).toBeGreaterThanOrEqual(8);
  });

  test('follow the configured quiet period', async () => {
    const metrics = new GatewayMetrics({ queue: fakeQueue('embedded').queue, exportDestinations: [], softwareVersion: 'test', quietPeriodMs: 60_000,
      log: pino({ level: 'silent' }) });
    const buckets = await bucketsOf(metrics);
    expect(buckets.filter((b) => b >= 60 && b <= 65).length).toBeGreaterThanOrEqual(8);
  });
});
