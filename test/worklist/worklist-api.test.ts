import { connect } from 'node:net';
import { PNG } from 'pngjs';
import type { ResultUids } from '@mipseg/shared/queue';
import type { StudyDetail, WorklistPage } from '../../services/gateway/src/worklist/worklist-types';
import { until } from '../support/until';
import { indexSyntheticStudy, syntheticStudy } from './synthetic-studies';
import { startWorklistServer, type WorklistServer } from './worklist-server';

const request = (uid: string, series = `${uid}.2`) =>
  ({ studyInstanceUid: uid, seriesInstanceUid: series, sopInstanceUids: [`${series}.1`], contentHash: 'x', reason: 'study-complete', version: 1 }) as const;

/** A page of GET /api/worklist?`query`, which must answer 200. */
async function worklistPage(server: WorklistServer, query: string): Promise<WorklistPage> {
  const res = await fetch(`${server.root}/api/worklist?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as WorklistPage;
}

describe('the worklist API', () => {
  let server: WorklistServer;
  const uid = (i: number) => syntheticStudy(i).studyInstanceUid;
  const get = (query: string): Promise<WorklistPage> => worklistPage(server, query);

  beforeAll(async () => {
    server = await startWorklistServer();
    for (let i = 0; i < 30; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    await server.queue.enqueueAnalysis('job-0', request(uid(0)));
    await server.queue.recordNotApplicable('na-1', uid(1), 'no PET series with attenuation and decay correction');
    await server.queue.scheduleStudyCheck(uid(2), 60_000);
    // Study 3: an old not-applicable record, then a newer analysis: the newer job is what counts.
    await server.queue.recordNotApplicable('na-3', uid(3), 'old');
    await new Promise((r) => setTimeout(r, 5));
    await server.queue.enqueueAnalysis('job-3', request(uid(3)));
  });
  afterAll(() => server.stop());

  test('lists studies newest first, a page at a time, with patient, accession, modalities and PET series', async () => {
    const first = await get('limit=10');
    expect(first.studies).toHaveLength(10);
    expect(first.hasMore).toBe(true);
    const dates = first.studies.map((s) => s.studyDate ?? '');
    expect([...dates].sort().reverse()).toEqual(dates);
    expect(first.studies[0]).toMatchObject({ patientId: 'MRN100000', accessionNumber: 'ACC500000', modalities: ['CT', 'PT'], petSeries: 1, instances: 4 });
    const last = await get('limit=10&offset=20');
    expect(last.studies).toHaveLength(10);
    expect(last.hasMore).toBe(false);
  });

  test('searches by patient ID prefix, a part of the patient name in any case, accession and study date range', async () => {
    expect((await get('patient=MRN10001')).studies.map((s) => s.patientId).sort()).toEqual(
      Array.from({ length: 10 }, (_, k) => `MRN1000${10 + k}`));
    const byName = await get('patient=garc');
    expect(byName.studies.length).toBe(3);
    expect(byName.studies.every((s) => s.patientName?.startsWith('GARCIA'))).toBe(true);
    // Not only ASCII letters: SQLite's own LIKE and NOCASE fold A–Z alone.
    for (const typed of ['MÜLLER', 'müller', 'Müll']) {
      expect((await get(`patient=${encodeURIComponent(typed)}`)).studies.map((s) => s.patientName)).toEqual(['MÜLLER^ANNA', 'MÜLLER^JOHN', 'MÜLLER^MARIA']);
    }
    const qido = async (name: string) => ((await (await fetch(`${server.root}/dicomweb/studies?PatientName=${encodeURIComponent(name)}`)).json()) as unknown[]).length;
    expect([await qido('müller^anna'), await qido('mü*'), await qido('MÜLLER^ANNA')]).toEqual([1, 3, 1]);
    expect((await get('accession=500007')).studies.map((s) => s.studyInstanceUid)).toEqual([uid(7)]);
    const s = syntheticStudy(0).studyDate;
    const day = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}`;
    expect((await get(`from=${day}&to=${day}`)).studies).toHaveLength(8);
  });

  test('shows and filters the AI state from each study\'s newest job, quiet-period studies as waiting', async () => {
    const all = await get('limit=50');
    const state = (i: number) => all.studies.find((x) => x.studyInstanceUid === uid(i))?.ai;
    expect(state(0)).toMatchObject({ state: 'queued', jobId: 'job-0' });
    expect(state(1)).toMatchObject({ state: 'not-applicable', reason: 'no PET series with attenuation and decay correction' });
    expect(state(2)).toMatchObject({ state: 'waiting', jobId: null });
    expect(state(3)).toMatchObject({ state: 'queued', jobId: 'job-3' });
    expect(state(4)).toMatchObject({ state: 'none' });
    expect((await get('state=queued')).studies.map((x) => x.studyInstanceUid).sort()).toEqual([uid(0), uid(3)].sort());
    expect((await get('state=not-applicable')).studies.map((x) => x.studyInstanceUid)).toEqual([uid(1)]);
    expect((await get('state=waiting')).studies.map((x) => x.studyInstanceUid)).toEqual([uid(2)]);
    expect((await get('state=failed')).studies).toEqual([]);
  });

  test('refuses a bad state, date or page size with 400 and the catalogue code', async () => {
    for (const q of ['state=finished', 'from=2025-13', 'limit=0', 'limit=5000', 'limit=1e2', 'offset=0x10', 'offset=', 'limit=%2050']) {
      const res = await fetch(`${server.root}/api/worklist?${q}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
  });

  test('finds a patient by a name typed as the page shows it, as said aloud or as stored, in either order and any case', async () => {
    for (const typed of ['garcia, maria', 'GARCIA, MARIA', 'Maria Garcia', 'maria  garcia', 'garcia^maria', 'gar mar']) {
      expect((await get(`patient=${encodeURIComponent(typed)}`)).studies.map((s) => s.patientName)).toEqual(['GARCIA^MARIA']);
    }
    expect((await get(`patient=${encodeURIComponent('müller, anna')}`)).studies.map((s) => s.patientName)).toEqual(['MÜLLER^ANNA']);
    expect((await get(`patient=${encodeURIComponent('garcia, kenji')}`)).studies).toEqual([]);
  });

  test('refuses a from or to that is not a day of the calendar, and a from after to, with 400 and the catalogue code', async () => {
    for (const q of ['from=2026-02-30', 'to=2026-13-45', 'from=2025-04-31', 'to=2025-00-10', 'from=2025-06-30&to=2025-06-01']) {
      const res = await fetch(`${server.root}/api/worklist?${q}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
    expect((await get('from=2024-02-29&to=2025-06-30')).studies.length).toBeGreaterThan(0); // a leap day is a day
  });

  test('refuses a single-valued parameter given more than once with 400 and the catalogue code', async () => {
    const seg = `${uid(0)}.2.2`;
    for (const path of [`/api/studies/${uid(0)}/overlay.png?seg=${seg}&seg=${seg}`, '/api/worklist?patient=garcia&patient=maria',
      '/api/worklist?state=queued&state=failed', '/api/worklist?limit=5&limit=10']) {
      const res = await fetch(`${server.root}${path}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
    }
  });

  test('the jobs API\'s reads are not stored by any cache: they name studies, failure reasons and destinations', async () => {
    for (const path of ['/api/jobs', '/api/jobs/job-0', `/api/studies/${uid(0)}/results`, '/api/jobs/no-such-job']) {
      const res = await fetch(`${server.root}${path}`);
      expect([path, res.headers.get('cache-control')]).toEqual([path, 'no-store']);
    }
  });

  test('serves the page uncached and its versioned assets cached for a year; an old version is not served', async () => {
    const page = await fetch(`${server.root}/`);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const script = /src="(\/ui\/[0-9a-f]+\/main\.js)"/.exec(await page.text())?.[1] ?? '';
    const asset = await fetch(`${server.root}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${server.root}/ui/000000000000/main.js`)).status).toBe(404);
    expect((await fetch(`${server.root}/studies/${uid(0)}`)).headers.get('content-type')).toMatch(/html/);
  });

  test('pushes a server-sent event naming a study when its state changes', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    setTimeout(() => void server.queue.scheduleStudyCheck(uid(9), 60_000), 500);
    let text = '';
    while (!text.includes('event: studies')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain(uid(9));
  });

  test('answers HEAD of the event stream with its headers and ends at once, holding no stream open', async () => {
    // A raw socket: an HTTP client ends a HEAD's answer itself at the headers, whether or not the server did.
    const socket = connect(server.gateway.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk; });
    const ended = new Promise<boolean>((resolve) => {
      socket.once('end', () => resolve(true));
      setTimeout(() => resolve(false), 3000);
    });
    socket.write('HEAD /api/worklist/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const serverEnded = await ended;
    socket.destroy();
    expect(serverEnded).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\ncontent-type: text\/event-stream/i);
  });

  test('"Try a MIP image" refuses another media type (415), an oversized body (413) and a non-PNG (400)', async () => {
    const post = (type: string, body: Uint8Array<ArrayBuffer>) => fetch(`${server.root}/api/segment-mip`, { method: 'POST', headers: { 'Content-Type': type }, body });
    expect((await post('image/jpeg', new Uint8Array(10))).status).toBe(415);
    const big = await post('image/png', new Uint8Array(9 * 1024 * 1024));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'MIPSEG_PAYLOAD_TOO_LARGE' });
    const notPng = await post('image/png', new TextEncoder().encode('GIF89a not a png at all, no'));
    expect(notPng.status).toBe(400);
    expect(await notPng.json()).toMatchObject({ code: 'MIPSEG_IMAGE_INVALID' });
  });

  test('"Try a MIP image" segments a PNG and returns a mask and an overlay of its size', async () => {
    const png = new PNG({ width: 64, height: 128 });
    png.data.fill(255);
    const res = await fetch(`${server.root}/api/segment-mip`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: new Uint8Array(PNG.sync.write(png)) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { width: number; height: number; maskPng: string; overlayPng: string; modelName: string };
    expect(body).toMatchObject({ width: 64, height: 128, modelName: 'mip-attention-unet' });
    for (const b64 of [body.maskPng, body.overlayPng]) {
      const decoded = PNG.sync.read(Buffer.from(b64, 'base64'));
      expect([decoded.width, decoded.height]).toEqual([64, 128]);
    }
  });
});

describe('the worklist when a result\'s series are no longer in the archive (a reader deleted them)', () => {
  let server: WorklistServer;
  const uid = (i: number) => syntheticStudy(i).studyInstanceUid;
  /** The synthetic PET series' images stand in for the MIP and SEG; a deleted result names images the index lacks. */
  const result = (study: string, stored: boolean): ResultUids => ({
    studyInstanceUid: study, mipSeriesInstanceUid: `${study}.2`, mipSopInstanceUid: `${study}.2.1`,
    segSeriesInstanceUid: stored ? `${study}.2` : `${study}.9`, segSopInstanceUid: stored ? `${study}.2.2` : `${study}.9.1`,
    lesionCount: 2, tumourAreaMm2: 500, modelName: 'm', modelVersion: '1',
  });
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.root}/api/worklist${path}`);
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    server = await startWorklistServer();
    for (let i = 0; i < 2; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    server.queue.startProcessing({ checkStudy: () => Promise.resolve(),
      analyze: (id, req) => Promise.resolve(result(req.studyInstanceUid, id === 'kept')) }, { concurrency: 1, studyChecks: false, analyses: true });
    await server.queue.enqueueAnalysis('kept', request(uid(0)));
    await server.queue.enqueueAnalysis('rejected', request(uid(1)));
    await until(async () => ((await server.queue.listJobs({ state: 'done', limit: 10, offset: 0 })).length === 2 ? true : undefined), 'both jobs');
  });
  afterAll(() => server.stop());

  test('shows it as deleted, without its lesions, and the state filter tells done from deleted', async () => {
    const page = await get<WorklistPage>('?limit=50');
    const ai = (i: number) => page.studies.find((s) => s.studyInstanceUid === uid(i))?.ai;
    expect(ai(0)).toMatchObject({ state: 'done', lesionCount: 2 });
    expect(ai(1)).toMatchObject({ state: 'deleted', lesionCount: null, tumourAreaMm2: null, reason: expect.stringMatching(/deleted/) });
    expect((await get<WorklistPage>('?state=done')).studies.map((s) => s.studyInstanceUid)).toEqual([uid(0)]);
    expect((await get<WorklistPage>('?state=deleted')).studies.map((s) => s.studyInstanceUid)).toEqual([uid(1)]);
  });

  test('the study view offers no result for it, and its overlay is not found', async () => {
    expect(await get<StudyDetail>(`/studies/${uid(0)}`)).toMatchObject({ result: { lesionCount: 2 } });
    const rejected = await get<StudyDetail>(`/studies/${uid(1)}`);
    expect(rejected.result).toBeNull();
    expect(rejected.study.ai.state).toBe('deleted');
    expect(rejected.jobs.map((j) => j.id)).toEqual(['rejected']); // the record stays: what was done, and when
    expect((await fetch(`${server.root}/api/studies/${uid(1)}/overlay.png`)).status).toBe(404);
  });

  test('the jobs API gives no latest result for it either, and says it was deleted', async () => {
    const results = async (i: number) => (await (await fetch(`${server.root}/api/studies/${uid(i)}/results`)).json()) as
      { latestResult: { lesionCount: number } | null; resultDeleted: boolean; jobs: unknown[] };
    expect(await results(0)).toMatchObject({ latestResult: { lesionCount: 2 }, resultDeleted: false });
    expect(await results(1)).toMatchObject({ latestResult: null, resultDeleted: true, jobs: [expect.objectContaining({ id: 'rejected' })] });
  });

  test('a deleted study is pushed to the page as a change (no job changes), and leaves the list', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.root}/api/worklist/events`, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = new TextDecoder().decode((await reader.read()).value); // the stream is open: the poller runs
    await new Promise((r) => setTimeout(r, 400)); // past the first poll, which only sets the baseline
    expect(await server.archive.deleteStudy(uid(1))).toBe(4);
    while (!text.includes('event: studies')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain(uid(1));
    expect((await get<WorklistPage>('?limit=50')).studies.map((s) => s.studyInstanceUid)).toEqual([uid(0)]);
  });

  test('the jobs API finds the latest result behind more than 100 newer jobs, and says the list of jobs goes on', async () => {
    // A study re-sent again and again: each check records a newer job, and the done one falls behind them.
    for (let n = 0; n < 101; n++) await server.queue.recordNotApplicable(`later-${n}`, uid(0), 'a re-send, say');
    const res = await fetch(`${server.root}/api/studies/${uid(0)}/results`);
    const body = (await res.json()) as { latestResult: { lesionCount: number } | null; jobs: unknown[]; moreJobs: boolean };
    expect([res.status, body.latestResult?.lesionCount, body.jobs.length, body.moreJobs]).toEqual([200, 2, 100, true]);
    // The study view too: its result card, MIP and overlay do not vanish behind its 50 newest jobs.
    const detail = await get<StudyDetail>(`/studies/${uid(0)}`);
    expect([detail.result?.lesionCount, detail.jobs.length, detail.moreJobs]).toEqual([2, 50, true]);
  });
});

describe('the worklist\'s patient and accession boxes', () => {
  let server: WorklistServer;
  const get = (query: string): Promise<WorklistPage> => worklistPage(server, query);
  beforeAll(async () => {
    server = await startWorklistServer();
    for (let i = 0; i < 12; i++) indexSyntheticStudy(server.archive.index, syntheticStudy(i));
    // A research ID that starts as a family name does: GARCIA's studies and this one are all "gar".
    indexSyntheticStudy(server.archive.index, { ...syntheticStudy(40), patientId: 'GAR-2026-01', patientName: 'SMITH^JOHN', accessionNumber: 'ab12-x' });
  });
  afterAll(() => server.stop());

  test('find a Patient ID or an accession number typed in another case than the RIS gave it', async () => {
    expect((await get('patient=mrn10001')).studies.map((s) => s.patientId).sort()).toEqual(['MRN100010', 'MRN100011']);
    expect((await get('accession=acc500007')).studies.map((s) => s.accessionNumber)).toEqual(['ACC500007']);
    expect((await get('accession=AB12')).studies.map((s) => s.accessionNumber)).toEqual(['ab12-x']);
  });

  test('show the patients whose name holds what was typed beside those whose ID starts with it', async () => {
    expect((await get('patient=GAR')).studies.map((s) => s.patientName).sort()).toEqual(['GARCIA^ANNA', 'GARCIA^JOHN', 'SMITH^JOHN']);
    expect((await get('patient=gar-2026')).studies.map((s) => s.patientName)).toEqual(['SMITH^JOHN']);
    // Literal: a wildcard typed is no wildcard, and LIKE's own _ and % match only themselves.
    expect((await get('patient=MRN_')).studies).toEqual([]);
    expect((await get('patient=%25')).studies).toEqual([]);
  });
});

describe('the worklist\'s event stream during a shutdown', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(() => server.stop());

  test('a stream asked for once the streams were ended is refused with 503, not held open against the shutdown', async () => {
    server.worklist.endEventStreams();
    const res = await fetch(`${server.root}/api/worklist/events`);
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '5']);
  });
});
