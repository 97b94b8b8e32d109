/**
 * /metrics scrape cost with N jobs kept (default 10,000), each done with two exports, embedded (SQLite) and, with
 * `--queue`, in queue mode (a private Redis) too: JobQueue.jobCounts, a steady scrape (GatewayMetrics: job store read,
 * then every metric written) and the first scrape after all N finished (its histograms catching up, 2,000 jobs a
 * scrape; the steady ones after it), against the peer read the jobs API makes (listJobs, 100 jobs). Prints a Markdown table.
 * Run: `npx tsx test/bench/metrics-scrape-bench.ts [N] [--queue]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import type { Request, Response } from 'express';
import { BullMqJobQueue, EmbeddedJobQueue, type JobQueue, type ResultUids } from '../../shared/src/queue';
import { GatewayMetrics } from '../../services/gateway/src/metrics';
import { startRedis } from '../support/redis';
import { until } from '../support/until';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10_000);
const log = pino({ level: 'silent' });
const retry = { attempts: 1, baseDelayMs: 100 };
const DESTINATIONS = ['stow:http://127.0.0.1:1/a', 'dimse:X@127.0.0.1:1'];
const RESULT = (s: string): ResultUids => ({ studyInstanceUid: s, mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2',
  segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4', lesionCount: 1, tumourAreaMm2: 1, modelName: 'm', modelVersion: '1' });

/** A scrape as GET /metrics answers it, without HTTP: its handler with a response that keeps the body. */
async function scrape(metrics: GatewayMetrics): Promise<number> {
  let bytes = 0;
  const res = { set: () => res, send: (body: string) => { bytes = body.length; return res; } } as unknown as Response;
  await metrics.handler()({} as Request, res);
  return bytes;
}

async function fill(queue: JobQueue): Promise<void> {
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, r, progress) => {
    progress.timing('inference', 5);
    return Promise.resolve(RESULT(r.studyInstanceUid));
  }, exportResult: (_j, _r, d, a) => Promise.resolve({ destination: d, state: 'sent', attempts: a, updatedAt: Date.now() }) },
  { concurrency: 50, studyChecks: false, analyses: true });
  for (let i = 0; i < N; i++) {
    await queue.enqueueAnalysis(`seg-${i}`, { studyInstanceUid: `1.2.${i}`, seriesInstanceUid: `1.2.${i}.1`, sopInstanceUids: ['1'], contentHash: String(i), reason: 'study-complete' });
  }
  await until(async () => ((await queue.jobCounts()).exports.filter((e) => e.state === 'sent').reduce((n, e) => n + e.count, 0) === 2 * N ? true : undefined),
    'every job done and exported', { timeoutMs: 1_800_000, pollMs: 500 });
}

async function timed(fn: () => Promise<unknown>, runs = 5): Promise<string> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.map((t) => t.toFixed(1)).join(', ');
}

async function measure(mode: string, queue: JobQueue): Promise<string[]> {
  const metrics = new GatewayMetrics({ queue, exportDestinations: DESTINATIONS, softwareVersion: 'bench', log });
  const t0 = Date.now();
  await fill(queue);
  const filled = Date.now() - t0;
  const first = performance.now();
  const bytes = await scrape(metrics);
  const firstMs = performance.now() - first;
  // The rest of the catching up, so that the scrapes timed below are the steady ones (nothing new to count).
  for (let caught = 2000; caught < N; caught += 2000) await scrape(metrics);
  return [
    `| ${mode}: filling (${N} jobs done, ${2 * N} exports sent) | ${filled} ms once |`,
    `| ${mode}: first scrape after they finished (histograms catch up) | ${firstMs.toFixed(1)} ms once (${bytes} bytes) |`,
    `| ${mode}: JobQueue.jobCounts | ${await timed(() => queue.jobCounts())} ms |`,
    `| ${mode}: steady scrape (GET /metrics handler; all ${N} finished within the last ${Math.ceil(filled / 1000)} s, those of LATE_FINISH_MS's window read again) | ${await timed(() => scrape(metrics))} ms |`,
    `| ${mode}: peer, listJobs limit 100 (GET /api/jobs) | ${await timed(() => queue.listJobs({ limit: 100, offset: 0 }))} ms |`,
  ];
}

async function main(): Promise<void> {
  const rows = ['| read | five runs (or once) |', '| --- | --- |'];
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-metrics-bench-'));
  const embedded = new EmbeddedJobQueue(join(dir, 'jobs.sqlite'), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: DESTINATIONS, pollMs: 20 });
  try {
    rows.push(...(await measure('embedded', embedded)));
  } finally {
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (process.argv.includes('--queue')) {
    const redis = await startRedis();
    const queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `b-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
      exportDestinations: DESTINATIONS, lockDurationMs: 30000 }, log);
    try {
      rows.push(...(await measure('queue mode', queue)));
    } finally {
      await queue.close();
      await redis.stop();
    }
  }
  console.log(rows.join('\n'));
}
void main();
