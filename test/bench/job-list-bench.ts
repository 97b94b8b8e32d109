/**
 * Job list benchmark, queue mode: N analyses (default 2,000) finished in a private Redis, each with two export
 * destinations, then the reads the worklist and its event stream make, three times each: the job list's first page
 * (all studies), the running and failed filters (as the event poll and GET /api/jobs?state= ask), and the worklist's
 * AI-status filter and results map. Prints a Markdown table. Run: `npx tsx test/bench/job-list-bench.ts [N]`.
 */
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { BullMqJobQueue, type ResultUids } from '../../shared/src/queue';
import { startRedis } from '../support/redis';
import { until } from '../support/until';

const N = Number(process.argv[2] ?? 2000);
const retry = { attempts: 1, baseDelayMs: 100 };
const RESULT = (s: string): ResultUids => ({ studyInstanceUid: s, mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2',
  segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4', lesionCount: 1, tumourAreaMm2: 1, modelName: 'm', modelVersion: '1' });
async function main() {
  const redis = await startRedis();
  const queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `b-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
    exportDestinations: ['stow:http://127.0.0.1:1/a', 'dimse:X@127.0.0.1:1'], lockDurationMs: 30000 }, pino({ level: 'silent' }));
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: (_id, r) => Promise.resolve(RESULT(r.studyInstanceUid)),
    exportResult: (_j, _r, d, a) => Promise.resolve({ destination: d, state: 'sent', attempts: a, updatedAt: Date.now() }) },
    { concurrency: 50, studyChecks: false, analyses: true });
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    await queue.enqueueAnalysis(`seg-${i}`, { studyInstanceUid: `1.2.${i}`, seriesInstanceUid: `1.2.${i}.1`, sopInstanceUids: ['1'], contentHash: String(i), reason: 'study-complete' });
  }
  await until(async () => ((await queue.getJob(`seg-${N - 1}`))?.state === 'done' ? true : undefined), 'done', { timeoutMs: 600_000 });
  await new Promise((r) => setTimeout(r, 3000));
  console.log(`${N} jobs finished in ${Date.now() - t0} ms\n\n| read (queue mode, ${N} jobs) | three runs |\n| --- | --- |`);
  for (const [name, fn] of [
    ['listJobs limit 50', () => queue.listJobs({ limit: 50, offset: 0 })],
    ['listJobs running 100', () => queue.listJobs({ state: 'running', limit: 100, offset: 0 })],
    ['listJobs failed 50', () => queue.listJobs({ state: 'failed', limit: 50, offset: 0 })],
    ['studiesWithLatestJobState failed', () => queue.studiesWithLatestJobState('failed')],
    ['latestDoneResults', () => queue.latestDoneResults()],
  ] as const) {
    const times: number[] = [];
    for (let r = 0; r < 3; r++) { const t = performance.now(); await (fn as () => Promise<unknown>)(); times.push(performance.now() - t); }
    console.log(`| ${name} | ${times.map((t) => t.toFixed(0)).join(', ')} ms |`);
  }
  await queue.close();
  await redis.stop();
}
void main();
