import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import type { JobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { GatewayMetrics, startGateway, type GatewayServer } from '@mipseg/gateway';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text';

/** mipseg_http_requests_total's route label on a real gateway: the whole route template, errors included. */

describe('mipseg_http_requests_total by route', () => {
  const log = pino({ level: 'silent' });
  let dataDir: string;
  let archive: Archive;
  let gateway: GatewayServer;
  let metrics: GatewayMetrics;
  let base: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-http-metrics-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0' });
    archive = await Archive.open(dataDir, log);
    // The routes under test read no job.
    const queue = { mode: 'embedded' } as unknown as JobQueue;
    metrics = new GatewayMetrics({ queue, exportDestinations: [], softwareVersion: 'test', log });
    gateway = await startGateway({ config, archive, log, metrics });
    base = `http://127.0.0.1:${gateway.port}`;
  });
  afterAll(async () => {
    await gateway.close(1000);
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('names an error answer by its mounted route template, as a success is', async () => {
    expect((await fetch(`${base}/dicomweb/studies`)).status).toBe(200);
    const unsupported = await fetch(`${base}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(unsupported.status).toBe(415);
    expect((await fetch(`${base}/dicomweb/studies/1.2.3.4/metadata`)).status).toBe(404);
    expect((await fetch(`${base}/no/such/path`)).status).toBe(404);
    const families = parsePrometheusText(await metrics.registry.metrics());
    const requests = (method: string, route: string, statusClass: string) =>
      sampleValue(families, 'mipseg_http_requests_total', { method, route, status_class: statusClass });
    expect(requests('GET', '/dicomweb/studies', '2xx')).toBe(1);
    expect(requests('POST', '/dicomweb/studies', '4xx')).toBe(1);
    expect(requests('GET', '/dicomweb/studies/:study/metadata', '4xx')).toBe(1);
    expect(requests('GET', 'unmatched', '4xx')).toBe(1);
    const routes = families.get('mipseg_http_requests_total')?.samples.map((s) => s.labels.route) ?? [];
    expect(routes.filter((route) => route !== undefined && route !== 'unmatched' && !route.startsWith('/dicomweb/'))).toEqual([]);
  });
});
