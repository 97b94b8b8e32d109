import { readFileSync } from 'node:fs';
import { readMultipartParts } from '@mipseg/shared/dicomweb';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { readNativeDicomXml } from '../support/native-dicom-xml';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { postStow } from '../support/stow';

const SEG = 'data/seg-examples/highdicom-seg_image_ct_binary.dcm';
type Json = Record<string, { vr: string; Value?: unknown[] }>;

/**
 * PS3.18 F.2.3: an Attribute Tag (AT) value is the tag it names as 8 uppercase hex digits. A SEG's Dimension Index
 * Pointer (0020,9165) came out as the number 6422539 instead of "0062000B", which viewers cannot match to a tag.
 */
describeWithSharedData(SEG)('Attribute Tag values in WADO-RS metadata', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  test('a SEG\'s Dimension Index and Functional Group Pointers are hex strings, as dcmtk\'s dcm2json writes them', async () => {
    const stored = await postStow(`${server.baseUrl}/studies`, [readFileSync(sharedData(SEG).path)]);
    expect(stored.status).toBe(200);
    const instanceUrl = String(stored.body?.['00081199']?.Value?.[0]?.['00081190']?.Value?.[0]);
    const [metadata] = (await (await fetch(`${instanceUrl}/metadata`)).json()) as Json[];
    const dimensions = (metadata?.['00209222']?.Value ?? []) as Json[];
    expect(dimensions.map((item) => [item['00209165']?.Value, item['00209167']?.Value])).toEqual([
      [['0062000B'], ['0062000A']],
      [['00200032'], ['00209113']],
    ]);
  });
});

describe('Attribute Tag values in QIDO-RS results', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
    const instance = syntheticPetInstance({ sopInstanceUid: '2.25.9801', imagePositionPatient: [0, 0, 0],
      attributes: { FrameIncrementPointer: [0x00181063, 0x00540080] } });
    expect((await postStow(`${server.baseUrl}/studies`, [Buffer.from(instance)])).status).toBe(200);
  });
  afterAll(() => server.stop());

  const search = (accept: string) => fetch(`${server.baseUrl}/instances?SOPInstanceUID=2.25.9801&includefield=00280009`, { headers: { Accept: accept } });

  test('are hex strings in JSON and the same in the Native DICOM Model (PS3.19), as dcmtk\'s dcm2xml writes them', async () => {
    const [json] = (await (await search('application/dicom+json')).json()) as Json[];
    expect(json?.['00280009']).toEqual({ vr: 'AT', Value: ['00181063', '00540080'] });
    const xml = await search('multipart/related; type="application/dicom+xml"');
    const documents = await readMultipartParts(xml.headers.get('content-type') ?? '', Buffer.from(await xml.arrayBuffer()));
    const [fromXml] = readNativeDicomXml(documents.map((d) => d.body.toString('utf8'))) as Json[];
    expect(fromXml?.['00280009']).toEqual({ vr: 'AT', Value: ['00181063', '00540080'] });
  });
});
