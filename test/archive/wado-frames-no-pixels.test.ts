import { syntheticInstance } from '../dimse/dimse-test-kit';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const BASIC_TEXT_SR = '1.2.840.10008.5.1.4.1.1.88.11';

describe('WADO-RS frames of an instance without Pixel Data', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('answer 404, whatever the Accept: the frames do not exist (406 would blame the media type asked for)', async () => {
    const sr = syntheticInstance({ sopClassUid: BASIC_TEXT_SR, sopInstanceUid: '2.25.6601', modality: 'SR', pixelDataBytes: 0 });
    expect((await postStow(`${server.baseUrl}/studies`, [sr])).status).toBe(200);
    const url = `${server.baseUrl}/studies/2.25.1001/series/2.25.1002/instances/2.25.6601/frames/1`;
    for (const accept of ['multipart/related; type="application/octet-stream"', '*/*']) {
      const res = await fetch(url, { headers: { Accept: accept } });
      expect([accept, res.status, ((await res.json()) as { code: string }).code]).toEqual([accept, 404, 'MIPSEG_NOT_FOUND']);
    }
  });
});
