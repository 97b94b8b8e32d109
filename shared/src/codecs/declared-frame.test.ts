import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoder } from 'jpeg-lossless-decoder-js';
import { dcmtkConvert, encapsulatedFrame, jpeg2000Copy } from '../../../test/pipeline/volume/encapsulated-copies';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import { failureOf } from '../../../test/support/failure-of';
import { TransferSyntax } from '../dicom/transfer-syntaxes';
import { DeclaredFrameMismatch } from './declared-frame';
import type { FrameGeometry } from './frame-codec';
import { frameCodecFor } from './frame-codecs';
import * as wasmDecoders from './wasm-frame-decoders';

// Real frames of 48 rows x 64 columns of 16-bit samples, each under a data set that says otherwise.
const ROWS = 48;
const COLUMNS = 64;

let dir: string;
const frames = new Map<string, Uint8Array>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mipseg-declared-frame-'));
  const stored = Array.from({ length: ROWS * COLUMNS }, (_, i) => (i * 7919) % 30000);
  const native = syntheticPetInstance({ sopInstanceUid: '2.25.7101', imagePositionPatient: [0, 0, 0], rows: ROWS, columns: COLUMNS, stored });
  frames.set(TransferSyntax.JpegLossless, encapsulatedFrame(dcmtkConvert('dcmcjpeg', ['+el'], native, dir, 'p14')));
  frames.set(TransferSyntax.JpegLosslessSv1, encapsulatedFrame(dcmtkConvert('dcmcjpeg', [], native, dir, 'sv1')));
  frames.set(TransferSyntax.JpegLsLossless, encapsulatedFrame(dcmtkConvert('dcmcjpls', [], native, dir, 'jls')));
  frames.set(TransferSyntax.Jpeg2000Lossless,
    encapsulatedFrame(jpeg2000Copy(native, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: false })));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/** Spies on the decoder behind each codec: whether it ran says whether the declared image was allocated. */
function decoderSpies(): jest.SpyInstance[] {
  return [
    jest.spyOn(Decoder.prototype, 'decode'),
    jest.spyOn(wasmDecoders, 'decodeJpegLsFrame'),
    jest.spyOn(wasmDecoders, 'decodeJpeg2000Frame'),
  ];
}

const geometry = (rows: number, columns: number, bitsAllocated = 16): FrameGeometry => ({ rows, columns, bitsAllocated });

const CODECS = [
  ['JPEG Lossless (SOF3)', TransferSyntax.JpegLossless],
  ['JPEG Lossless SV1 (SOF3)', TransferSyntax.JpegLosslessSv1],
  ['JPEG-LS (SOF55)', TransferSyntax.JpegLsLossless],
  ['JPEG 2000 (SIZ)', TransferSyntax.Jpeg2000Lossless],
] as const;

