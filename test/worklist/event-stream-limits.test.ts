import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { MAX_EVENT_STREAMS } from '../../services/gateway/src/worklist/study-events';
import { until } from '../support/until';
import { startWorklistServer, type WorklistServer } from './worklist-server';

/** Opens the worklist's event stream on a connection of its own; settles with the answer's status once its headers came. */
function openStream(server: WorklistServer): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.gateway.port, path: '/api/worklist/events', agent: false });
    req.on('response', (res) => resolve({ req, res }));
    req.on('error', reject);
    req.end();
  });
}

describe('the worklist event stream\'s limit on streams open at once', () => {
  let server: WorklistServer;
  const open: ClientRequest[] = [];
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(async () => {
    for (const req of open) req.destroy();
    await server?.stop();
  });

  test(`refuses stream ${MAX_EVENT_STREAMS + 1} with 503 MIPSEG_BUSY and Retry-After, and takes one on again once a stream ends`, async () => {
    const streams = await Promise.all(Array.from({ length: MAX_EVENT_STREAMS }, () => openStream(server)));
    open.push(...streams.map((s) => s.req));
    expect(streams.every((s) => s.res.statusCode === 200)).toBe(true);

    const refused = await fetch(`${server.root}/api/worklist/events`);
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '5']);
    expect(await refused.json()).toMatchObject({ code: 'MIPSEG_BUSY' });
    // HEAD answers as GET would: a client that checks before it connects is told the same.
    const refusedHead = await fetch(`${server.root}/api/worklist/events`, { method: 'HEAD' });
    expect([refusedHead.status, refusedHead.headers.get('retry-after')]).toEqual([503, '5']);

    streams[0]?.req.destroy();
    const again = await until(async () => {
      const next = await openStream(server);
      open.push(next.req);
      if (next.res.statusCode === 200) return next;
      next.req.destroy();
      return undefined;
    }, 'a stream taken on once one ended', { timeoutMs: 5000 });
    expect(again.res.statusCode).toBe(200);
  });
});

describe('the worklist event stream while the gateway shuts down', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('refuses GET and HEAD alike with 503 and Retry-After once the streams were ended for shutdown', async () => {
    server.worklist.endEventStreams();
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(`${server.root}/api/worklist/events`, { method });
      expect([method, res.status, res.headers.get('retry-after')]).toEqual([method, 503, '5']);
    }
  });
});
