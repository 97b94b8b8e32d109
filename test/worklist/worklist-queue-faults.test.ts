import { MipsegError } from '@mipseg/shared/errors';
import { createLogger } from '@mipseg/shared/log';
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

  test('answers the worklist and a study view with 503 MIPSEG_QUEUE_UNAVAILABLE within 6 s when a queue read never answers', async () => {
    jest.spyOn(server.queue, 'pendingStudies').mockImplementation(noAnswer);
    for (const path of ['/api/worklist', `/api/worklist/studies/${study}`]) {
      const started = Date.now();
      const res = await fetch(`${server.root}${path}`);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_QUEUE_UNAVAILABLE' });
    }
  }, 20_000);

  test('logs an event poll that gets no answer as failed, and polls again once the queue answers', async () => {
    jest.spyOn(server.queue, 'pendingStudies').mockImplementationOnce(noAnswer); // the first poll's read only
    const controller = new AbortController();
    await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    try {
      await until(hasLogged('worklist event poll failed'), 'the failed poll in the log', { timeoutMs: 8000 });
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
});
