import { mkdtemp, rm } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import pino from 'pino';
import { EmbeddedJobQueue } from '@mipseg/shared/queue';
import { Archive } from '@mipseg/shared/store';
import { StudyEvents } from '../../services/gateway/src/worklist/study-events';

const POLL_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the worklist event stream when its client leaves before the stream is set up', () => {
  const log = pino({ level: 'silent' });
  let dataDir: string;
  let archive: Archive;
  let queue: EmbeddedJobQueue;
  let events: StudyEvents;
  let server: Server;
  /** Settles once the request has reached the first middleware (its client still there). */
  let reached: Promise<void>;
  /** Settles once the stream's handler has run, after the client left. */
  let handled: Promise<void>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mipseg-event-abort-'));
    archive = await Archive.open(dataDir, log);
    const retry = { attempts: 1, baseDelayMs: 100 };
    queue = new EmbeddedJobQueue(join(dataDir, 'jobs.sqlite'), log, { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
    events = new StudyEvents(queue, archive, log, POLL_MS, 10_000);
    const app = express();
    let markReached = (): void => undefined;
    reached = new Promise((resolve) => { markReached = resolve; });
    let markHandled = (): void => undefined;
    handled = new Promise((resolve) => { markHandled = resolve; });
    // An asynchronous middleware before the stream (as express.static's fs.stat is) that passes the request on only
    // once its client has gone.
    app.get('/events', (req, _res, next) => {
      req.socket.once('close', () => setImmediate(next));
      markReached();
    }, (_req, res) => {
      events.subscribe(res);
      markHandled();
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });

  afterAll(async () => {
    events.close();
    await new Promise((resolve) => server.close(resolve));
    await queue.close();
    archive.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('does not keep the poller reading the queue for a client that already left', async () => {
    const reads = jest.spyOn(queue, 'pendingStudies');
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const req = request({ host: '127.0.0.1', port, path: '/events' });
    req.on('error', () => undefined); // the abort below
    req.end();
    await reached;
    req.destroy();
    await handled;
    await sleep(POLL_MS * 4);
    const before = reads.mock.calls.length;
    await sleep(POLL_MS * 10);
    expect(reads.mock.calls.length).toBe(before);
  });
});
