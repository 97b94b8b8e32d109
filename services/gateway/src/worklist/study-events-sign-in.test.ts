import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express, { type Response } from 'express';
import { createLogger } from '@mipseg/shared/log';
import type { JobQueue } from '@mipseg/shared/queue';
import type { Archive } from '@mipseg/shared/store';
import { MAX_UNSENT_BYTES, StudyEvents } from './study-events';
import { until } from '../../../../test/support/until';

/** A queue with no studies waiting and no jobs, and an archive that reports nothing: the streams get keep-alives only. */
const quietQueue = { pendingStudies: () => Promise.resolve([]), listJobs: () => Promise.resolve([]) } as unknown as JobQueue;
const quietArchive = { onInstanceStored: () => undefined, onDeletedFrom: () => undefined } as unknown as Archive;

describe('a worklist event stream whose sign-in lapsed', () => {
  let server: Server;
  let events: StudyEvents;
  let signedIn = true;
  let stream: Response | undefined;
  let socket: Socket;
  beforeAll(async () => {
    events = new StudyEvents(quietQueue, quietArchive, createLogger('silent'), 60_000, 20);
    const app = express();
    app.get('/events', (_req, res) => {
      events.subscribe(res, () => signedIn);
      stream = res;
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    events.close();
    socket?.destroy();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });

  test('is destroyed, not ended behind output its client does not read, so that its socket and buffers go at once', async () => {
    socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('data', () => socket.pause());
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const res = await until(() => Promise.resolve(stream), 'the stream taken on');
    // Output the client leaves unread, well under the limit: the stream is not one the limit would end.
    const chunk = 'x'.repeat(64 * 1024);
    while (res.writableLength === 0) {
      res.write(`: ${chunk}\n\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(res.writableLength).toBeLessThan(MAX_UNSENT_BYTES);
    signedIn = false;
    await until(() => Promise.resolve(res.destroyed || res.writableEnded || undefined), 'the stream ended at its next write');
    expect(res.destroyed).toBe(true);
  });
});
