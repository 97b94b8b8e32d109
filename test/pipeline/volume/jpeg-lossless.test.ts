import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { isMipsegError } from '@mipseg/shared/errors';
import {
  assemblePetVolume,
  decodeSliceInto,
  parseInstance,
  pixelDataSource,
  readSliceHeader,
} from '../../../services/worker/src/volume';
import { describeWithSharedData, sharedData } from '../../support/shared-data';
import { dcmtkConvert as dcmtk } from './encapsulated-copies';
import { GE_SERIES, readDicomFolder } from './ge-series-files';
import { syntheticPetInstance } from './synthetic-pet-instance';

const GH184 = 'data/pet-dicom/singles/fo-dicom-GH184.dcm';

function decodeOne(bytes: Uint8Array): { values: Float32Array; transferSyntaxUid: string } {
  const ds = parseInstance(bytes);
  const header = readSliceHeader(ds);
  const values = new Float32Array(header.rows * header.columns);
  decodeSliceInto(pixelDataSource(ds), header, values);
  return { values, transferSyntaxUid: header.transferSyntaxUid };
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-jpeg-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithSharedData(GH184)('JPEG Lossless from a GE scanner (fo-dicom GH184)', () => {
  test('decodes to exactly what dcmdjpeg decompresses', () => {
    const jpeg = new Uint8Array(readFileSync(sharedData(GH184).path));
    const ours = decodeOne(jpeg);
    const dcmtkNative = decodeOne(dcmtk('dcmdjpeg', [], jpeg, dir, 'gh184'));
    expect(ours.transferSyntaxUid).toBe(TransferSyntax.JpegLosslessSv1);
    expect(dcmtkNative.transferSyntaxUid).not.toBe(TransferSyntax.JpegLosslessSv1);
    expect(ours.values).toEqual(dcmtkNative.values);
    expect(Math.max(...ours.values)).toBeGreaterThan(0);
  });
});

describeWithSharedData(GE_SERIES)('GE slices re-encoded by dcmcjpeg', () => {
  let native: Uint8Array[];
  beforeAll(() => { native = readDicomFolder(sharedData(GE_SERIES).path).slice(120, 124); });

  test.each([
    ['JPEG Lossless SV1 (1.2.840.10008.1.2.4.70)', ['+e1'], TransferSyntax.JpegLosslessSv1],
    ['JPEG Lossless Process 14, predictor 6 (1.2.840.10008.1.2.4.57)', ['+el', '+sv', '6'], TransferSyntax.JpegLossless],
  ])('%s assembles into the same volume as the native slices', (_name, options, syntax) => {
    const encoded = native.map((b, i) => dcmtk('dcmcjpeg', options, b, dir, `ge-${syntax}-${i}`));
    expect(readSliceHeader(parseInstance(encoded[0] as Uint8Array)).transferSyntaxUid).toBe(syntax);
    expect(assemblePetVolume(encoded).voxels).toEqual(assemblePetVolume(native).voxels);
  });

  test('refuses Explicit VR Big Endian, naming the transfer syntax and what is decoded', () => {
    const encoded = native.map((b, i) => dcmtk('dcmconv', ['+tb'], b, dir, `ge-big-endian-${i}`));
    expect(readSliceHeader(parseInstance(encoded[0] as Uint8Array)).transferSyntaxUid).toBe(TransferSyntax.ExplicitVrBigEndian);
    let refusal: unknown;
    try {
      assemblePetVolume(encoded);
    } catch (err) {
      refusal = err;
    }
    expect(isMipsegError(refusal, 'MIPSEG_VOLUME_UNSUPPORTED')).toBe(true);
    expect((refusal as Error).message).toContain(TransferSyntax.ExplicitVrBigEndian);
    expect((refusal as Error).message).toContain(TransferSyntax.RleLossless);
    expect((refusal as Error).message).toContain(TransferSyntax.JpegLsLossless);
  });
});

test('signed pixels (negative values) survive JPEG Lossless encoding and decoding', () => {
  const native = [0, 1, 2].map((k) => syntheticPetInstance({
    sopInstanceUid: `2.25.73${k}`,
    imagePositionPatient: [0, 0, 4 * k],
    stored: Array.from({ length: 16 }, (_, i) => (i % 2 ? -1 : 1) * (i * 1000 + k)),
  }));
  const encoded = native.map((b, i) => dcmtk('dcmcjpeg', ['+e1'], b, dir, `signed-${i}`));
  expect(readSliceHeader(parseInstance(encoded[0] as Uint8Array)).transferSyntaxUid).toBe(TransferSyntax.JpegLosslessSv1);
  const decoded = assemblePetVolume(encoded).voxels;
  expect(Math.min(...decoded)).toBe(-15002);
  expect(decoded).toEqual(assemblePetVolume(native).voxels);
});
