import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';
type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

describeWithSharedData(GE)('QIDO-RS includefield=all at instance level', () => {
  let server: TestArchiveServer;

  beforeAll(async () => {
    // Here, not at describe scope: without ../shared the describe is skipped, and its body must not read the folder.
    const dir = sharedData(GE).path;
    const file = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort()[0] as string;
    server = await startTestArchive();
    expect((await postStow(`${server.baseUrl}/studies`, [readFileSync(join(dir, file))])).status).toBe(200);
  });
  afterAll(() => server.stop());

  test('returns the instance\'s own attributes, not only the indexed ones, and no bulk data', async () => {
    const res = await fetch(`${server.baseUrl}/instances?includefield=all`, { headers: { Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    const [result] = (await res.json()) as Json[];
    const metadata = ((await (await fetch(`${server.baseUrl}/studies/${String(result?.['0020000D']?.Value?.[0])}/metadata`))
      .json()) as Json[])[0] as Json;
    // Attributes no index column holds: the PET isotope module, the rescale, the decay correction.
    for (const tag of ['00540016', '00281053', '00540102']) expect([tag, result?.[tag]]).toEqual([tag, metadata[tag]]);
    expect(result?.['7FE00010']).toBeUndefined();
    expect(JSON.stringify(result)).not.toMatch(/BulkDataURI|InlineBinary/);
    // The search's own attributes stay as the search gives them.
    expect(result?.['00081190']?.Value?.[0]).toMatch(/\/instances\//);
  });

  test('without includefield the result keeps to the default attributes', async () => {
    const [result] = (await (await fetch(`${server.baseUrl}/instances`)).json()) as Json[];
    expect(result?.['00540016']).toBeUndefined();
  });
});
