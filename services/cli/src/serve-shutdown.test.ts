import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '@mipseg/shared/config';
import { createLogger } from '@mipseg/shared/log';
import { EmbeddedJobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { freePort } from '../../../test/support/redis';
import { serve } from './serve';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
const RETRY = { attempts: 1, baseDelayMs: 100 };

/** A STOW request of one whole part, as bytes to write on a socket. */
function stowRequest(port: number, instance: Buffer): Buffer {
  const boundary = `b-${randomUUID()}`;
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), instance,
    Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return Buffer.concat([Buffer.from(`POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`
    + `Content-Type: multipart/related; type="application/dicom"; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
}

describe('mipseg serve shutting down while a store is under way', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-serve-shutdown-'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a part that arrived whole before its connection was cut is stored and indexed before the index closes', async () => {
    const log = createLogger('silent');
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', DIMSE_ENABLED: 'false' });
    const service = await serve(config, log, { modelDir: MODEL_DIR, softwareVersion: 'test' });
    // The part is held between its end and the archive's store (a slow fdatasync of a large part), until the
    // shutdown waits for stores.
    let entered: () => void = () => undefined;
    const publishing = new Promise<void>((r) => (entered = r));
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const { storeReceived } = Archive.prototype as { storeReceived: (this: Archive, ...args: Parameters<Archive['storeReceived']>) => ReturnType<Archive['storeReceived']> };
    jest.spyOn(Archive.prototype, 'storeReceived').mockImplementation(async function (this: Archive, ...args) {
      entered();
      await released;
      return storeReceived.apply(this, args);
    });
    const { settle } = Archive.prototype as { settle: (this: Archive, timeoutMs: number) => Promise<boolean> };
    jest.spyOn(Archive.prototype, 'settle').mockImplementation(function (this: Archive, timeoutMs: number) {
      release();
      return settle.call(this, timeoutMs);
    });
    const sop = '2.25.5150001';
    const socket = connect(service.httpPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(stowRequest(service.httpPort, Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: '2.25.5150000',
      imagePositionPatient: [0, 0, 0], attributes: { StudyInstanceUID: '2.25.5149999' } }))));
    await publishing;
    // The connection is gone (a client gone, or the grace period's end), and the shutdown begins.
    socket.destroy();
    expect(await service.close()).toBe(true);

    const archive = await Archive.open(dataDir, log);
    try {
      const stored = archive.index.findInstance(sop);
      expect(stored).toBeDefined();
      expect(existsSync(join(dataDir, String(stored?.storageKey)))).toBe(true);
    } finally {
      archive.close();
    }
    // And its study's check was recorded before the job store closed: the study is analysed after the restart.
    const queue = new EmbeddedJobQueue(join(dataDir, 'jobs.sqlite'), log, { analysisRetry: RETRY, exportRetry: RETRY, exportDestinations: [] });
    try {
      expect(await queue.pendingStudies()).toEqual(['2.25.5149999']);
    } finally {
      await queue.close();
    }
  }, 30_000);
});

describe('mipseg serve failing to start part-way (its HTTP port in use)', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mipseg-serve-start-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  test('closes what it had started: the DIMSE port and DATA_DIR are free again', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const dimsePort = await freePort();
    try {
      const config = loadConfig({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String((taken.address() as AddressInfo).port), DIMSE_PORT: String(dimsePort) });
      await expect(serve(config, createLogger('silent'), { modelDir: MODEL_DIR, softwareVersion: 'test' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The DIMSE SCP started before the gateway failed: its port is free again, and so is DATA_DIR's lock.
      const again = createServer();
      await new Promise<void>((resolve, reject) => { again.once('error', reject); again.listen(dimsePort, '127.0.0.1', resolve); });
      await new Promise((r) => again.close(r));
      const archive = await Archive.open(dataDir, createLogger('silent'));
      archive.close();
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
