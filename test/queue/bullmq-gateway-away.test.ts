import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { BullMqJobQueue, type AnalysisRequest, type JobRecord, type ResultUids } from '@mipseg/shared/queue';
import { StowResultSink } from '../../services/worker/src/pipeline/result-sink';
import { DicomwebStudySource } from '../../services/worker/src/pipeline/study-source';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { startRedis, type TestRedis } from '../support/redis';
import { postStow } from '../support/stow';
import { until } from '../support/until';

/**
 * A queue-mode worker behind a reverse proxy: while the gateway restarts, the proxy answers 502, 503 or 504. That is the
 * gateway away, as a refused connection is: waited for, using no attempt. A download cut short is not (see its test).
 */
const retry = { attempts: 2, baseDelayMs: 100 };
/** More than the attempts: with each using one, the job failed for good. */
const AWAY_ANSWERS = 3;
const STUDY = '2.25.700';
const SERIES = '2.25.9601';

const RESULT: ResultUids = {
  studyInstanceUid: STUDY, mipSeriesInstanceUid: '2.25.1', mipSopInstanceUid: '2.25.2', segSeriesInstanceUid: '2.25.3', segSopInstanceUid: '2.25.4',
  lesionCount: 0, tumourAreaMm2: 0, modelName: 'm', modelVersion: '1',
};

type RequestKind = 'retrieve' | 'search' | 'store';
type AwayAnswer = 404 | 500 | 502 | 503 | 504 | 'cut' | 'misrouted';

function slice(n: number, series = SERIES): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${series}.${n}`, seriesInstanceUid: series, imagePositionPatient: [0, 0, n] }));
}

function kindOf(req: IncomingMessage): RequestKind {
  return req.method === 'POST' ? 'store' : req.url?.includes('?') ? 'search' : 'retrieve';
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A reverse proxy to the gateway that answers `answer` to the first `times` requests of `kind` (a cut: half the series). */
async function startProxy(gatewayOrigin: string, kind: RequestKind, answer: AwayAnswer, times: number): Promise<{ server: Server; url: string }> {
  let left = times;
  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const away = kindOf(req) === kind && left > 0;
    if (away) left--;
    if (away && answer !== 'cut' && answer !== 'misrouted') return void res.writeHead(answer, { 'Content-Type': 'text/html' }).end(`<h1>${answer}</h1>`);
    const headers = Object.fromEntries(Object.entries(req.headers)
      .filter(([name]) => !['host', 'connection', 'content-length'].includes(name)).map(([name, value]) => [name, String(value)]));
    // Misrouted: to a path the gateway does not serve, as a GATEWAY_URL without its /dicomweb would be.
    const path = away && answer === 'misrouted' ? (req.url ?? '').replace('/dicomweb', '/elsewhere') : req.url ?? '';
    const upstream = await fetch(`${gatewayOrigin}${path}`, { method: req.method ?? 'GET', headers,
      ...(req.method === 'POST' ? { body: new Uint8Array(await body(req)) } : {}) });
    const bytes = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'application/octet-stream', 'Content-Length': bytes.length });
    if (!away || answer === 'misrouted') return void res.end(bytes);
    res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
  };
  const server = createServer((req, res) => void forward(req, res).catch(() => res.socket?.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicomweb` };
}

let redis: TestRedis;
let gateway: TestArchiveServer;
let queue: BullMqJobQueue | undefined;
let proxy: Server | undefined;

beforeAll(async () => {
  redis = await startRedis();
  gateway = await startTestArchive();
  expect((await postStow(`${gateway.baseUrl}/studies`, [slice(1), slice(2)])).status).toBe(200);
});
afterAll(async () => {
  await gateway.stop();
  await redis.stop();
});
afterEach(async () => {
  await queue?.close();
  if (proxy) await new Promise((r) => proxy?.close(r));
  queue = undefined;
  proxy = undefined;
});

let stores = 0;

/** Runs one analysis that reads its series, asks whether it is still stored and stores a result, all through the proxy. */
async function analyseBehindProxy(kind: RequestKind, answer: AwayAnswer, times: number): Promise<{ job: JobRecord; runs: number }> {
  const started = await startProxy(gateway.baseUrl.replace('/dicomweb', ''), kind, answer, times);
  proxy = started.server;
  const source = new DicomwebStudySource(started.url);
  const sink = new StowResultSink(started.url);
  queue = new BullMqJobQueue({ redisUrl: redis.url, prefix: `t-${randomUUID()}`, analysisRetry: retry, exportRetry: retry,
    exportDestinations: [], lockDurationMs: 5000 }, pino({ level: 'silent' }));
  let runs = 0;
  // Stored beside the series, not in it: each test reads the same two instances.
  const result = slice(++stores, RESULT.mipSeriesInstanceUid);
  queue.startProcessing({ checkStudy: () => Promise.resolve(), analyze: async () => {
    runs++;
    expect(await source.readSeries(STUDY, SERIES, [`${SERIES}.1`, `${SERIES}.2`])).toHaveLength(2);
    expect(await source.hasSeries(STUDY, SERIES)).toBe(true);
    await sink.store([result]);
    return RESULT;
  } }, { concurrency: 1, studyChecks: false, analyses: true });
  const request: AnalysisRequest = { studyInstanceUid: STUDY, seriesInstanceUid: SERIES, sopInstanceUids: [`${SERIES}.1`, `${SERIES}.2`],
    contentHash: 'abc', reason: 'study-complete', version: 1 };
  await queue.enqueueAnalysis('job-away', request);
  const job = await until(async () => {
    const j = await queue?.getJob('job-away');
    return j && ['done', 'failed'].includes(j.state) ? j : undefined;
  }, 'the analysis to finish', { timeoutMs: 30_000 });
  return { job, runs };
}

test.each<[AwayAnswer, RequestKind]>([[503, 'retrieve'], [502, 'retrieve'], [504, 'retrieve'], [503, 'search'], [404, 'search'], [503, 'store'], [502, 'store']])(
  'a gateway answering %s to the series %s more often than the job has attempts is waited for, and the job completes', async (answer, kind) => {
    const { job, runs } = await analyseBehindProxy(kind, answer, AWAY_ANSWERS);
    expect([job.state, job.failureReason, runs]).toEqual(['done', null, AWAY_ANSWERS + 1]);
  });

test('a series download cut short uses an attempt, as a 500 does: the gateway was reached, and cuts an answer so when a stored file fails', async () => {
  const { job, runs } = await analyseBehindProxy('retrieve', 'cut', AWAY_ANSWERS);
  expect([job.state, runs]).toEqual(['failed', retry.attempts]);
  expect(job.failureReason).not.toContain('gateway unreachable');
});

test('a 404 from the gateway itself (its own error body: a GATEWAY_URL with the wrong path) uses attempts, not the wait', async () => {
  const { job, runs } = await analyseBehindProxy('search', 'misrouted', AWAY_ANSWERS);
  expect([job.state, runs]).toEqual(['failed', retry.attempts]);
  expect(job.failureReason).not.toContain('gateway unreachable');
});

test('a gateway answering 500 has been reached: each uses an attempt, and the job fails once they are used', async () => {
  const { job, runs } = await analyseBehindProxy('retrieve', 500, AWAY_ANSWERS);
  expect([job.state, job.failureCode, runs]).toEqual(['failed', 'MIPSEG_INTERNAL', retry.attempts]);
  expect(job.failureReason).not.toContain('gateway unreachable');
});
