import { connect } from 'node:net';
import { createLogger } from '@mipseg/shared/log';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { startWorklistServer } from '../worklist/worklist-server';
import { until } from '../support/until';

const BOUNDARY = 'aborted-boundary';
const STUDY = '2.25.700'; // syntheticPetInstance's study
const part = (sop: string) => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`),
  Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0] })), Buffer.from('\r\n')]);

/** The request log's own lines (the error handler's lines name the request too). */
const REQUEST_LINE = new Set(['request', 'request aborted before its answer was sent']);

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly method?: string;
  readonly path?: string;
  readonly aborted?: boolean;
  readonly connectionBytesRead?: number;
  readonly contentLength?: string;
}

describe('the request log', () => {
  let server: TestArchiveServer;
  const lines: LogLine[] = [];
  beforeAll(async () => {
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    server = await startTestArchive({}, log);
  });
  afterAll(() => server.stop());

  test('logs a STOW whose sender went away after a stored part, once, as aborted, with the bytes read', async () => {
    const body = Buffer.concat([part('2.25.7501'), part('2.25.7502')]);
    const sent = body.subarray(0, part('2.25.7501').length + 100); // the first part whole, then a little of the second
    const socket = connect(server.gateway.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length + 100}\r\n`
      + `Content-Type: multipart/related; type="application/dicom"; boundary=${BOUNDARY}\r\n\r\n`);
    socket.write(sent);
    await until(() => Promise.resolve(server.archive.index.listInstances({ studyUid: STUDY }).length === 1 ? true : undefined), 'the first part stored');
    socket.destroy();
    const requestLines = () => lines.filter((l) => l.path === '/dicomweb/studies' && l.method === 'POST' && REQUEST_LINE.has(l.msg));
    await until(() => Promise.resolve(requestLines().length > 0 ? true : undefined), 'a request log line', { timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 300)); // room for a second line, which must not come
    expect(requestLines()).toHaveLength(1);
    expect(requestLines()[0]).toMatchObject({ aborted: true, contentLength: String(body.length + 100) });
    expect(requestLines()[0]?.connectionBytesRead).toBeGreaterThanOrEqual(sent.length);
    // The sender's leaving is not a fault of the service: nothing at error level.
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  test('logs a request that was answered once, not as aborted', async () => {
    const before = lines.length;
    expect((await fetch(`${server.baseUrl}/studies`)).status).toBe(200);
    await until(() => Promise.resolve(lines.length > before ? true : undefined), 'a request log line', { timeoutMs: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    const logged = lines.slice(before).filter((l) => l.path === '/dicomweb/studies' && l.method === 'GET' && REQUEST_LINE.has(l.msg));
    expect(logged).toHaveLength(1);
    expect(logged[0]?.aborted).toBeUndefined();
  });
});

describe('an upload to "Try a MIP image" whose sender goes away', () => {
  test('is logged as aborted, and nothing at error level', async () => {
    const lines: LogLine[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    const server = await startWorklistServer({}, undefined, undefined, log);
    try {
      const socket = connect(server.gateway.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('POST /api/segment-mip HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n');
      socket.write(Buffer.alloc(1000));
      await new Promise((r) => setTimeout(r, 200));
      socket.destroy();
      const requestLines = () => lines.filter((l) => l.path === '/api/segment-mip' && REQUEST_LINE.has(l.msg));
      await until(() => Promise.resolve(requestLines().length > 0 ? true : undefined), 'a request log line', { timeoutMs: 3000 });
      await new Promise((r) => setTimeout(r, 300));
      expect(requestLines()).toHaveLength(1);
      expect(requestLines()[0]).toMatchObject({ aborted: true });
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
