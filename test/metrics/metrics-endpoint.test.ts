import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readModelManifest } from '@mipseg/shared/inference';
import { killAndWait, startMipsegProcess, startMipsegWorker, type MipsegProcess } from '../support/mipseg-process';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../support/prometheus-text';
import { freePort, startRedis, type TestRedis } from '../support/redis';
import { postStow } from '../support/stow';
import { syntheticPetSeries, type SyntheticPetSeries } from '../support/synthetic-pet';
import { until } from '../support/until';

/**
 * GET /metrics of a real `mipseg serve` with AUTH_TOKENS set, embedded (SQLite job store) and in queue mode (a private
 * redis-server and a `mipseg worker`): a synthetic whole-body PET sent by STOW-RS is analysed, and its export to a PACS
 * that is down (nothing listens on its port) retries.
 */

const TOKEN = 'metrics-test-token-0123456789';
const MODEL_DIR = resolve(__dirname, '..', '..', 'models', 'mip-attention-unet');
const auth = { authorization: `Bearer ${TOKEN}` };

/**
 * A body with a hot lesion, as a MIP in network input units (0..1), 48 wide and `height` high: one slice per row, and
 * whole-body (over 500 mm, so analysed) at 280.
 */
async function syntheticStudy(height: number): Promise<SyntheticPetSeries> {
  const manifest = await readModelManifest(MODEL_DIR);
  const width = 48;
  const data = new Float32Array(width * height);
  for (let y = 8; y < height - 8; y++) for (let x = 12; x < width - 12; x++) data[y * width + x] = 0.15;
  for (let y = 60; y < 66; y++) for (let x = 20; x < 26; x++) data[y * width + x] = 0.9;
  return syntheticPetSeries({ width, height, data }, { suvWhite: manifest.input.intensity.fromSuv.suvWhite as number,
    pixelSpacingMm: manifest.input.pixelSpacingMm, apRows: 16, patientId: 'METRICS-001' });
}

async function scrape(port: number, headers: Record<string, string> = auth): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

interface ApiJob {
  id: string;
  state: string;
  exports: Array<{ destination: string; state: string }>;
}

async function jobsOf(port: number, study: string): Promise<ApiJob[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/jobs?study=${study}`, { headers: auth });
  return ((await res.json()) as ApiJob[]);
}

async function allJobs(port: number): Promise<ApiJob[]> {
  return (await (await fetch(`http://127.0.0.1:${port}/api/jobs?limit=1000`, { headers: auth })).json()) as ApiJob[];
}

