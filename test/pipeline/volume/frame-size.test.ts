import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { isMipsegError } from '@mipseg/shared/errors';
import { readSliceHeader, parseInstance } from '../../../services/worker/src/volume';
import { decodeFailure, decodeSlices } from './decode-slices';
import { dcmtkConvert, jpeg2000Copy } from './encapsulated-copies';
import { syntheticPetInstance } from './synthetic-pet-instance';

// A frame whose bitstream is Columns x Rows of its header holds exactly Rows x Columns pixels: only its declared
// size tells that it would be read as a scrambled image.

/** 2 rows of 8 columns, every value distinct, so a transposed reading could not give the same image. */
const WIDE = syntheticPetInstance({
  sopInstanceUid: '2.25.8801',
  imagePositionPatient: [0, 0, 0],
  rows: 2,
  columns: 8,
  stored: Array.from({ length: 16 }, (_, i) => 100 + 37 * i),
});

/** The same encoded frame under a header that says 8 rows of 2 columns (written by dcmjs, the frame untouched). */
function withRowsAndColumnsSwapped(instance: Uint8Array): Uint8Array {
  const file = dcmjs.data.DicomMessage.readFile(instance.slice().buffer);
  file.dict['00280010'] = { vr: 'US', Value: [8] };
  file.dict['00280011'] = { vr: 'US', Value: [2] };
  return new Uint8Array(file.write());
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-frame-size-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENCODINGS: ReadonlyArray<readonly [string, string, (native: Uint8Array) => Uint8Array]> = [
  ['JPEG Lossless', TransferSyntax.JpegLosslessSv1, (b) => dcmtkConvert('dcmcjpeg', ['+e1'], b, dir, 'jpeg-lossless')],
  ['JPEG-LS', TransferSyntax.JpegLsLossless, (b) => dcmtkConvert('dcmcjpls', ['+el'], b, dir, 'jpeg-ls')],
  ['JPEG 2000', TransferSyntax.Jpeg2000Lossless,
    (b) => jpeg2000Copy(b, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true })],
];

describe.each(ENCODINGS)('a %s frame', (codecName, transferSyntaxUid, encode) => {
  test('whose size matches Rows and Columns decodes to the native values', () => {
    const encoded = encode(WIDE);
    expect(readSliceHeader(parseInstance(encoded)).transferSyntaxUid).toBe(transferSyntaxUid);
    expect(decodeSlices([encoded])[0]?.values).toEqual(decodeSlices([WIDE])[0]?.values);
  });

  test('transposed against Rows and Columns is refused, naming both sizes, rather than read as a scrambled image', () => {
    const failure = decodeFailure([withRowsAndColumnsSwapped(encode(WIDE))]);
    expect(isMipsegError(failure, 'MIPSEG_VOLUME_INVALID')).toBe(true);
    expect((failure as Error).message).toBe(`PET series does not form one regular volume: instance 2.25.8801: ${codecName} data cannot be decoded ` +
      `(${codecName} bitstream declares 8 columns x 2 rows, the header says Columns 2 and Rows 8; not decoded)`);
  });
});
