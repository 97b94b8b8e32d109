import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as dcmjs from 'dcmjs';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { isMipsegError } from '@mipseg/shared/errors';
import { readModelManifest } from '@mipseg/shared/inference';
import { buildMipFromInstances, type MipManifestInput } from '../../../services/worker/src/mip';
import { assemblePetVolume, parseInstance, readSliceHeader } from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { decodeFailure, decodeSlices, firstDifference } from './decode-slices';
import { dcmtkConvert, encapsulatedFrame, encapsulateFrame } from './encapsulated-copies';
import { GE_SERIES, readDicomFolder } from './ge-series-files';
import { syntheticPetInstance } from './synthetic-pet-instance';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');
/** dcmcjpls's default maximum deviation for near-lossless (+en). */
const NEAR = 2;

/** The same instance with PixelRepresentation 0, written by dcmjs. */
function asUnsigned(instance: Uint8Array): Uint8Array {
  const file = dcmjs.data.DicomMessage.readFile(instance.slice().buffer);
  file.dict['00280103'] = { vr: 'US', Value: [0] };
  return new Uint8Array(file.write());
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-jpeg-ls-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithSharedData(GE_SERIES)('the GE whole-body series re-encoded by dcmcjpls', () => {
  let native: Uint8Array[];
  let lossless: Uint8Array[];
  let manifestInput: MipManifestInput;

  beforeAll(async () => {
    native = readDicomFolder(sharedData(GE_SERIES).path);
    lossless = native.map((b, i) => dcmtkConvert('dcmcjpls', ['+el'], b, dir, `ge-jls-${i}`));
    manifestInput = (await readModelManifest(MODEL_DIR)).input;
  });

  test('JPEG-LS lossless (1.2.840.10008.1.2.4.80) decodes to exactly the native volume', () => {
    expect(lossless.every((b) => readSliceHeader(parseInstance(b)).transferSyntaxUid === TransferSyntax.JpegLsLossless)).toBe(true);
    expect(firstDifference(assemblePetVolume(lossless).voxels, assemblePetVolume(native).voxels)).toBe(-1);
  });

  test('JPEG-LS lossless projects to exactly the native coronal MIP in SUV', () => {
    const fromJpegLs = buildMipFromInstances(lossless, manifestInput);
    const fromNative = buildMipFromInstances(native, manifestInput);
    expect(fromJpegLs.suvScaleFactors).toEqual(fromNative.suvScaleFactors);
    expect(firstDifference(fromJpegLs.mip.suv, fromNative.mip.suv)).toBe(-1);
    expect(fromJpegLs.mip.suv.reduce((a, b) => Math.max(a, b), 0)).toBeGreaterThan(8);
  });

  test(`JPEG-LS near-lossless (1.2.840.10008.1.2.4.81, NEAR ${NEAR}) stays within NEAR stored units of each native value`, () => {
    const some = native.slice(120, 126);
    // dcmcjpls encodes near-lossless only unsigned data; these slices hold no negative value, so relabelling them
    // unsigned keeps every value.
    expect(decodeSlices(some).every(({ values }) => values.every((v) => v >= 0))).toBe(true);
    const near = some.map((b, i) => dcmtkConvert('dcmcjpls', ['+en'], asUnsigned(b), dir, `ge-jls-near-${i}`));
    const [decoded, reference] = [decodeSlices(near), decodeSlices(some)];
    let largest = 0;
    decoded.forEach(({ values, rescaleSlope: slope, transferSyntaxUid }, k) => {
      expect(transferSyntaxUid).toBe(TransferSyntax.JpegLsNearLossless);
      const nativeValues = reference[k]?.values as Float32Array;
      // Back to stored values (RescaleIntercept is 0), which are integers.
      values.forEach((v, i) => {
        largest = Math.max(largest, Math.abs(Math.round(v / slope) - Math.round((nativeValues[i] as number) / slope)));
      });
    });
    expect(largest).toBeGreaterThan(0); // it was lossy, so the tolerance was needed
    expect(largest).toBeLessThanOrEqual(NEAR);
  });

  test('an undecodable JPEG-LS frame fails naming the instance; the slices after it still decode', () => {
    const [good, bad] = [lossless[130] as Uint8Array, lossless[131] as Uint8Array];
    const frame = encapsulatedFrame(bad);
    const truncated = encapsulateFrame(bad, TransferSyntax.JpegLsLossless, frame.slice(0, frame.length >> 1));
    const failure = decodeFailure([truncated]);
    expect(isMipsegError(failure, 'MIPSEG_VOLUME_INVALID')).toBe(true);
    expect((failure as Error).message).toMatch(/instance [\d.]+: JPEG-LS data cannot be decoded/);
    expect(decodeSlices([good])[0]?.values).toEqual(decodeSlices([native[130] as Uint8Array])[0]?.values);
  });
});

test('signed pixels (negative values) survive JPEG-LS encoding and decoding', () => {
  const native = [0, 1, 2].map((k) => syntheticPetInstance({
    sopInstanceUid: `2.25.74${k}`,
    imagePositionPatient: [0, 0, 4 * k],
    stored: Array.from({ length: 16 }, (_, i) => (i % 2 ? -1 : 1) * (i * 1000 + k)),
  }));
  const encoded = native.map((b, i) => dcmtkConvert('dcmcjpls', [], b, dir, `signed-${i}`));
  expect(readSliceHeader(parseInstance(encoded[0] as Uint8Array)).transferSyntaxUid).toBe(TransferSyntax.JpegLsLossless);
  const decoded = assemblePetVolume(encoded).voxels;
  expect(Math.min(...decoded)).toBe(-15002);
  expect(decoded).toEqual(assemblePetVolume(native).voxels);
});
