import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sameDataSet } from '@mipseg/shared/dicom';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';

/** Runs a dcmtk tool over files in `dir`; throws with its output when it fails. */
function dcmtk(dir: string, tool: string, args: string[]): void {
  const run = spawnSync(tool, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`${tool} cannot run (apt-get install dcmtk): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${run.status}: ${run.stdout}${run.stderr}`);
}

/**
 * The same instance, re-encoded by dcmtk as another sender would send it, is the same data set; a change to any
 * value, item or fragment is not. The original is written by dcmjs (Explicit VR LE), so two writers meet here.
 */
describe('sameDataSet tells a re-encoded copy of an instance from a changed one', () => {
  let dir: string;
  const file = (name: string) => readFileSync(join(dir, name));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-same-'));
    writeFileSync(join(dir, 'original.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.8801', imagePositionPatient: [0, 0, 0],
      stored: [5, 900, 30000, -7] }));
    dcmtk(dir, 'dcmconv', ['+ti', 'original.dcm', 'implicit.dcm']);
    dcmtk(dir, 'dcmconv', ['+te', '-e', 'original.dcm', 'undefined-lengths.dcm']);
    dcmtk(dir, 'dcmconv', ['+te', '+e', '+g', 'original.dcm', 'group-lengths.dcm']);
    copyFileSync(join(dir, 'original.dcm'), join(dir, 'renamed.dcm'));
    dcmtk(dir, 'dcmodify', ['-nb', '-m', 'PatientName=Other^Patient', 'renamed.dcm']);
    copyFileSync(join(dir, 'original.dcm'), join(dir, 'other-dose.dcm'));
    dcmtk(dir, 'dcmodify', ['-nb', '-m', '(0054,0016)[0].(0018,1074)=360000000', 'other-dose.dcm']);
    dcmtk(dir, 'dcmcjpeg', ['original.dcm', 'jpeg.dcm']);
    dcmtk(dir, 'dcmconv', ['-e', 'jpeg.dcm', 'jpeg-undefined-lengths.dcm']);
    writeFileSync(join(dir, 'other-pixels.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.8801', imagePositionPatient: [0, 0, 0],
      stored: [5, 900, 30000, -8] }));
    dcmtk(dir, 'dcmcjpeg', ['other-pixels.dcm', 'jpeg-other.dcm']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['implicit.dcm', 'undefined-lengths.dcm', 'group-lengths.dcm'])('the original and %s (new File Meta, other encoding) hold the same data set', (name) => {
    expect(file(name).equals(file('original.dcm'))).toBe(false);
    expect(sameDataSet(file('original.dcm'), file(name))).toBe(true);
    expect(sameDataSet(file(name), file('original.dcm'))).toBe(true);
  });

  test('JPEG Lossless copies whose sequences are encoded differently hold the same data set', () => {
    expect(sameDataSet(file('jpeg.dcm'), file('jpeg-undefined-lengths.dcm'))).toBe(true);
  });

  test.each([
    ['renamed.dcm', 'a value changed (PatientName)'],
    ['other-dose.dcm', 'a value inside a sequence item changed'],
    ['jpeg.dcm', 'the pixel data compressed (fragments instead of native values)'],
  ])('the original and %s do not: %s', (name) => {
    expect(sameDataSet(file('original.dcm'), file(name))).toBe(false);
  });

  test('compressed copies of different pixels (different fragments) do not', () => {
    expect(sameDataSet(file('jpeg.dcm'), file('jpeg-other.dcm'))).toBe(false);
  });

  test('a file that cannot be parsed is never the same', () => {
    expect(sameDataSet(file('original.dcm'), Buffer.from('not DICOM at all'))).toBe(false);
  });
});
