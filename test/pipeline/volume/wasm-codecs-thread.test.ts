import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { assemblePetVolume } from '../../../services/worker/src/volume';
import { dcmtkConvert, jpeg2000Copy } from './encapsulated-copies';
import { syntheticPetInstance } from './synthetic-pet-instance';

const VOLUME_MODULE = resolve(__dirname, '..', '..', '..', 'services', 'worker', 'src', 'volume', 'index.ts');

/**
 * Assembles each series on a fresh worker thread, as an analysis thread would (TypeScript compiled by tsx, as
 * ComputePool does for its threads), and returns the voxels.
 */
function assembleOnWorkerThread(series: readonly Uint8Array[][]): Promise<Float32Array[]> {
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
const { parentPort, workerData } = require('node:worker_threads');
const { assemblePetVolume } = require(${JSON.stringify(VOLUME_MODULE)});
parentPort.postMessage(workerData.map((instances) => assemblePetVolume(instances).voxels));`;
  const worker = new Worker(script, { eval: true, workerData: series });
  return new Promise((done, fail) => {
    worker.once('message', (voxels: Float32Array[]) => { void worker.terminate(); done(voxels); });
    worker.once('error', fail);
  });
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-wasm-thread-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('JPEG-LS and JPEG 2000 slices decode on a worker thread exactly as on the main thread', async () => {
  const native = [0, 1, 2].map((k) => syntheticPetInstance({
    sopInstanceUid: `2.25.76${k}`,
    imagePositionPatient: [0, 0, 4 * k],
    rows: 32,
    columns: 32,
    stored: Array.from({ length: 1024 }, (_, i) => ((i * 7919 + k * 104729) % 60000) - 30000),
  }));
  const jpegLs = native.map((b, i) => dcmtkConvert('dcmcjpls', [], b, dir, `thread-jls-${i}`));
  const jpeg2000 = native.map((b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true }));
  const [fromJpegLs, fromJpeg2000] = await assembleOnWorkerThread([jpegLs, jpeg2000]);
  const expected = assemblePetVolume(native).voxels;
  expect(fromJpegLs).toEqual(expected);
  expect(fromJpeg2000).toEqual(expected);
  expect(Math.min(...expected)).toBeLessThan(0);
});
