import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { isMipsegError } from '@mipseg/shared/errors';
import { readModelManifest } from '@mipseg/shared/inference';
import { buildMipFromInstances } from '../../../services/worker/src/mip';
import { assemblePetVolume, parseInstance, readSliceHeader } from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { decodeFailure, firstDifference } from './decode-slices';
import { dcmtkConvert, encapsulatedFrame, encapsulateFrame } from './encapsulated-copies';
import { GE_SERIES, readDicomFolder } from './ge-series-files';
import { syntheticPetInstance } from './synthetic-pet-instance';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');

function transferSyntaxOf(instance: Uint8Array): string {
  return readSliceHeader(parseInstance(instance)).transferSyntaxUid;
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-rle-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithSharedData(GE_SERIES)('the GE whole-body series re-encoded by dcmcrle', () => {
  let native: Uint8Array[];
  let rle: Uint8Array[];
  beforeAll(() => {
    native = readDicomFolder(sharedData(GE_SERIES).path);
    rle = native.map((b, i) => dcmtkConvert('dcmcrle', [], b, dir, `ge-rle-${i}`));
  });

  test('RLE Lossless (1.2.840.10008.1.2.5) decodes to exactly the native volume and coronal MIP in SUV', async () => {
    expect(rle.every((b) => transferSyntaxOf(b) === TransferSyntax.RleLossless)).toBe(true);
    expect(firstDifference(assemblePetVolume(rle).voxels, assemblePetVolume(native).voxels)).toBe(-1);
    const manifestInput = (await readModelManifest(MODEL_DIR)).input;
    const [fromRle, fromNative] = [buildMipFromInstances(rle, manifestInput), buildMipFromInstances(native, manifestInput)];
    expect(fromRle.suvScaleFactors).toEqual(fromNative.suvScaleFactors);
    expect(firstDifference(fromRle.mip.suv, fromNative.mip.suv)).toBe(-1);
    expect(fromRle.mip.suv.reduce((a, b) => Math.max(a, b), 0)).toBeGreaterThan(8);
  });

  test('a corrupt RLE frame fails as MIPSEG_VOLUME_INVALID, naming the instance and what is wrong', () => {
    const bad = rle[131] as Uint8Array;
    const truncated = encapsulateFrame(bad, TransferSyntax.RleLossless, encapsulatedFrame(bad).slice(0, 1000));
    const failure = decodeFailure([truncated]);
    expect(isMipsegError(failure, 'MIPSEG_VOLUME_INVALID')).toBe(true);
    expect((failure as Error).message).toMatch(/instance [\d.]+: RLE Lossless data cannot be decoded \(segment \d/);
  });
});

test('signed pixels (negative values) of an odd-sized slice survive RLE encoding and decoding', () => {
  // 3 x 5 pixels, each row two values then a run of three: dcmcrle codes a row's bytes as a 3-byte literal run and
  // a 2-byte replicate run, so each segment is 15 bytes, padded to 16.
  const native = [0, 1, 2].map((k) => syntheticPetInstance({
    sopInstanceUid: `2.25.75${k}`,
    imagePositionPatient: [0, 0, 4 * k],
    rows: 3,
    columns: 5,
    stored: [0, 1, 2].flatMap((row) => [row * 1000 + k, -300 - k, -13002, -13002, -13002]),
  }));
  const encoded = native.map((b, i) => dcmtkConvert('dcmcrle', [], b, dir, `signed-${i}`));
  expect(transferSyntaxOf(encoded[0] as Uint8Array)).toBe(TransferSyntax.RleLossless);
  expect(encoded.map((b) => encapsulatedFrame(b).length)).toEqual([96, 96, 96]);
  const decoded = assemblePetVolume(encoded).voxels;
  expect(Math.min(...decoded)).toBe(-13002);
  expect(decoded).toEqual(assemblePetVolume(native).voxels);
});
