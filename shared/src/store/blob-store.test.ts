import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBlobStore } from './blob-store';

describe('FileBlobStore.retire', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mipseg-blobs-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('keeps the file under retired/ and leaves it in place, so that no crash before the replacement leaves the key empty', async () => {
    const blobs = new FileBlobStore(root);
    await blobs.init();
    await blobs.writeAtomic('instances/1/2/3.dcm', 'old copy');
    const retired = await blobs.retire('instances/1/2/3.dcm', 'abc');
    expect(retired).toMatch(/^retired\/instances\/1\/2\/3\.dcm\.abc\.\d{13}$/);
    expect(await readFile(join(root, 'instances/1/2/3.dcm'), 'utf8')).toBe('old copy');
    expect(await readFile(join(root, String(retired)), 'utf8')).toBe('old copy');
    expect(await blobs.retire('instances/1/2/4.dcm', 'abc')).toBeUndefined(); // nothing there to keep
  });
});
