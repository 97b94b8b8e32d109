import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describeWithSharedData, sharedData } from '../support/shared-data';
import { CLI } from '../support/mipseg-process';

const IMAGE = 'data/mip-pet/patients/imgs/patient_004.png';

describeWithSharedData(IMAGE)('mipseg segment-mip (the built CLI)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('writes a 0/255 mask PNG of the input size for a DM i AI MIP', () => {
    const input = sharedData(IMAGE).path;
    const out = join(dir, 'mask.png');
    // HOST=0.0.0.0 without AUTH_TOKENS, as in the gateway image: segment-mip listens on nothing, so it runs.
    const stdout = execFileSync(process.execPath, [CLI, 'segment-mip', input, out],
      { encoding: 'utf8', env: { ...process.env, HOST: '0.0.0.0', AUTH_TOKENS: '' } });
    expect(stdout).toMatch(/400x\d+ mask, \d+ tumour pixels/);
    const source = PNG.sync.read(readFileSync(input));
    const mask = PNG.sync.read(readFileSync(out));
    expect([mask.width, mask.height]).toEqual([source.width, source.height]);
    const values = new Set<number>();
    for (let i = 0; i < mask.data.length; i += 4) values.add(mask.data[i] as number);
    expect([...values].every((v) => v === 0 || v === 255)).toBe(true);
  });

  test('refuses a file that is not a PNG with a clear error and exit code 1', () => {
    const notPng = join(dir, 'x.png');
    writeFileSync(notPng, 'not an image');
    let failed: { status?: number; stderr?: string } = {};
    try {
      execFileSync(process.execPath, [CLI, 'segment-mip', notPng, join(dir, 'y.png')], { stdio: 'pipe' });
    } catch (err) {
      failed = err as { status?: number; stderr?: string };
    }
    expect(failed.status).toBe(1);
    expect(String(failed.stderr)).toMatch(/MIPSEG_IMAGE_INVALID/);
  });

  test('says why an input cannot be read: "not found" only for a missing file, a folder as a folder', () => {
    const answer = (input: string): { status?: number; stderr?: string } => {
      try {
        execFileSync(process.execPath, [CLI, 'segment-mip', input, join(dir, 'z.png')], { stdio: 'pipe' });
        return {};
      } catch (err) {
        return err as { status?: number; stderr?: string };
      }
    };
    expect(String(answer(join(dir, 'absent.png')).stderr)).toMatch(/MIPSEG_NOT_FOUND/);
    const folder = answer(dir);
    expect(folder.status).toBe(1);
    expect(String(folder.stderr)).toMatch(/EISDIR/);
    expect(String(folder.stderr)).not.toMatch(/not found/);
  });
});