describe.each(CODECS)('%s', (_name, syntax) => {
  const codec = (): NonNullable<ReturnType<typeof frameCodecFor>> => frameCodecFor(syntax) as NonNullable<ReturnType<typeof frameCodecFor>>;
  const frame = (): Uint8Array => frames.get(syntax) as Uint8Array;

  test('decodes a frame whose bitstream declares Columns x Rows', () => {
    const spies = decoderSpies();
    const decoded = codec().decode(frame(), geometry(ROWS, COLUMNS));
    expect({ columns: decoded.columns, rows: decoded.rows, length: decoded.samples.length }).toEqual({ columns: COLUMNS, rows: ROWS, length: ROWS * COLUMNS });
    expect(spies.filter((s) => s.mock.calls.length > 0)).toHaveLength(1);
  });

  test.each([
    ['a smaller size (Rows 16, Columns 16)', geometry(16, 16), '64 columns x 48 rows'],
    ['its size transposed (Rows 64, Columns 48)', geometry(COLUMNS, ROWS), '64 columns x 48 rows'],
    ['BitsAllocated 8 under 16-bit samples', geometry(ROWS, COLUMNS, 8), 'BitsAllocated 8'],
  ])('a data set saying %s is refused from the bitstream header, the decoder never run', (_case, lie, named) => {
    const spies = decoderSpies();
    const failure = failureOf(() => codec().decode(frame(), lie));
    expect(failure).toBeInstanceOf(DeclaredFrameMismatch);
    expect((failure as Error).message).toContain(named);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

/** The frame with the 16-bit big-endian words at `offset` (Y, then X) set to rows and columns. */
function withDeclaredSize(frame: Uint8Array, rowsOffset: number, columnsOffset: number, rows: number, columns: number, width: 2 | 4): Uint8Array {
  const copy = frame.slice();
  const view = new DataView(copy.buffer);
  if (width === 2) {
    view.setUint16(rowsOffset, rows);
    view.setUint16(columnsOffset, columns);
  } else {
    view.setUint32(rowsOffset, rows);
    view.setUint32(columnsOffset, columns);
  }
  return copy;
}

/** Where the marker's segment starts (its first parameter byte, after marker and length). */
function segmentAt(frame: Uint8Array, marker: number): number {
  const at = frame.findIndex((b, k) => b === 0xff && frame[k + 1] === (marker & 0xff));
  return at + 4;
}

test('a 16 x 16 data set over frame headers declaring 60000 x 60000 is refused without decoding (the decompression bomb)', () => {
  const jpeg = frames.get(TransferSyntax.JpegLossless) as Uint8Array;
  const jls = frames.get(TransferSyntax.JpegLsLossless) as Uint8Array;
  const j2k = frames.get(TransferSyntax.Jpeg2000Lossless) as Uint8Array;
  const sof3 = segmentAt(jpeg, 0xffc3);
  const sof55 = segmentAt(jls, 0xfff7);
  const bombs: Array<[string, Uint8Array]> = [
    [TransferSyntax.JpegLossless, withDeclaredSize(jpeg, sof3 + 1, sof3 + 3, 60000, 60000, 2)],
    [TransferSyntax.JpegLsLossless, withDeclaredSize(jls, sof55 + 1, sof55 + 3, 60000, 60000, 2)],
    // SIZ: Xsiz at byte 8, Ysiz at 12 of the codestream.
    [TransferSyntax.Jpeg2000Lossless, withDeclaredSize(j2k, 12, 8, 60000, 60000, 4)],
  ];
  const spies = decoderSpies();
  for (const [syntax, bomb] of bombs) {
    const failure = failureOf(() => frameCodecFor(syntax)?.decode(bomb, geometry(16, 16)));
    expect(failure).toBeInstanceOf(DeclaredFrameMismatch);
    expect((failure as Error).message).toContain('60000 columns x 60000 rows');
  }
  for (const spy of spies) expect(spy).not.toHaveBeenCalled();
});

/** A JP2 file (T.800 Annex I) holding `codestream`: signature, file type, header (image header), codestream box. */
function jp2File(codestream: Uint8Array, rows: number, columns: number): Uint8Array {
  const box = (type: string, content: Uint8Array): Uint8Array => {
    const out = new Uint8Array(8 + content.length);
    new DataView(out.buffer).setUint32(0, out.length);
    out.set(Buffer.from(type, 'latin1'), 4);
    out.set(content, 8);
    return out;
  };
  const ihdr = new Uint8Array(14);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, rows);
  view.setUint32(4, columns);
  view.setUint16(8, 1);
  view.setUint8(10, 15); // 16 bits, unsigned
  view.setUint8(11, 7); // compression type: JPEG 2000
  return Buffer.concat([
    box('jP  ', new Uint8Array([0x0d, 0x0a, 0x87, 0x0a])),
    box('ftyp', Buffer.from('jp2 \0\0\0\0jp2 ', 'latin1')),
    box('jp2h', box('ihdr', ihdr)),
    box('jp2c', codestream),
  ]);
}

test('a JP2 file is read to its codestream box: the SIZ there is checked against Rows and Columns before decoding', () => {
  const j2k = frames.get(TransferSyntax.Jpeg2000Lossless) as Uint8Array;
  const spies = decoderSpies();
  // The image header box agrees with the data set; the codestream, which OpenJPEG decodes, does not.
  const failure = failureOf(() => frameCodecFor(TransferSyntax.Jpeg2000Lossless)?.decode(jp2File(j2k, 16, 16), geometry(16, 16)));
  expect(failure).toBeInstanceOf(DeclaredFrameMismatch);
  expect((failure as Error).message).toContain('64 columns x 48 rows');
  for (const spy of spies) expect(spy).not.toHaveBeenCalled();
});

test('a JPEG-LS frame whose size is left to an LSE oversize-dimension segment is refused before decoding', () => {
  const jls = frames.get(TransferSyntax.JpegLsLossless) as Uint8Array;
  const sos = segmentAt(jls, 0xffda) - 4;
  // LSE, ID 4 (T.87 C.2.4.1.4): Wxy 4 bytes, height, width.
  const lse = new Uint8Array([0xff, 0xf8, 0, 12, 4, 4, 0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
  const withLse = Buffer.concat([jls.subarray(0, sos), lse, jls.subarray(sos)]);
  const spy = jest.spyOn(wasmDecoders, 'decodeJpegLsFrame');
  expect(failureOf(() => frameCodecFor(TransferSyntax.JpegLsLossless)?.decode(withLse, geometry(ROWS, COLUMNS))))
    .toBeInstanceOf(DeclaredFrameMismatch);
  expect(spy).not.toHaveBeenCalled();
});

test('a JPEG Lossless frame with a marker its decoder would not skip by its length is refused before decoding', () => {
  const jpeg = frames.get(TransferSyntax.JpegLossless) as Uint8Array;
  // An APP-like segment under an unassigned marker (0xFFF0, JPG0): the decoder reads its length as the next marker.
  const unknown = new Uint8Array([0xff, 0xf0, 0, 4, 0, 0]);
  const withUnknown = Buffer.concat([jpeg.subarray(0, 2), unknown, jpeg.subarray(2)]);
  const spy = jest.spyOn(Decoder.prototype, 'decode');
  expect(failureOf(() => frameCodecFor(TransferSyntax.JpegLossless)?.decode(withUnknown, geometry(ROWS, COLUMNS))))
    .toBeInstanceOf(DeclaredFrameMismatch);
  expect(spy).not.toHaveBeenCalled();
});

test('a JP2 file whose codestream declares Columns x Rows is decoded (OpenJPEG reads JP2 as well)', () => {
  const j2k = frames.get(TransferSyntax.Jpeg2000Lossless) as Uint8Array;
  const decoded = frameCodecFor(TransferSyntax.Jpeg2000Lossless)?.decode(jp2File(j2k, ROWS, COLUMNS), geometry(ROWS, COLUMNS));
  expect(decoded?.samples).toEqual(frameCodecFor(TransferSyntax.Jpeg2000Lossless)?.decode(j2k, geometry(ROWS, COLUMNS)).samples);
});
