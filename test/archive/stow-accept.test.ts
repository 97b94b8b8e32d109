import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSopInstanceUid } from '@mipseg/shared/dicom';
import { readNativeDicomXmlWithKeywords, type NativeXmlReading } from '../support/native-dicom-xml';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { fetchStow, postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

describeWithSharedData(GE)('STOW-RS answers in the media type the client accepts', () => {
  let server: TestArchiveServer;
  const dir = sharedData(GE).path;
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 6);
  const instances = files.map((f) => readFileSync(join(dir, f)));
  const garbage = Buffer.from('this is not DICOM at all'.repeat(20));
  let studies: string;

  beforeAll(async () => {
    server = await startTestArchive();
    studies = `${server.baseUrl}/studies`;
  });
  afterAll(() => server.stop());

  const part = (i: number): Buffer => instances[i] as Buffer;

  test('Accept application/dicom+xml gets the same answer as JSON, as a Native DICOM Model document', async () => {
    const parts = [part(0), part(1), garbage];
    const xmlReply = await fetchStow(studies, parts, { headers: { Accept: 'application/dicom+xml' } });
    const xml = await xmlReply.text();
    // The same request again (identical re-sends are idempotent) answered in JSON, to compare with.
    const jsonReply = await postStow(studies, parts, { headers: { Accept: 'application/dicom+json' } });
    expect(xmlReply.status).toBe(202);
    expect(jsonReply.status).toBe(202);
    expect(xmlReply.headers.get('content-type')).toMatch(/^application\/dicom\+xml\b/);
    expect(xmlReply.headers.get('warning')).toBe(jsonReply.warning);
    const reading = readNativeDicomXmlWithKeywords([xml])[0] as NativeXmlReading;
    expect(reading.dataSet).toEqual(jsonReply.body);
    expect(reading.keywords).toMatchObject({
      '00081190': 'RetrieveURL', '00081199': 'ReferencedSOPSequence', '00081198': 'FailedSOPSequence',
      '00081155': 'ReferencedSOPInstanceUID', '00081197': 'FailureReason',
    });
    const referenced = (jsonReply.body?.['00081199']?.Value ?? []).map((item) => item['00081155']?.Value?.[0]);
    expect(referenced).toEqual([readSopInstanceUid(part(0)), readSopInstanceUid(part(1))]);
  });

  test('q-values decide: xml preferred over json gets XML, json preferred gets JSON', async () => {
    const xmlFirst = await fetchStow(studies, [part(2)], { headers: { Accept: 'application/dicom+json;q=0.5, application/dicom+xml;q=0.9' } });
    expect(xmlFirst.status).toBe(200);
    expect(xmlFirst.headers.get('content-type')).toMatch(/^application\/dicom\+xml\b/);
    expect(await xmlFirst.text()).toContain(readSopInstanceUid(part(2)));
    const jsonFirst = await fetchStow(studies, [part(2)], { headers: { Accept: 'application/dicom+xml;q=0.2, application/dicom+json' } });
    expect(jsonFirst.headers.get('content-type')).toMatch(/^application\/dicom\+json\b/);
  });

  test.each(['*/*', 'application/*', 'text/html, */*;q=0.1'])('Accept %s gets DICOM JSON', async (accept) => {
    const reply = await fetchStow(studies, [part(3)], { headers: { Accept: accept } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/dicom\+json\b/);
  });

  test('an Accept of only text/html is refused with 406 before anything is stored', async () => {
    const uid = readSopInstanceUid(part(4));
    const reply = await postStow(studies, [part(4), part(5)], { headers: { Accept: 'text/html' } });
    expect(reply.status).toBe(406);
    expect(reply.body).toMatchObject({ code: 'MIPSEG_NOT_ACCEPTABLE' });
    for (const sent of [uid, readSopInstanceUid(part(5))]) {
      const found = await fetch(`${server.baseUrl}/instances?SOPInstanceUID=${sent}`);
      expect(await found.json()).toEqual([]);
    }
  });

  test('errors stay catalogue JSON when XML is asked for', async () => {
    const reply = await postStow(studies, [part(0)], { contentType: 'application/json', headers: { Accept: 'application/dicom+xml' } });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({ code: 'MIPSEG_UNSUPPORTED_MEDIA_TYPE' });
  });
});
