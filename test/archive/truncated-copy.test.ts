import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileMetaInformation } from '@mipseg/shared/dicom';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { failureReasons, postStow } from '../support/stow';

const SOP = '2.25.9601';

/** The instance in Implicit VR Little Endian (dcmtk), as most PACS send it. */
function implicitCopy(explicit: Uint8Array): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-truncated-'));
  try {
    writeFileSync(join(dir, 'in.dcm'), explicit);
    const run = spawnSync('dcmconv', ['+ti', 'in.dcm', 'out.dcm'], { cwd: dir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`dcmconv: ${run.stderr}`);
    return readFileSync(join(dir, 'out.dcm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where the element before Pixel Data ends: the data set cut there has every element whole, and no pixels. */
function pixelDataStart(bytes: Buffer): number {
  return bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
}

/**
 * A copy of a stored instance that arrives cut short (a sender's crash, a proxy's limit) must be refused with
 * 0xC000 and leave the stored copy alone: dicom-parser reads a value running past the end without complaint, so
 * before, such a copy was stored with Success and replaced the good one.
 */
describe.each([['Explicit VR', false], ['Implicit VR', true]])('a truncated copy of a stored instance (%s)', (_name, implicit) => {
  let server: TestArchiveServer;
  let good: Buffer;
  beforeAll(async () => {
    server = await startTestArchive();
    const explicit = syntheticPetInstance({ sopInstanceUid: SOP, imagePositionPatient: [0, 0, 0], stored: [1, 2, 3, 4] });
    good = implicit ? implicitCopy(explicit) : Buffer.from(explicit);
    expect((await postStow(`${server.baseUrl}/studies`, [good])).status).toBe(200);
  });
  afterAll(() => server.stop());

  const storedBytes = () => readFileSync(join(server.dataDir, server.archive.index.findInstance(SOP)?.storageKey as string));

  test('cut inside the element before Pixel Data: refused with 0xC000 as truncated, the stored copy kept', async () => {
    const cut = good.subarray(0, pixelDataStart(good) - 1);
    const reply = await postStow(`${server.baseUrl}/studies`, [cut]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(storedBytes().equals(good)).toBe(true);
  });

  test('cut just before Pixel Data: refused as missing Pixel Data, the stored copy kept', async () => {
    const cut = good.subarray(0, pixelDataStart(good));
    expect(readFileMetaInformation(cut).mediaStorageSopInstanceUid).toBe(SOP);
    const reply = await postStow(`${server.baseUrl}/studies`, [cut]);
    expect(reply.status).toBe(400);
    expect(failureReasons(reply)).toEqual([0xc000]);
    expect(storedBytes().equals(good)).toBe(true);
  });
});
