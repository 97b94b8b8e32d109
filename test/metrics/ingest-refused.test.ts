import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '@mipseg/shared/config';
import type { JobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { GatewayMetrics, startGateway, type GatewayServer } from '@mipseg/gateway';
import { startDimseServer, type DimseServer } from '@mipseg/dimse';
import { runTool, SCP_AE_TITLE, syntheticInstance } from '../dimse/dimse-test-kit';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text';
import { postStow } from '../support/stow';

const PET = '1.2.840.10008.5.1.4.1.1.128';

/** mipseg_instances_received_total counts instances refused while still arriving, which never reach the archive. */
describe('mipseg_instances_received_total of instances refused as they arrive', () => {
  const log = pino({ level: 'silent' });
  let dataDir: string;
  let archive: Archive;
  let gateway: GatewayServer;
  let dimse: DimseServer;
  let metrics: GatewayMetrics;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-ingest-refused-'));
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_PORT: '0', DIMSE_AE_TITLE: SCP_AE_TITLE, MAX_INSTANCE_BYTES: '65536' });
    archive = await Archive.open(dataDir, log);
    // Nothing here reads a job.
    metrics = new GatewayMetrics({ queue: { mode: 'embedded' } as unknown as JobQueue, exportDestinations: [], softwareVersion: 'test', log });
    gateway = await startGateway({ config, archive, log, metrics });
    dimse = await startDimseServer({ config, archive: metrics.ingest.counting(archive, 'cstore'), log });
  });
  afterAll(async () => {
    await dimse.close(2000);
    await gateway.close(1000);
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const refused = async (route: string, code: string): Promise<number | undefined> =>
    sampleValue(parsePrometheusText(await metrics.registry.metrics()), 'mipseg_instances_received_total', { route, outcome: 'refused', error_code: code });

  test('by STOW-RS: a part over MAX_INSTANCE_BYTES and a part of another type', async () => {
    const url = `http://127.0.0.1:${gateway.port}/dicomweb/studies`;
    const large = syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.701', modality: 'PT', pixelDataBytes: 100_000 });
    expect((await postStow(url, [large])).status).toBe(413);
    expect((await postStow(url, [large.subarray(0, 1000)], { partContentType: 'application/octet-stream' })).status).toBe(400);
    expect(await refused('stowrs', 'MIPSEG_PAYLOAD_TOO_LARGE')).toBe(1);
    expect(await refused('stowrs', 'MIPSEG_DICOM_UNPARSEABLE')).toBe(1);
  });

  test('by C-STORE: a data set over MAX_INSTANCE_BYTES', async () => {
    const path = join(dataDir, 'large.dcm');
    await writeFile(path, syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.702', modality: 'PT', pixelDataBytes: 100_000 }));
    await runTool('storescu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port), path]);
    expect(archive.index.findInstance('2.25.702')).toBeUndefined();
    expect(await refused('cstore', 'MIPSEG_PAYLOAD_TOO_LARGE')).toBe(1);
  });
});
