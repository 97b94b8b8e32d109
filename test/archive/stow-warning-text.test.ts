import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const STUDY = '2.25.700'; // syntheticPetInstance's study

const instance = (sopInstanceUid: string, attributes: Record<string, unknown> = {}) =>
  Buffer.from(syntheticPetInstance({ sopInstanceUid, imagePositionPatient: [0, 0, 0], attributes }));

/** A STOW body whose parts each carry their own Content-Type (fetchStow gives every part the same one). */
async function postParts(url: string, parts: ReadonlyArray<{ type: string; body: Buffer }>) {
  const boundary = 'warning-text-boundary';
  const chunks = parts.flatMap((p) => [Buffer.from(`--${boundary}\r\nContent-Type: ${p.type}\r\n\r\n`, 'latin1'), p.body, Buffer.from('\r\n')]);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
    body: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]),
  });
  await res.arrayBuffer();
  return { status: res.status, warning: res.headers.get('warning') };
}

describe('STOW-RS Warning text', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive();
  });
  afterAll(() => server.stop());

  const stored = (sop: string) => server.archive.index.listInstances({ studyUid: STUDY, sopInstanceUid: sop }).length;

  test('a part whose Content-Type holds a control byte fails alone: 202, the other part stored, the Warning printable ASCII', async () => {
    const reply = await postParts(`${server.baseUrl}/studies`,
      [{ type: 'application/dicom', body: instance('2.25.7101') }, { type: 'text/a\x01b', body: Buffer.from('not DICOM') }]);
    expect(reply.status).toBe(202);
    expect(reply.warning).toMatch(PRINTABLE_ASCII);
    expect(reply.warning).toContain('part Content-Type text/a?b');
    expect(stored('2.25.7101')).toBe(1);
  });

  test('sixty long failure reasons keep the Warning headers within what HTTP clients read, saying how many more the body lists', async () => {
    const parts = [{ type: 'application/dicom', body: instance('2.25.7104') },
      ...Array.from({ length: 60 }, (_, k) => ({ type: `text/${'x'.repeat(300)}-${k}`, body: Buffer.from('not DICOM') }))];
    const reply = await postParts(`${server.baseUrl}/studies`, parts);
    expect(reply.status).toBe(202);
    expect(stored('2.25.7104')).toBe(1);
    const warning = reply.warning as string;
    expect(warning.length).toBeLessThanOrEqual(6 * 1024);
    expect(warning).toContain('part 2: not a parseable DICOM instance: part Content-Type text/xxx');
    const more = /"(\d+) more failure\(s\) or note\(s\): see FailedSOPSequence and ReferencedSOPSequence"$/.exec(warning);
    const listed = warning.split('299 mipseg "part ').length - 1;
    expect(Number(more?.[1])).toBe(60 - listed);
  });

  test('a file whose StudyInstanceUID holds a control byte fails alone: 202, the other part stored, the Warning printable ASCII', async () => {
    const reply = await postStow(`${server.baseUrl}/studies`, [instance('2.25.7102'), instance('2.25.7103', { StudyInstanceUID: '2.25.\x01700' })]);
    expect(reply.status).toBe(202);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toMatch(PRINTABLE_ASCII);
    expect(stored('2.25.7102')).toBe(1);
  });
});
