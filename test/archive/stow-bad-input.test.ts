import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import * as dcmjs from 'dcmjs';
import { encodeFileMetaInformation, fileMetaUids } from '@mipseg/shared/dicom';
import { walkFileMeta } from '../../shared/src/dicom/file-meta';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const GE = 'data/pet-dicom/ge-discovery-st-wholebody';

function rewrite(bytes: Buffer, edit: (dict: dcmjs.DicomJsonDict, meta: dcmjs.DicomJsonDict) => void): Buffer {
  const parsed = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  edit(parsed.dict, parsed.meta);
  return Buffer.from(parsed.write());
}

describeWithSharedData(GE)('STOW-RS refuses bad input and keeps what is stored', () => {
  let server: TestArchiveServer;
  const dir = sharedData(GE).path;
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().slice(0, 5);
  const originals = files.map((f) => readFileSync(join(dir, f)));
  const first = originals[0] as Buffer;
  let studyUrl: string;
  let snapshot: () => string;

  beforeAll(async () => {
    // MAX_INSTANCE_BYTES at most MAX_REQUEST_BYTES, as config requires.
    server = await startTestArchive({ MAX_REQUEST_BYTES: String(2 * 1024 * 1024), MAX_INSTANCE_BYTES: String(2 * 1024 * 1024) });
    studyUrl = `${server.baseUrl}/studies`;
    const reply = await postStow(studyUrl, originals);
    expect(reply.status).toBe(200);
    // What must never change: every stored instance's bytes, as the index and the files see them.
    snapshot = () => {
      const study = String(server.archive.index.search({ level: 'study', filters: [], limit: 10, offset: 0 }).rows[0]?.['study_uid']);
      const instances = server.archive.index.listInstances({ studyUid: study });
      return createHash('sha256').update(instances.map((i) => `${i.sopInstanceUid}:${i.sha256}`).join()).digest('hex');
    };
  });
  afterAll(() => server.stop());

  let before: string;
  beforeEach(() => {
    before = snapshot();
  });
  afterEach(async () => {
    expect(snapshot()).toBe(before);
    expect((await fetch(`${server.baseUrl.replace('/dicomweb', '')}/healthz`)).status).toBe(200);
  });

  test('garbage bytes are refused with 0xC000 (cannot understand)', async () => {
    const reply = await postStow(studyUrl, [Buffer.from('this is not DICOM at all'.repeat(20))]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.body).not.toHaveProperty('00081199'); // Type 1C: no ReferencedSOPSequence when nothing was stored
  });

  test('a DICOM file truncated inside its pixel data is refused, not stored', async () => {
    const reply = await postStow(studyUrl, [first.subarray(0, first.length - 1000)]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
  });

  test('a Deflated Explicit VR Little Endian instance is refused as such (0xC122, transfer syntax not supported), not called truncated', async () => {
    const dataSet = first.subarray(walkFileMeta(first).dataSetOffset);
    const { sopClassUid, sopInstanceUid } = fileMetaUids(first);
    const meta = encodeFileMetaInformation({ mediaStorageSopClassUid: String(sopClassUid), mediaStorageSopInstanceUid: `${String(sopInstanceUid)}.99`,
      transferSyntaxUid: '1.2.840.10008.1.2.1.99' });
    const reply = await postStow(studyUrl, [Buffer.concat([meta, deflateRawSync(dataSet)])]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0xc122]);
    expect(reply.warning).toMatch(/Deflated Explicit VR Little Endian .* is not accepted/);
    expect(reply.warning).not.toMatch(/truncated/);
  });

  test('a DICOM file truncated inside its header is refused', async () => {
    const reply = await postStow(studyUrl, [first.subarray(0, 700)]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
  });

  test('a part without SOP Instance UID is refused with 0xC000', async () => {
    const broken = rewrite(first, (dict) => {
      delete dict['00080018'];
    });
    const reply = await postStow(studyUrl, [broken]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
  });

  test('a well-formed instance of a SOP class mipseg does not store is refused with 409 and 0x0122 (PS3.18 10.5.3)', async () => {
    const nuclearMedicine = '1.2.840.10008.5.1.4.1.1.20';
    const other = rewrite(first, (dict, meta) => {
      dict['00080016'] = { vr: 'UI', Value: [nuclearMedicine] };
      meta['00020002'] = { vr: 'UI', Value: [nuclearMedicine] };
      dict['00080018'] = { vr: 'UI', Value: ['2.25.4242424242'] };
      meta['00020003'] = { vr: 'UI', Value: ['2.25.4242424242'] };
    });
    const reply = await postStow(studyUrl, [other]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0x0122]);
  });

  test('a File Meta whose SOPClassUID is not the data set\'s is refused with 0xA900, naming both, as a STOW client knows them', async () => {
    const other = rewrite(first, (_dict, meta) => {
      meta['00020002'] = { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.20'] };
    });
    const reply = await postStow(studyUrl, [other]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0xa900]);
    expect(reply.warning).toContain('SOPClassUID differs from MediaStorage/AffectedSOPClassUID');
  });

  // An anonymiser that leaves a stale File Meta is common: which UID is the instance's cannot be told (0xC000), which is
  // no data set failing its SOP class (0xA900), and the words name what the client sent, not a C-STORE.
  test('a File Meta whose SOPInstanceUID is not the data set\'s is refused with 400 and 0xC000, naming both', async () => {
    const other = rewrite(first, (_dict, meta) => {
      meta['00020003'] = { vr: 'UI', Value: ['2.25.4242424243'] };
    });
    const reply = await postStow(studyUrl, [other]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(reply.warning).toContain('SOPInstanceUID differs from MediaStorage/AffectedSOPInstanceUID');
  });

  test('a body that is not multipart/related is refused with 415', async () => {
    const reply = await postStow(studyUrl, [first], { contentType: 'application/json' });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({ code: 'MIPSEG_UNSUPPORTED_MEDIA_TYPE' });
  });

  test('multipart/related of application/dicom+json is refused with 415', async () => {
    const reply = await postStow(studyUrl, [first], { contentType: 'multipart/related; type="application/dicom+json"; boundary=x' });
    expect(reply.status).toBe(415);
  });

  test('a missing boundary gives 400', async () => {
    const reply = await postStow(studyUrl, [first], { contentType: 'multipart/related; type="application/dicom"' });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'MIPSEG_MULTIPART_MALFORMED' });
  });

  test('a boundary that does not match the body gives 400', async () => {
    const reply = await postStow(studyUrl, [first], { contentType: 'multipart/related; type="application/dicom"; boundary=other' });
    expect(reply.status).toBe(400);
  });

  test('a quoted boundary with extra parameters is accepted', async () => {
    const reply = await postStow(studyUrl, [first], {
      boundary: 'quoted boundary',
      contentType: 'multipart/related; type="application/dicom"; boundary="quoted boundary"; transfer-syntax=1.2.840.10008.1.2',
    });
    expect(reply.status).toBe(200);
  });

  test('an instance outside the study of the URL is refused with 409', async () => {
    const reply = await postStow(`${studyUrl}/1.2.3.4.5`, [first]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0xc409]);
  });

  test('a body over MAX_REQUEST_BYTES is refused with 413', async () => {
    const reply = await postStow(studyUrl, Array.from({ length: 80 }, () => first));
    expect(reply.status).toBe(413);
  });

  test('UIDs that try path traversal are refused with 400 before touching a path', async () => {
    for (const path of ['/studies/..%2F..%2Fetc/series', '/studies/1.2.3/series/..%2Findex.sqlite', '/studies/1.2.3%00/metadata']) {
      const res = await fetch(`${server.baseUrl}${path}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'MIPSEG_INVALID_UID' });
    }
  });

  test('an identical re-send is idempotent (200, nothing changes)', async () => {
    const reply = await postStow(studyUrl, originals.slice(0, 2));
    expect(reply.status).toBe(200);
    expect(reply.body?.['00081199']?.Value).toHaveLength(2);
  });

  test('the same SOP Instance UID under another series is a conflict (0xC410, not the N-CREATE status 0x0111), the stored copy stays', async () => {
    const moved = rewrite(first, (dict) => {
      dict['0020000E'] = { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.1'] };
    });
    const reply = await postStow(studyUrl, [moved]);
    expect(reply.status).toBe(409);
    expect(failureReasons(reply)).toEqual([0xc410]);
  });
});

describeWithSharedData(GE)('STOW-RS duplicate policy', () => {
  let server: TestArchiveServer;
  afterAll(() => server.stop());

  test('a changed copy of a stored instance replaces it, keeps the old one under retired/ and warns', async () => {
    server = await startTestArchive();
    const bytes = readFileSync(join(sharedData(GE).path, '1-001.dcm'));
    expect((await postStow(`${server.baseUrl}/studies`, [bytes])).status).toBe(200);
    const changed = rewrite(bytes, (dict) => {
      dict['0008103E'] = { vr: 'LO', Value: ['corrected description'] };
    });
    const reply = await postStow(`${server.baseUrl}/studies`, [changed]);
    expect(reply.status).toBe(202);
    expect(reply.warning).toMatch(/replaced/);
    // In the body too, for a client that reads only the body: mipseg's WarningReason for a replaced copy.
    const [referenced] = reply.body?.['00081199']?.Value ?? [];
    expect(referenced?.['00081196']).toEqual({ vr: 'US', Value: [0xb410] });
    // An identical re-send replaces nothing, and warns of nothing.
    const again = await postStow(`${server.baseUrl}/studies`, [changed]);
    expect(again.status).toBe(200);
    expect(again.body?.['00081199']?.Value?.[0]?.['00081196']).toBeUndefined();
    const retired = readdirSync(join(server.dataDir, 'retired'), { recursive: true }).filter((f) => String(f).includes('.dcm.'));
    expect(retired).toHaveLength(1);
    expect(readFileSync(join(server.dataDir, 'retired', String(retired[0])))).toEqual(bytes);
  });

  test('an instance whose file an earlier crash lost (mid-replacement) is stored again by a re-send, changed or not', async () => {
    const bytes = readFileSync(join(sharedData(GE).path, '1-002.dcm'));
    expect((await postStow(`${server.baseUrl}/studies`, [bytes])).status).toBe(200);
    const sop = String((dcmjs.data.DicomMessage.readFile(new Uint8Array(bytes).buffer).dict['00080018']?.Value ?? [])[0]);
    const stored = server.archive.index.findInstance(sop);
    const url = `${server.baseUrl}/studies/${stored?.studyInstanceUid}/series/${stored?.seriesInstanceUid}/instances/${sop}`;
    const lose = () => rmSync(join(server.dataDir, String(stored?.storageKey)));
    lose();
    // The same bytes: acknowledged as stored, and readable again (it used to answer "unchanged" and stay lost).
    expect((await postStow(`${server.baseUrl}/studies`, [bytes])).status).toBe(200);
    expect((await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } })).status).toBe(200);
    lose();
    // A changed copy: stored in its place (it used to fail for ever, as nothing was there to move aside).
    const changed = rewrite(bytes, (dict) => {
      dict['0008103E'] = { vr: 'LO', Value: ['corrected after a crash'] };
    });
    expect((await postStow(`${server.baseUrl}/studies`, [changed])).status).toBe(200);
    expect(server.archive.index.findInstance(sop)?.sha256).toBe(createHash('sha256').update(changed).digest('hex'));
    expect(existsSync(join(server.dataDir, String(stored?.storageKey)))).toBe(true);
    // A power loss that kept the index row of that replacement but not its rename: the old file under the new row.
    expect(bytes.length).not.toBe(changed.length);
    writeFileSync(join(server.dataDir, String(stored?.storageKey)), bytes);
    // Not "unchanged": stored again (202: the file found there is kept under retired/, as a replaced copy is).
    expect((await postStow(`${server.baseUrl}/studies`, [changed])).status).toBe(202);
    expect(readFileSync(join(server.dataDir, String(stored?.storageKey)))).toEqual(changed);
    // The same, with a correction of the same length (PatientSex): only the stored file's hash tells the copies apart.
    const sameLength = rewrite(changed, (dict) => {
      dict['00100040'] = { vr: 'CS', Value: ['O'] };
    });
    expect(sameLength.length).toBe(changed.length);
    expect((await postStow(`${server.baseUrl}/studies`, [sameLength])).status).toBe(202);
    writeFileSync(join(server.dataDir, String(stored?.storageKey)), changed);
    expect((await postStow(`${server.baseUrl}/studies`, [sameLength])).status).toBe(202);
    expect(readFileSync(join(server.dataDir, String(stored?.storageKey)))).toEqual(sameLength);
  });
});

describeWithSharedData(GE)('STOW-RS replacement and cached metadata', () => {
  let server: TestArchiveServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  test('a copy that corrects the patient\'s name leaves no metadata cached from the copy it replaced', async () => {
    const archive = await startTestArchive();
    server = archive;
    const bytes = readFileSync(join(sharedData(GE).path, '1-003.dcm'));
    expect((await postStow(`${archive.baseUrl}/studies`, [bytes])).status).toBe(200);
    const study = String(archive.archive.index.search({ level: 'study', filters: [], limit: 10, offset: 0 }).rows[0]?.['study_uid']);
    expect((await fetch(`${archive.baseUrl}/studies/${study}/metadata`)).status).toBe(200); // cached now
    const corrected = rewrite(bytes, (dict) => {
      dict['00100010'] = { vr: 'PN', Value: [{ Alphabetic: 'Corrected^Name' }] };
    });
    expect((await postStow(`${archive.baseUrl}/studies`, [corrected])).status).toBe(202);
    const cached = () => readdirSync(join(archive.dataDir, 'instances'), { recursive: true }).map(String).filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(join(archive.dataDir, 'instances', f), 'utf8'));
    expect(cached().some((json) => json.includes('STS_'))).toBe(false);
    const [metadata] = (await (await fetch(`${archive.baseUrl}/studies/${study}/metadata`)).json()) as Record<string, { Value?: unknown[] }>[];
    expect(metadata?.['00100010']?.Value).toEqual([{ Alphabetic: 'Corrected^Name' }]);
    expect(cached()).toHaveLength(1);
  });
});
