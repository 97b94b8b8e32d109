import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

const QUIET_PERIOD_MS = 300;
const STUDY = '2.25.9951';

function slice(n: number): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${STUDY}.1.${n}`, seriesInstanceUid: `${STUDY}.1`, imagePositionPatient: [0, 0, n],
    attributes: { StudyInstanceUID: STUDY } }));
}

/**
 * A STOW-RS request counts as the study arriving until it ends, as an association does: one part that takes longer than
 * the quiet period to arrive (a large instance, a slow link) must not have the study checked, analysed and exported
 * with the parts before it only.
 */
describe('STOW-RS and the quiet period of the studies it stores', () => {
  let server: TestArchiveServer;
  beforeAll(async () => {
    server = await startTestArchive({ QUIET_PERIOD_MS: String(QUIET_PERIOD_MS) });
  });
  afterAll(() => server.stop());

  test('a study stored by a request still sending is held: no quiet period passes until the request has ended', async () => {
    // When the study was last seen arriving: a store, or a note that it is still arriving (what restarts its quiet period).
    const seen: number[] = [];
    server.archive.onInstanceStored((header) => header.studyInstanceUid === STUDY && seen.push(Date.now()));
    server.archive.onStudyActivity((study) => study === STUDY && seen.push(Date.now()));
    const boundary = `b-${randomUUID()}`;
    const partHeader = `--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`;
    const [first, second] = [slice(1), slice(2)];
    let ended = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.gateway.port, method: 'POST', path: '/dicomweb/studies',
        headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(`${partHeader}`);
      req.write(first);
      req.write(`\r\n${partHeader}`);
      // The second part trickles in over four quiet periods.
      const pieces = [second.subarray(0, 100), second.subarray(100, 200), second.subarray(200, 300), second.subarray(300)];
      let k = 0;
      const next = (): void => {
        const piece = pieces[k++];
        if (piece) {
          req.write(piece);
          setTimeout(next, QUIET_PERIOD_MS);
          return;
        }
        ended = Date.now();
        req.end(`\r\n--${boundary}--\r\n`);
      };
      setTimeout(next, QUIET_PERIOD_MS);
    });
    expect(status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const marks = [...seen, ended].sort((a, b) => a - b);
    const gaps = marks.slice(1).map((t, i) => t - (marks[i] as number));
    expect(Math.max(...gaps)).toBeLessThan(QUIET_PERIOD_MS);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(ended);
  });
});
