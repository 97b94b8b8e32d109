import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { until } from '../support/until';

/** Waits for `condition`; fails naming `what` after `timeoutMs`. */
const waitFor = (condition: () => boolean, what: string, timeoutMs: number) =>
  until(() => Promise.resolve(condition() ? true : undefined), what, { timeoutMs, pollMs: 20 });

const TIMEOUT_MS = 1000;
const BOUNDARY = 'inactivity-boundary';
const part = (sop: string) => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0], rows: 64, columns: 64 }));

/** A STOW request written by hand: its head and the multipart body, so that a test can send the body as it likes. */
function stowRequest(port: number, body: Buffer): Buffer {
  return Buffer.from(`POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${body.length}\r\n`
    + `Content-Type: multipart/related; type="application/dicom"; boundary=${BOUNDARY}\r\n\r\n`);
}

function multipart(instance: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), instance, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('HTTP_INACTIVITY_TIMEOUT_MS closes connections on which nothing moves', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive({ HTTP_INACTIVITY_TIMEOUT_MS: String(TIMEOUT_MS) });
  });
  afterAll(() => server.stop());

  const tempFiles = () => readdirSync(join(server.dataDir, 'tmp'));

  test('a STOW sender that stops mid-part loses its connection and leaves no temporary file', async () => {
    const body = multipart(part('2.25.7301'));
    const socket = await open(server.gateway.port);
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.write(Buffer.concat([stowRequest(server.gateway.port, body), body.subarray(0, body.length / 2)]));
    await waitFor(() => tempFiles().length === 1, 'the part\'s temporary file', 2000);
    const started = Date.now();
    await waitFor(() => closed, 'the server to close the quiet connection', TIMEOUT_MS * 4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS / 2);
    await waitFor(() => tempFiles().length === 0, 'the temporary file to be removed', 2000);
    expect(server.archive.index.listInstances({ studyUid: '2.25.700' })).toEqual([]);
  });

  test('a slow upload that keeps sending for several timeouts is stored', async () => {
    const body = multipart(part('2.25.7302'));
    const socket = await open(server.gateway.port);
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.write(stowRequest(server.gateway.port, body));
    const pieces = 8;
    for (let i = 0; i < pieces; i++) {
      socket.write(body.subarray(Math.floor((i * body.length) / pieces), Math.floor(((i + 1) * body.length) / pieces)));
      await new Promise((r) => setTimeout(r, TIMEOUT_MS / 2));
    }
    await waitFor(() => answer.includes('\r\n\r\n'), 'the answer', 2000);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});
