import { join } from 'node:path';
import pino from 'pino';
import { EmbeddedJobQueue } from '@mipseg/shared/queue';
import { jobsRouter, startGateway, type GatewayServer } from '@mipseg/gateway';
import { secretDigest, SessionStore } from '../../services/gateway/src/session-store';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';

const TOKEN = 'csrf-token-0123456789abcdef';

describe('requests that change data, authenticated by the session cookie, must come from the gateway\'s own origin', () => {
  let archive: TestArchiveServer;
  let gateway: GatewayServer;
  let root: string;
  let cookie: string;
  let queue: EmbeddedJobQueue;
  const analysed: string[] = [];
  const study = syntheticStudy(0).studyInstanceUid;

  beforeAll(async () => {
    archive = await startTestArchive({ AUTH_TOKENS: TOKEN });
    indexSyntheticStudy(archive.archive.index, syntheticStudy(0));
    const retry = { attempts: 1, baseDelayMs: 100 };
    queue = new EmbeddedJobQueue(join(archive.dataDir, 'jobs.sqlite'), pino({ level: 'silent' }), { analysisRetry: retry, exportRetry: retry, exportDestinations: [] });
    // The analysis itself is not under test: only whether the request reaches it.
    const pipeline = {
      queue,
      analyzeNow: (uid: string) => {
        analysed.push(uid);
        return Promise.resolve({ kind: 'queued', jobId: `job-${analysed.length}` });
      },
    };
    // No worklist here to sign in through: the session is opened as POST /api/session would.
    const sessions = new SessionStore();
    gateway = await startGateway({ config: archive.config, archive: archive.archive, log: pino({ level: 'silent' }), sessions,
      extraRouters: [{ path: '/api', router: jobsRouter(pipeline, archive.archive) }] });
    root = `http://127.0.0.1:${gateway.port}`;
    cookie = `mipseg_token=${sessions.open(secretDigest(TOKEN))}`;
  });
  afterAll(async () => {
    await gateway.close(1000);
    await queue.close();
    await archive.stop();
  });

  const analyze = (headers: Record<string, string>) => fetch(`${root}/api/studies/${study}/analyze`, { method: 'POST', headers });

  test('a page on another port of the same host cannot start an analysis with the cookie: 403 MIPSEG_CROSS_ORIGIN', async () => {
    const before = analysed.length;
    const res = await analyze({ Cookie: cookie, Origin: 'http://127.0.0.1:8042' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_CROSS_ORIGIN' });
    expect(analysed.length).toBe(before);
  });

  test('nor retry an export, nor store instances', async () => {
    const retry = await fetch(`${root}/api/jobs/job-1/exports/stow%3Ahttp%3A%2F%2Fpacs/retry`,
      { method: 'POST', headers: { Cookie: cookie, Origin: 'http://other.example:8042' } });
    expect(retry.status).toBe(403);
    const stow = await fetch(`${root}/dicomweb/studies`, { method: 'POST',
      headers: { Cookie: cookie, Origin: 'http://other.example:8042', 'Content-Type': 'multipart/related; type="application/dicom"; boundary=x' },
      body: '--x--\r\n' });
    expect(stow.status).toBe(403);
  });

  test('without Origin, Referer decides; a cookie request with neither is refused', async () => {
    expect((await analyze({ Cookie: cookie, Referer: 'http://evil.example/page' })).status).toBe(403);
    expect((await analyze({ Cookie: cookie })).status).toBe(403);
    expect((await analyze({ Cookie: cookie, Referer: `${root}/studies/${study}` })).status).toBe(202);
  });

  test('the gateway\'s own origin is accepted', async () => {
    const res = await analyze({ Cookie: cookie, Origin: root });
    expect(res.status).toBe(202);
    expect(analysed.at(-1)).toBe(study);
  });

  test('an Authorization bearer token is not ambient: accepted from any origin', async () => {
    expect((await analyze({ Authorization: `Bearer ${TOKEN}`, Origin: 'http://other.example:8042' })).status).toBe(202);
  });

  test('GET with the cookie is not affected by the origin', async () => {
    expect((await fetch(`${root}/dicomweb/studies`, { headers: { Cookie: cookie, Origin: 'http://other.example:8042' } })).status).toBe(200);
  });
});
