import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

describe('DICOMweb answers say that they vary with Accept', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('QIDO-RS (JSON or XML by Accept, with an ETag) and an error answer alike carry Vary: Accept', async () => {
    for (const accept of ['application/dicom+json', 'multipart/related; type="application/dicom+xml"']) {
      const res = await fetch(`${server.baseUrl}/studies?limit=1`, { headers: { Accept: accept } });
      expect([accept, res.status, res.headers.get('vary')]).toEqual([accept, 200, 'Accept']);
    }
    const missing = await fetch(`${server.baseUrl}/studies/2.25.1/metadata`);
    expect(missing.headers.get('vary')).toBe('Accept');
  });
});
