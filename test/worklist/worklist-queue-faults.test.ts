import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
import { QUEUE_READ_TIMEOUT_MS } from '../../services/gateway/src/queue-read';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { postStow } from '../support/stow';
import { until } from '../support/until';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

/** A queue read that never settles: what a Redis that takes commands but never answers gives. */
const noAnswer = <T>(): Promise<T> => new Promise<T>(() => undefined);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The event stream's text until it has `wanted`, or what came within `timeoutMs`. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, wanted: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (!text.includes(wanted) && Date.now() < deadline) {
    const next = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => undefined)]);
    if (next?.done) break;
    if (next?.value) text += new TextDecoder().decode(next.value);
  }
  return text;
}

describe('the worklist while the job queue fails or does not answer (Redis down or hanging)', () => {
  let server: WorklistServer;
  const logged: string[] = [];
  const hasLogged = (message: string) => () => Promise.resolve(logged.some((line) => line.includes(`"msg":"${message}"`)) ? true : undefined);
  const study = syntheticStudy(0).studyInstanceUid;

  beforeAll(async () => {
    server = await startWorklistServer({}, undefined, (model) => model, createLogger('info', { write: (line: string) => logged.push(line) }));
    indexSyntheticStudy(server.archive.index, syntheticStudy(0));
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => server.stop());

  // The jest timeout fails a request that hangs; how soon the 503 comes is the read timeout's, not a timed assertion's.
  test('answers the worklist and a study view with 503 MIPSEG_QUEUE_UNAVAILABLE when a queue read never answers', async () => {
    jest.spyOn(server.queue, 'pendingStudies').mockImplementation(noAnswer);
    for (const path of ['/api/worklist', `/api/worklist/studies/${study}`]) {
      const res = await fetch(`${server.root}${path}`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    }
  }, 20_000);

  test('answers the jobs API with 503 MIPSEG_QUEUE_UNAVAILABLE when a queue read never answers', async () => {
    jest.spyOn(server.queue, 'listJobs').mockImplementation(noAnswer);
    jest.spyOn(server.queue, 'getJob').mockImplementation(noAnswer);
    jest.spyOn(server.queue, 'pendingStudies').mockImplementation(noAnswer);
    const paths = ['/api/jobs', '/api/jobs?state=failed', '/api/jobs/some-job', `/api/studies/${study}/results`];
    const answers = await Promise.all(paths.map(async (path) => {
      const res = await fetch(`${server.root}${path}`);
      return { path, status: res.status, body: await res.json() as unknown };
    }));
    expect(answers).toMatchObject(paths.map((path) => ({ path, status: 503, body: { code: 'MIPSEG_QUEUE_UNAVAILABLE' } })));
  }, 20_000);

  test('refuses an export retry with 503 while the queue does not answer, without asking for the retry', async () => {
    jest.spyOn(server.queue, 'ping').mockRejectedValue(new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', 'Redis is not connected (reconnecting)'));
    const retry = jest.spyOn(server.queue, 'retryExport');
    const res = await fetch(`${server.root}/api/jobs/some-job/exports/${encodeURIComponent('stow:http://pacs/dicom-web')}/retry`, { method: 'POST' });
    expect(res.status).toBe(503);
    expect(retry).not.toHaveBeenCalled();
  });

  test('logs an event poll that gets no answer as failed, and polls again once the queue answers', async () => {
    let answer = (): void => undefined;
    // The first poll's read only, answered once the poll has given up on it (the poller waits for it before reading again).
    jest.spyOn(server.queue, 'pendingStudies').mockImplementationOnce(() => new Promise((resolve) => { answer = () => resolve([]); }));
    const controller = new AbortController();
    await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    try {
      await until(hasLogged('worklist event poll failed'), 'the failed poll in the log', { timeoutMs: 8000 });
      answer();
      await until(hasLogged('worklist event poll works again'), 'a poll that works again', { timeoutMs: 3000 });
    } finally {
      controller.abort();
    }
  }, 20_000);

  test('pushes a study the archive stored while the queue part of the poll fails', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    try {
      await reader.read(); // the stream is open: the poller runs
      jest.spyOn(server.queue, 'pendingStudies').mockRejectedValue(new MipsegError('MIPSEG_QUEUE_UNAVAILABLE', 'Redis is not connected (reconnecting)'));
      await sleep(500); // polls fail now
      const stored = syntheticPetInstance({ sopInstanceUid: '2.25.7001', imagePositionPatient: [0, 0, 0], attributes: { StudyInstanceUID: '2.25.7000' } });
      expect((await postStow(`${server.root}/dicomweb/studies`, [Buffer.from(stored)])).status).toBe(200);
      expect(await readUntil(reader, '2.25.7000', 3000)).toMatch(/event: studies\ndata: .*2\.25\.7000/);
    } finally {
      controller.abort();
    }
  }, 20_000);

  test('starts no second queue read beside one that outlived its timeout (a slow scan of a long job list), and logs the poll as failed', async () => {
    const reads = jest.spyOn(server.queue, 'pendingStudies');
    const controller = new AbortController();
    await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    try {
      // A poll that the queue answered: a failure before this test's is over, so the next one is logged again.
      await until(() => Promise.resolve(reads.mock.calls.length >= 2 ? true : undefined), 'a poll that the queue answered');
      let running = 0;
      let most = 0;
      reads.mockImplementation(async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, QUEUE_READ_TIMEOUT_MS + 2000).unref());
        running--;
        return [];
      });
      const since = logged.length;
      const failed = (): Promise<true | undefined> => Promise.resolve(
        logged.slice(since).some((line) => line.includes('"msg":"worklist event poll failed"') && line.includes('MIPSEG_QUEUE_UNAVAILABLE')) ? true : undefined);
      await until(failed, 'the timed-out poll in the log', { timeoutMs: 8000 });
      const slowReads = reads.mock.calls.length;
      // The next read comes once the slow one has answered, not on the next tick after the timeout.
      await until(() => Promise.resolve(reads.mock.calls.length > slowReads ? true : undefined), 'a read after the slow one', { timeoutMs: 8000 });
      expect(most).toBe(1);
    } finally {
      controller.abort();
    }
  }, 30_000);
});
