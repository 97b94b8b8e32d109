import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { fetchStow, postStow } from '../support/stow';

const STUDY = '2.25.700'; // syntheticPetInstance's study
const SERIES = '2.25.701';
const instance = (sop: string) => Buffer.from(syntheticPetInstance({ sopInstanceUid: sop, imagePositionPatient: [0, 0, 0] }));

describe('client errors are 4xx in JSON, and a 500 tells the client nothing of the server\'s files', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test.each([['GET', '/nowhere'], ['GET', '/dicomweb/nowhere'], ['POST', `/dicomweb/studies/${STUDY}/series`], ['DELETE', '/dicomweb/studies']])(
    '%s %s, which no route serves, is 404 MIPSEG_NOT_FOUND as JSON', async (method, path) => {
      const res = await fetch(`${server.baseUrl.replace('/dicomweb', '')}${path}`, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_NOT_FOUND' });
    });

  test.each([['/healthz', 200], ['/dicomweb/studies', 200], ['/nowhere', 404], ['/dicomweb/studies/%E0%A4%A', 400]])(
    'GET %s (%d) says X-Content-Type-Options: nosniff, so that no browser runs its body as another type', async (path, status) => {
      const res = await fetch(`${server.baseUrl.replace('/dicomweb', '')}${path}`);
      expect([res.status, res.headers.get('x-content-type-options')]).toEqual([status, 'nosniff']);
    });

  test('a path with a malformed %-escape is 400 MIPSEG_BAD_REQUEST', async () => {
    const res = await fetch(`${server.baseUrl}/studies/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_REQUEST' });
  });

  test.each(['constructor=1', '__proto__=1', 'hasOwnProperty.PatientID=1', 'valueOf=1'])(
    'QIDO ?%s names no DICOM attribute: ignored with a Warning like any other unknown parameter (PS3.18 8.3)', async (query) => {
      const res = await fetch(`${server.baseUrl}/studies?${query}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('warning')).toMatch(/is neither a DICOM keyword or tag nor a QIDO-RS parameter; ignored/);
    });

  test('QIDO ?includefield=toString names no DICOM attribute: 400 MIPSEG_BAD_QUERY, a bad value of a known parameter', async () => {
    const res = await fetch(`${server.baseUrl}/studies?includefield=toString`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MIPSEG_BAD_QUERY' });
  });

  test('an instance whose file has gone answers 500 MIPSEG_INTERNAL with a log reference, not the file\'s path', async () => {
    expect((await postStow(`${server.baseUrl}/studies`, [instance('2.25.7401')])).status).toBe(200);
    rmSync(join(server.dataDir, 'instances', STUDY, SERIES), { recursive: true, force: true });
    const res = await fetch(`${server.baseUrl}/studies/${STUDY}/series/${SERIES}/instances/2.25.7401/metadata`);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('MIPSEG_INTERNAL');
    expect(body.message.endsWith(`ref ${res.headers.get('x-request-id')}`)).toBe(true);
    expect(body.message).not.toContain(server.dataDir);
  });

  test('a STOW request that cannot open a temporary file answers 500, its part failed (0x0110), without the path', async () => {
    const tmp = join(server.dataDir, 'tmp');
    rmSync(tmp, { recursive: true, force: true });
    writeFileSync(tmp, 'a file where the temporary directory was');
    try {
      const res = await fetchStow(`${server.baseUrl}/studies`, [instance('2.25.7402')]);
      const body = await res.text();
      const warning = res.headers.get('warning') ?? '';
      expect(res.status).toBe(500);
      // A STOW-RS response still (PS3.18 10.5.3): the instance named failed, the reason in the log under the reference.
      expect(JSON.parse(body)).toMatchObject({ '00081198': { Value: [{ '00081155': { Value: ['2.25.7402'] }, '00081197': { Value: [0x0110] } }] } });
      expect(warning).toContain(`ref ${res.headers.get('x-request-id')}`);
      expect(body + warning).not.toContain(server.dataDir);
    } finally {
      rmSync(tmp, { force: true });
      mkdirSync(tmp);
    }
  });

  test('a STOW part that cannot be stored names no path in its Warning; the other part is stored (202)', async () => {
    const studyDir = join(server.dataDir, 'instances', STUDY);
    rmSync(studyDir, { recursive: true, force: true });
    writeFileSync(studyDir, 'a file where the study\'s directory belongs');
    try {
      const other = Buffer.from(syntheticPetInstance({ sopInstanceUid: '2.25.7403', imagePositionPatient: [0, 0, 0],
        attributes: { StudyInstanceUID: '2.25.7490', SeriesInstanceUID: '2.25.7491' } }));
      const res = await fetchStow(`${server.baseUrl}/studies`, [other, instance('2.25.7404')]);
      const warning = res.headers.get('warning') ?? '';
      expect(res.status).toBe(202);
      expect(warning).toMatch(/part 2 \(2\.25\.7404\): [^"]*ref /);
      expect(warning).toContain(`ref ${res.headers.get('x-request-id')}`);
      expect(warning).not.toContain(server.dataDir);
    } finally {
      rmSync(studyDir, { force: true });
    }
  });
});
