import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

const QUIET_PERIOD_MS = 300;
const STUDY = '2.25.9951';

function slice(n: number, study = STUDY): Buffer {
  return Buffer.from(syntheticPetInstance({ sopInstanceUid: `${study}.1.${n}`, seriesInstanceUid: `${study}.1`, imagePositionPatient: [0, 0, n],
    attributes: { StudyInstanceUID: study } }));
}

/**
 * Posts `whole`, then `trickled` a piece every quiet period (four pieces), then the closing boundary; resolves with the
 * status and when the request ended.
 */
function trickle(port: number, whole: readonly Buffer[], trickled: Buffer): Promise<{ status: number; ended: number }> {
  const boundary = `b-${randomUUID()}`;
  const partHeader = `--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`;
  let ended = 0;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/dicomweb/studies',
      headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ended }));
    });
    req.on('error', reject);
    for (const part of whole) {
      req.write(partHeader);
      req.write(part);
      req.write('\r\n');
    }
    req.write(partHeader);
    const pieces = [trickled.subarray(0, 100), trickled.subarray(100, 200), trickled.subarray(200, 300), trickled.subarray(300)];
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
    const { status, ended } = await trickle(server.gateway.port, [slice(1)], slice(2));
    expect(status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const marks = [...seen, ended].sort((a, b) => a - b);
    const gaps = marks.slice(1).map((t, i) => t - (marks[i] as number));
    expect(Math.max(...gaps)).toBeLessThan(QUIET_PERIOD_MS);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(ended);
  });

  test('a study the request has gone on from is let go a quiet period after its last instance, not held to the end', async () => {
    const [gone, next] = ['2.25.9952', '2.25.9953'];
    const seen = new Map<string, number[]>([[gone, []], [next, []]]);
    const mark = (study: string) => seen.get(study)?.push(Date.now());
    server.archive.onInstanceStored((header) => mark(header.studyInstanceUid));
    server.archive.onStudyActivity(mark);
    const { status, ended } = await trickle(server.gateway.port, [slice(1, gone), slice(1, next)], slice(2, next));
    expect(status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const goneMarks = seen.get(gone) ?? [];
    // Let go a quiet period after its last instance, the next study's stored meanwhile: its last mark is long before the end.
    expect(ended - Math.max(...goneMarks)).toBeGreaterThan(QUIET_PERIOD_MS);
    expect(Math.max(...(seen.get(next) ?? []))).toBeGreaterThanOrEqual(ended);
  });
});
