import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendInstancesDimse } from '@mipseg/dimse';
import { SCP_AE_TITLE, startTestDimse, storedFile, type TestDimse } from '../dimse/dimse-test-kit';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';
import { HEADER_PAST_PROBE_AE_TITLE, instanceWithHeaderPastProbe } from '../support/header-past-probe';
import { postStow } from '../support/stow';

/**
 * The archive parses a received instance's header from its first MiB (the bytes the receiver kept while it wrote
 * the file). Where that MiB ended inside a sequence of undefined length, dicom-parser stopped there without a word,
 * Pixel Data seemed missing and a whole, valid image was refused with 0xC000. It must be parsed from the whole file
 * and stored, by either path.
 */
describe('an instance whose header runs past the first MiB inside a sequence of undefined length', () => {
  test('is stored by STOW-RS (200), byte for byte', async () => {
    const server: TestArchiveServer = await startTestArchive();
    try {
      const file = instanceWithHeaderPastProbe('2.25.9701');
      const reply = await postStow(`${server.baseUrl}/studies`, [file]);
      expect(reply.status).toBe(200);
      const stored = server.archive.index.findInstance('2.25.9701');
      expect(readFileSync(join(server.dataDir, stored?.storageKey as string)).equals(file)).toBe(true);
    } finally {
      await server.stop();
    }
  });

  test('is stored by C-STORE (status 0x0000), byte for byte', async () => {
    const dimse: TestDimse = await startTestDimse();
    const dir = mkdtempSync(join(tmpdir(), 'mipseg-header-past-probe-'));
    try {
      const file = instanceWithHeaderPastProbe('2.25.9702');
      writeFileSync(join(dir, 'instance.dcm'), file);
      // mipseg's SCU sends the data set bytes as they are, so the SCP's file is this one and its probe ends as planned.
      const results = await sendInstancesDimse({
        host: '127.0.0.1', port: dimse.port, callingAeTitle: HEADER_PAST_PROBE_AE_TITLE, calledAeTitle: SCP_AE_TITLE,
        files: [join(dir, 'instance.dcm')],
      });
      expect(results.map((r) => [r.outcome, r.status])).toEqual([['sent', 0]]);
      expect((await storedFile(dimse, '2.25.9702')).equals(file)).toBe(true);
      expect(await dimse.tempFiles()).toEqual([]);
    } finally {
      await dimse.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