describe.each(['embedded', 'queue mode'])('GET /metrics of mipseg serve (%s)', (mode) => {
  let dataDir: string;
  let service: MipsegProcess;
  let worker: MipsegProcess | undefined;
  let redis: TestRedis | undefined;
  let port: number;
  let pacs: string;
  let series: SyntheticPetSeries;
  let small: SyntheticPetSeries;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-metrics-'));
    pacs = `stow:http://127.0.0.1:${await freePort()}/dicomweb`;
    redis = mode === 'queue mode' ? await startRedis() : undefined;
    const common = { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: '1500', EXPORT_DESTINATIONS: pacs,
      ...(redis ? { REDIS_URL: redis.url, QUEUE_PREFIX: `m-${randomUUID()}` } : {}) };
    service = await startMipsegProcess({ ...common, DATA_DIR: dataDir });
    port = service.httpPort;
    if (redis) {
      worker = await startMipsegWorker({ ...common, GATEWAY_URL: `http://127.0.0.1:${port}/dicomweb`, DATA_DIR: join(dataDir, 'worker-unused') });
    }
    series = await syntheticStudy(280);
    small = await syntheticStudy(20);
  }, 120_000);
  afterAll(async () => {
    if (worker) await killAndWait(worker.child, 'SIGKILL');
    await killAndWait(service.child, 'SIGTERM');
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('answers 401 without a configured token and 200 with one, while /healthz stays open', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer not-the-token-0123456789' } })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).status).toBe(200);
  });

  test('answers in the text exposition format, with process metrics, the service and model versions', async () => {
    const families = await scrape(port);
    expect(families.get('mipseg_process_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('mipseg_nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    const manifest = await readModelManifest(MODEL_DIR);
    expect(sampleValue(families, 'mipseg_model_info', { name: manifest.name, version: manifest.version })).toBe(1);
    expect(families.get('mipseg_service_info')?.samples).toHaveLength(1);
    for (const family of families.values()) expect(family.help).not.toBe('');
  });

  test('counts a STOW-stored instance, a re-sent one and a refused one, by outcome and error code', async () => {
    const stored = (await scrape(port));
    const before = (outcome: string, code?: string) =>
      sampleValue(stored, 'mipseg_instances_received_total', { route: 'stowrs', outcome, ...(code ? { error_code: code } : {}) }) ?? 0;
    const [first] = small.instances as [Buffer];
    expect((await postStow(`http://127.0.0.1:${port}/dicomweb/studies`, [first], { headers: auth })).status).toBe(200);
    expect((await postStow(`http://127.0.0.1:${port}/dicomweb/studies`, [first], { headers: auth })).status).toBe(200);
    expect((await postStow(`http://127.0.0.1:${port}/dicomweb/studies`, [Buffer.alloc(300, 7)], { headers: auth })).status).toBe(400);
    const after = await scrape(port);
    const value = (outcome: string, code?: string) =>
      sampleValue(after, 'mipseg_instances_received_total', { route: 'stowrs', outcome, ...(code ? { error_code: code } : {}) }) ?? 0;
    expect(value('stored') - before('stored')).toBe(1);
    expect(value('re-sent-same') - before('re-sent-same')).toBe(1);
    expect(value('refused', 'MIPSEG_DICOM_UNPARSEABLE') - before('refused', 'MIPSEG_DICOM_UNPARSEABLE')).toBe(1);
    expect(sampleValue(after, 'mipseg_ingest_bytes_total', { route: 'stowrs' })).toBeGreaterThanOrEqual(2 * first.length + 300);
    // Requests by route template: the STOW route, never a path with a UID in it.
    expect(sampleValue(after, 'mipseg_http_requests_total', { method: 'POST', route: '/dicomweb/studies', status_class: '2xx' })).toBe(2);
    const routes = after.get('mipseg_http_requests_total')?.samples.map((s) => s.labels.route) ?? [];
    expect(routes.filter((r) => r !== undefined && /\d+\.\d+\.\d+/.test(r))).toEqual([]);
  });

  test('counts an instance stored by C-STORE under its own route', async () => {
    const file = join(dataDir, 'by-c-store.dcm');
    writeFileSync(file, small.instances[1] as Buffer);
    const sent = spawnSync('storescu', ['-aet', 'STORESCU', '-aec', 'MIPSEG', '127.0.0.1', String(service.dimsePort), file], { encoding: 'utf8' });
    expect(sent.status).toBe(0);
    const families = await scrape(port);
    expect(sampleValue(families, 'mipseg_instances_received_total', { route: 'cstore', outcome: 'stored' })).toBe(1);
    expect(sampleValue(families, 'mipseg_ingest_bytes_total', { route: 'cstore' })).toBeGreaterThan(0);
  });

  test('shows a done analysis\'s durations once, however often scraped, and its export\'s state', async () => {
    for (let i = 0; i < series.instances.length; i += 100) {
      expect((await postStow(`http://127.0.0.1:${port}/dicomweb/studies`, series.instances.slice(i, i + 100), { headers: auth })).status).toBe(200);
    }
    let seen: ApiJob[] = [];
    const [job] = await until(async () => {
      seen = await jobsOf(port, series.studyInstanceUid);
      return seen.some((j) => j.state === 'done' && j.exports.some((e) => e.state === 'retrying')) ? seen : undefined;
    }, 'the analysis to be done and its export to retry', { timeoutMs: 60_000 }).catch((err: unknown) => {
      throw new Error(`${String(err)}; jobs: ${JSON.stringify(seen)}`);
    });
    expect(job?.state).toBe('done');
    // Two Prometheus servers scraping at the same moment, then one again: the job is counted once.
    const [first, second] = await Promise.all([scrape(port), scrape(port)]);
    const third = await scrape(port);
    // Every job the API lists (a study of another test may be not applicable: queue mode counts that as done).
    const byState: Record<string, number> = { queued: 0, running: 0, done: 0, 'not-applicable': 0, failed: 0 };
    for (const { state } of await allJobs(port)) {
      const shown = mode === 'queue mode' && state === 'not-applicable' ? 'done' : state;
      byState[shown] = (byState[shown] ?? 0) + 1;
    }
    for (const families of [first, second, third]) {
      for (const [state, n] of Object.entries(byState)) expect(sampleValue(families, 'mipseg_jobs', { state })).toBe(n);
      expect(sampleValue(families, 'mipseg_oldest_waiting_job_age_seconds')).toBe(0);
      expect(sampleValue(families, 'mipseg_job_queue_up')).toBe(1);
      expect(sampleValue(families, 'mipseg_exports', { destination: pacs, state: 'retrying' })).toBe(1);
      expect(sampleValue(families, 'mipseg_exports', { destination: pacs, state: 'failed' })).toBe(0);
      expect(sampleValue(families, 'mipseg_result_latency_seconds_count')).toBe(1);
      expect(sampleValue(families, 'mipseg_result_latency_seconds_sum')).toBeGreaterThanOrEqual(1.5); // the quiet period at least
      // Buckets from QUIET_PERIOD_MS (1.5 s here), not its default of 5 s: the quiet period, then every 0.5 s.
      expect(sampleValue(families, 'mipseg_result_latency_seconds_bucket', { le: '1.5' })).toBe(0);
      expect(sampleValue(families, 'mipseg_result_latency_seconds_bucket', { le: '2' })).toBeDefined();
      expect(sampleValue(families, 'mipseg_analysis_stage_duration_seconds_count', { stage: 'inference' })).toBe(1);
      expect(sampleValue(families, 'mipseg_analysis_stage_duration_seconds_bucket', { stage: 'inference', le: '+Inf' })).toBe(1);
    }
  }, 150_000);
});
