import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { Archive } from './archive';

/** An instance of series `series` filed under `study`, written to tmp/ as a receiver leaves it. */
function received(dir: string, name: string, study: string, series: string, sop: string): string {
  const temp = join(dir, 'tmp', `${name}.part`);
  writeFileSync(temp, syntheticPetInstance({ sopInstanceUid: sop, seriesInstanceUid: series, imagePositionPatient: [0, 0, 1],
    attributes: { StudyInstanceUID: study, PatientID: 'SERIES-RACE' } }));
  return temp;
}

describe('the archive keeps its index and files consistent', () => {
  let dir: string;
  let archive: Archive;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-store-consistency-'));
    archive = await Archive.open(dir, createLogger('silent'));
  });
  afterEach(() => {
    archive.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a series belongs to one study: of two instances of one new series sent under two studies at once, one is stored and the other refused', async () => {
    const pairs = Array.from({ length: 20 }, (_, k) => ({ a: `2.25.9610.${k}`, b: `2.25.9620.${k}`, series: `2.25.9630.${k}` }));
    const outcomes = await Promise.all(pairs.flatMap(({ a, b, series }) => [
      archive.storeFromTemp(received(dir, `a${series}`, a, series, `${series}.1`)),
      archive.storeFromTemp(received(dir, `b${series}`, b, series, `${series}.2`)),
    ]));
    for (const [k, { series }] of pairs.entries()) {
      const pair = outcomes.slice(2 * k, 2 * k + 2);
      expect(pair.map((o) => o.status).sort()).toEqual(['failed', 'stored']);
      const refused = pair.find((o) => o.status === 'failed');
      expect(refused?.status === 'failed' ? refused.error.code : undefined).toBe('MIPSEG_INSTANCE_CONFLICT');
      // The index and the files agree: one study holds the series, and only its instance has a file.
      const studies = pairs[k] as { a: string; b: string };
      const held = [studies.a, studies.b].filter((s) => archive.index.listInstances({ studyUid: s }).length > 0);
      expect(held).toHaveLength(1);
      expect(archive.index.findSeriesStudy(series)).toBe(held[0]);
    }
    const files = readdirSync(join(dir, 'instances'), { recursive: true }).filter((f) => String(f).endsWith('.dcm'));
    expect(files).toHaveLength(pairs.length);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  test('an instance whose store listener failed for a reason of its own is answered "busy" (0xA700, a sender retries), not a processing failure (0x0110, final), and the cause is logged', async () => {
    archive.close();
    const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
    archive = await Archive.open(dir, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as (typeof lines)[number]) }));
    archive.onInstanceStored(() => {
      throw new Error('the outbox is closed');
    });
    const first = await archive.storeFromTemp(received(dir, 'first', '2.25.9641', '2.25.9641.1', '2.25.9641.1.1'));
    expect(first).toMatchObject({ status: 'failed', error: { code: 'MIPSEG_STORAGE_BUSY', failureReason: 0xa700 } });
    expect(first.status === 'failed' && first.error.message).toMatch(/stored, but its study check could not be recorded/);
    // The sender is pointed at the log: the cause is there.
    expect(lines.find((l) => l.level === 40 && l.err?.message === 'the outbox is closed')).toBeDefined();
  });

  test('an instance whose store listener failed is reported failed, and the sender\'s re-send tells the listeners again (its study check is recorded then), once', async () => {
    const heard: string[] = [];
    let failOnce = true;
    archive.onInstanceStored((header) => {
      if (failOnce) {
        failOnce = false;
        throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
      }
      heard.push(header.sopInstanceUid);
    });
    const first = await archive.storeFromTemp(received(dir, 'first', '2.25.9640', '2.25.9640.1', '2.25.9640.1.1'));
    expect(first.status).toBe('failed');
    const again = await archive.storeFromTemp(received(dir, 'again', '2.25.9640', '2.25.9640.1', '2.25.9640.1.1'));
    expect(again.status).toBe('unchanged');
    expect(heard).toEqual(['2.25.9640.1.1']);
    // Heard now: a further re-send is unchanged and tells no one, as any re-send of a stored instance.
    expect((await archive.storeFromTemp(received(dir, 'third', '2.25.9640', '2.25.9640.1', '2.25.9640.1.1'))).status).toBe('unchanged');
    expect(heard).toEqual(['2.25.9640.1.1']);
  });

  test('a re-send of an instance whose store listener failed tells the listeners after a restart too, once', async () => {
    archive.onInstanceStored(() => {
      throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
    });
    expect((await archive.storeFromTemp(received(dir, 'first', '2.25.9650', '2.25.9650.1', '2.25.9650.1.1'))).status).toBe('failed');
    // The service restarts before the sender sends again.
    archive.close();
    archive = await Archive.open(dir, createLogger('silent'));
    const heard: string[] = [];
    archive.onInstanceStored((header) => heard.push(header.sopInstanceUid));
    expect((await archive.storeFromTemp(received(dir, 'again', '2.25.9650', '2.25.9650.1', '2.25.9650.1.1'))).status).toBe('unchanged');
    expect(heard).toEqual(['2.25.9650.1.1']);
    archive.close();
    archive = await Archive.open(dir, createLogger('silent'));
    archive.onInstanceStored((header) => heard.push(header.sopInstanceUid));
    expect((await archive.storeFromTemp(received(dir, 'third', '2.25.9650', '2.25.9650.1', '2.25.9650.1.1'))).status).toBe('unchanged');
    expect(heard).toEqual(['2.25.9650.1.1']);
  });
});
