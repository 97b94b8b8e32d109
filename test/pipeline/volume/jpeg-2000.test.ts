import { resolve } from 'node:path';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { isMipsegError } from '@mipseg/shared/errors';
import { readModelManifest } from '@mipseg/shared/inference';
import { buildMipFromInstances } from '../../../services/worker/src/mip';
import { assemblePetVolume, parseInstance, readSliceHeader } from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { decodeFailure, decodeSlices, firstDifference } from './decode-slices';
import { encapsulatedFrame, encapsulateFrame, jpeg2000Copy } from './encapsulated-copies';
import { GE_SERIES, readDicomFolder } from './ge-series-files';
import { syntheticPetInstance } from './synthetic-pet-instance';

const MODEL_DIR = resolve(__dirname, '..', '..', '..', 'models', 'mip-attention-unet');

function transferSyntaxOf(instance: Uint8Array): string {
  return readSliceHeader(parseInstance(instance)).transferSyntaxUid;
}

describeWithSharedData(GE_SERIES)('the GE whole-body series re-encoded by OpenJPEG', () => {
  let native: Uint8Array[];
  beforeAll(() => { native = readDicomFolder(sharedData(GE_SERIES).path); });

  test('JPEG 2000 lossless (1.2.840.10008.1.2.4.90) decodes to exactly the native volume and coronal MIP', async () => {
    const encoded = native.map((b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true }));
    expect(encoded.every((b) => transferSyntaxOf(b) === TransferSyntax.Jpeg2000Lossless)).toBe(true);
    expect(firstDifference(assemblePetVolume(encoded).voxels, assemblePetVolume(native).voxels)).toBe(-1);
    const manifestInput = (await readModelManifest(MODEL_DIR)).input;
    const [fromJ2k, fromNative] = [buildMipFromInstances(encoded, manifestInput), buildMipFromInstances(native, manifestInput)];
    expect(firstDifference(fromJ2k.mip.suv, fromNative.mip.suv)).toBe(-1);
    expect(fromJ2k.mip.suv.reduce((a, b) => Math.max(a, b), 0)).toBeGreaterThan(8);
  });

  test('JPEG 2000 (1.2.840.10008.1.2.4.91) with a reversible codestream decodes to exactly the native slices', () => {
    const some = native.slice(120, 124);
    const encoded = some.map((b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000, signedCodestream: true }));
    expect(transferSyntaxOf(encoded[0] as Uint8Array)).toBe(TransferSyntax.Jpeg2000);
    expect(assemblePetVolume(encoded).voxels).toEqual(assemblePetVolume(some).voxels);
  });

  test('JPEG 2000 (1.2.840.10008.1.2.4.91), irreversible at 60 dB PSNR, stays close to the native slices', () => {
    const some = native.slice(120, 124);
    const encoded = some.map((b) =>
      jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000, signedCodestream: true, lossyPsnr: 60 }));
    const [lossy, exact] = [assemblePetVolume(encoded).voxels, assemblePetVolume(some).voxels];
    const peak = exact.reduce((a, b) => Math.max(a, b), 0);
    const errors = lossy.map((v, i) => Math.abs(v - (exact[i] as number)));
    expect(errors.some((e) => e > 0)).toBe(true);
    expect(errors.every((e) => e < peak * 0.01)).toBe(true);
  });

  test('an undecodable JPEG 2000 frame fails naming the instance and OpenJPEG\'s reason; the next slice still decodes', () => {
    const [bad, good] = [native[130] as Uint8Array, native[131] as Uint8Array];
    // A real codestream's main header (SOC, SIZ: its declared image is the slice's) over garbage where its tiles were:
    // what OpenJPEG is left to refuse.
    const real = encapsulatedFrame(jpeg2000Copy(bad, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true }));
    const firstTile = real.findIndex((b, k) => b === 0xff && real[k + 1] === 0x90);
    const damaged = Buffer.concat([real.subarray(0, firstTile), new Uint8Array(64).fill(0x5a)]);
    const garbage = encapsulateFrame(bad, TransferSyntax.Jpeg2000Lossless, damaged);
    const failure = decodeFailure([garbage]);
    expect(isMipsegError(failure, 'MIPSEG_VOLUME_INVALID')).toBe(true);
    expect((failure as Error).message).toMatch(/instance [\d.]+: JPEG 2000 data cannot be decoded \(.*ERROR.*\)/);
    const encoded = jpeg2000Copy(good, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true });
    expect(decodeSlices([encoded])[0]?.values).toEqual(decodeSlices([good])[0]?.values);
  });
});

describe('signed pixels (negative values) in JPEG 2000', () => {
  const native = [0, 1, 2].map((k) => syntheticPetInstance({
    sopInstanceUid: `2.25.75${k}`,
    imagePositionPatient: [0, 0, 4 * k],
    rows: 16,
    columns: 16,
    stored: Array.from({ length: 256 }, (_, i) => (i % 2 ? -1 : 1) * (i * 100 + k)),
  }));

  test.each([
    ['a signed codestream', true],
    ['an unsigned codestream holding the two\'s complement pattern', false],
  ])('survive encoding and decoding in %s', (_name, signedCodestream) => {
    const encoded = native.map((b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream }));
    const decoded = assemblePetVolume(encoded).voxels;
    expect(Math.min(...decoded)).toBe(-25502);
    expect(decoded).toEqual(assemblePetVolume(native).voxels);
  });
});
