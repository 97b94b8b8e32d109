import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dicomParser from 'dicom-parser';
import { describeWithSharedData, sharedData } from '../../../test/support/shared-data';
import { dcmtkConvert, encapsulatedFrame, jpeg2000Copy } from '../../../test/pipeline/volume/encapsulated-copies';
import { syntheticPetInstance } from '../../../test/pipeline/volume/synthetic-pet-instance';
import * as wasmDecoders from '../codecs/wasm-frame-decoders';
import { encodeFileMetaInformation } from './file-meta';
import { sameDataSet } from './same-data-set';
import { TransferSyntax } from './transfer-syntaxes';

const GE_SLICE = 'data/pet-dicom/ge-discovery-st-wholebody/1-001.dcm';

/** Where Pixel Data's value (native) or its first fragment (encapsulated) starts in a file, and how long it is. */
function pixelBytes(file: Uint8Array): { start: number; length: number } {
  const element = dicomParser.parseDicom(file).elements['x7fe00010'] as dicomParser.Element;
  const fragment = element.fragments?.[0];
  return fragment ? { start: fragment.position, length: fragment.length } : { start: element.dataOffset, length: element.length };
}

/** A copy of `file` with `bytes` written over its Pixel Data (or first fragment) from `offset`. */
function withPixelBytes(file: Uint8Array, offset: number, bytes: readonly number[]): Buffer {
  const copy = Buffer.from(file);
  copy.set(bytes, pixelBytes(file).start + offset);
  return copy;
}

/**
 * `encapsulated` (a dcmtk file, Explicit VR LE, Pixel Data last) with its one frame replaced by `frame` in
 * `transferSyntaxUid`: every other byte of the data set as dcmtk wrote it (a dcmjs round trip rewrites private values).
 */
function withOnlyFrame(encapsulated: Uint8Array, transferSyntaxUid: string, frame: Uint8Array): Buffer {
  const ds = dicomParser.parseDicom(encapsulated);
  const metaEnd = 132 + 12 + (ds.uint32('x00020000') ?? 0);
  const pixelDataStart = (ds.elements['x7fe00010'] as dicomParser.Element).dataOffset - 12;
  const item = (bytes: Uint8Array): Buffer => {
    const header = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
    header.writeUInt32LE(bytes.length, 4);
    return Buffer.concat([header, bytes]);
  };
  const even = frame.length % 2 === 0 ? frame : Buffer.concat([frame, Buffer.alloc(1)]);
  return Buffer.concat([
    encodeFileMetaInformation({ mediaStorageSopClassUid: ds.string('x00020002') ?? '', mediaStorageSopInstanceUid: ds.string('x00020003') ?? '',
      transferSyntaxUid }),
    encapsulated.subarray(metaEnd, pixelDataStart),
    Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]), // (7FE0,0010) OB, undefined length
    item(new Uint8Array(0)), item(even), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]),
  ]);
}

/**
 * A PACS auto-routes its stored copy of a study a modality sent mipseg uncompressed: JPEG Lossless, JPEG-LS or RLE,
 * as dcmtk writes them. Same stored values → the same data set (no replacement, no new analysis); anything lossy,
 * changed or undecodable → different, so the new copy replaces the stored one as before.
 */
describeWithSharedData(GE_SLICE)('sameDataSet on a GE PET slice and its compressed copies', () => {
  let dir: string;
  const native = (): Buffer => readFileSync(sharedData(GE_SLICE).path);
  const file = (name: string): Buffer => readFileSync(join(dir, name));
  const dcmtk = (tool: string, args: readonly string[]): void => {
    execFileSync(tool, [...args], { cwd: dir, timeout: 60_000 });
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mipseg-same-lossless-'));
    writeFileSync(join(dir, 'native.dcm'), native());
    dcmtk('dcmcjpeg', ['native.dcm', 'jpeg-sv1.dcm']);
    dcmtk('dcmcjpeg', ['+el', 'native.dcm', 'jpeg-process14.dcm']);
    dcmtk('dcmcjpls', ['native.dcm', 'jpeg-ls.dcm']);
    dcmtk('dcmcrle', ['native.dcm', 'rle.dcm']);
    // JPEG-LS near-lossless takes unsigned data only (dcmcjpls refuses PixelRepresentation 1).
    writeFileSync(join(dir, 'unsigned.dcm'), native());
    dcmtk('dcmodify', ['-nb', '-m', '(0028,0103)=0', 'unsigned.dcm']);
    dcmtk('dcmcjpls', ['+en', '+md', '2', 'unsigned.dcm', 'near-lossless.dcm']);
    const { length } = pixelBytes(native());
    // One pixel in the middle of the slice (the body, not the air around it), one unit up.
    const middle = 2 * (64 * 128 + 64);
    const value = native().readUInt16LE(pixelBytes(native()).start + middle);
    writeFileSync(join(dir, 'one-pixel.dcm'), withPixelBytes(native(), middle, [(value + 1) & 0xff, ((value + 1) >> 8) & 0xff]));
    expect(length).toBe(128 * 128 * 2);
    dcmtk('dcmcjpls', ['one-pixel.dcm', 'one-pixel-jpeg-ls.dcm']);
    dcmtk('dcmcjpeg', ['one-pixel.dcm', 'one-pixel-jpeg-sv1.dcm']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['jpeg-sv1.dcm', TransferSyntax.JpegLosslessSv1],
    ['jpeg-process14.dcm', TransferSyntax.JpegLossless],
    ['jpeg-ls.dcm', TransferSyntax.JpegLsLossless],
    ['rle.dcm', TransferSyntax.RleLossless],
  ])('the native slice and %s (lossless, %s) hold the same data set, either way round', (name, syntax) => {
    expect(dicomParser.parseDicom(file(name)).string('x00020010')).toBe(syntax);
    expect(sameDataSet(native(), file(name))).toBe(true);
    expect(sameDataSet(file(name), native())).toBe(true);
  });

  test.each([
    ['jpeg-sv1.dcm', 'jpeg-ls.dcm'],
    ['jpeg-process14.dcm', 'rle.dcm'],
    ['jpeg-ls.dcm', 'rle.dcm'],
  ])('%s and %s (two lossless syntaxes) hold the same data set', (a, b) => {
    expect(sameDataSet(file(a), file(b))).toBe(true);
  });

  test('a JPEG 2000 lossless-only copy (.90) holds the same data set; a .91 copy, even reversible, does not', () => {
    const codestream = encapsulatedFrame(jpeg2000Copy(native(), { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true }));
    const lossless = withOnlyFrame(file('rle.dcm'), TransferSyntax.Jpeg2000Lossless, codestream);
    const reversible91 = withOnlyFrame(file('rle.dcm'), TransferSyntax.Jpeg2000, codestream);
    expect(sameDataSet(native(), lossless)).toBe(true);
    expect(sameDataSet(lossless, file('rle.dcm'))).toBe(true);
    expect(sameDataSet(native(), reversible91)).toBe(false);
  });

  test('a near-lossless JPEG-LS copy (NEAR 2) is a different data set', () => {
    expect(dicomParser.parseDicom(file('near-lossless.dcm')).string('x00020010')).toBe(TransferSyntax.JpegLsNearLossless);
    expect(sameDataSet(file('unsigned.dcm'), file('near-lossless.dcm'))).toBe(false);
  });

  test.each(['one-pixel-jpeg-ls.dcm', 'one-pixel-jpeg-sv1.dcm'])('a lossless copy (%s) of the slice with one pixel changed is a different data set', (name) => {
    expect(sameDataSet(native(), file(name))).toBe(false);
    expect(sameDataSet(file('jpeg-ls.dcm'), file(name))).toBe(false);
  });

  test('a copy whose compressed frame cannot be decoded is a different data set', () => {
    // JPEG-LS: the start-of-frame marker (FF F7) after SOI garbled; RLE: a header claiming 99 segments.
    const garbledJpegLs = withPixelBytes(file('jpeg-ls.dcm'), 2, [0x00, 0x00, 0x00, 0x00]);
    const garbledRle = withPixelBytes(file('rle.dcm'), 0, [99, 0, 0, 0]);
    expect(sameDataSet(native(), garbledJpegLs)).toBe(false);
    expect(sameDataSet(native(), garbledRle)).toBe(false);
    expect(sameDataSet(file('jpeg-sv1.dcm'), garbledRle)).toBe(false);
  });
});

/**
 * dcmtk writes one fragment per frame and a Basic Offset Table: each frame is decoded and compared on its own, and
 * only BitsStored bits of a native word are pixel data.
 */
describe('sameDataSet on synthetic compressed copies', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-same-synthetic-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const compressed = (tool: string, native: Uint8Array, name: string): Buffer => {
    writeFileSync(join(dir, `${name}.dcm`), native);
    execFileSync(tool, [`${name}.dcm`, `${name}-out.dcm`], { cwd: dir, timeout: 60_000 });
    return readFileSync(join(dir, `${name}-out.dcm`));
  };

  test('a multi-frame instance and its JPEG-LS copy hold the same data set; with a pixel of frame 2 changed, not', () => {
    const frames = (last: number) => syntheticPetInstance({ sopInstanceUid: '2.25.8811', imagePositionPatient: [0, 0, 0],
      numberOfFrames: 3, stored: [...Array.from({ length: 31 }, (_, i) => i * 37 - 200), last] });
    const native = frames(5);
    expect(sameDataSet(native, compressed('dcmcjpls', native, 'frames'))).toBe(true);
    expect(sameDataSet(native, compressed('dcmcjpls', frames(6), 'frames-changed'))).toBe(false);
  });

  test('a 12-bit slice whose native words carry bits above HighBit and a JPEG-LS copy of its values hold the same data set', () => {
    const twelveBits = (stored: number[]) => syntheticPetInstance({ sopInstanceUid: '2.25.8812', imagePositionPatient: [0, 0, 0],
      stored, attributes: { BitsStored: 12, HighBit: 11, PixelRepresentation: 0 } });
    // Bits 12-15 set (an old overlay plane, say): not pixel data (PS3.5 8.1.1); dcmtk would carry them into the copy.
    const withHighBits = twelveBits([0x7005, 0x1fff, 0, 0x0800, 0xf005 - 0x10000]);
    const copy = compressed('dcmcjpls', twelveBits([0x005, 0xfff, 0, 0x800, 0x005]), 'twelve-bits');
    expect(sameDataSet(withHighBits, copy)).toBe(true);
    expect(sameDataSet(twelveBits([0x7006, 0x1fff, 0, 0x0800, 0xf005 - 0x10000]), copy)).toBe(false);
  });
});

/**
 * The comparison runs at ingest on the event loop, so its decoding is bounded from the header before any frame is
 * decoded: a 2 KB JPEG-LS copy can declare 8192 x 8192, a 64 MiB file ~190,000 frames. Past the budget the copies
 * count as different (the new one replaces the stored one), even where their values agree.
 */
describe('sameDataSet past the decoding budget', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-same-budget-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => jest.restoreAllMocks());

  const zeros = (rows: number, columns: number, numberOfFrames?: number): Uint8Array => syntheticPetInstance({
    sopInstanceUid: '2.25.8813', imagePositionPatient: [0, 0, 0], rows, columns, ...(numberOfFrames ? { numberOfFrames } : {}) });
  const jpegLs = (native: Uint8Array, name: string): Uint8Array => dcmtkConvert('dcmcjpls', [], native, dir, name);

  test('a frame over 2048 x 2048 is not decoded: its lossless copy is a different data set', () => {
    const native = zeros(2049, 2048);
    const spy = jest.spyOn(wasmDecoders, 'decodeJpegLsFrame');
    expect(sameDataSet(native, jpegLs(native, 'wide'))).toBe(false);
    expect(spy).not.toHaveBeenCalled();
  });

  test('frames of 8 Mi pixels against a native copy are compared; one frame more is not decoded', () => {
    const atBudget = zeros(512, 512, 32);
    expect(sameDataSet(atBudget, jpegLs(atBudget, 'at-budget'))).toBe(true);
    const past = zeros(512, 512, 33);
    const spy = jest.spyOn(wasmDecoders, 'decodeJpegLsFrame');
    expect(sameDataSet(past, jpegLs(past, 'past-budget'))).toBe(false);
    expect(spy).not.toHaveBeenCalled();
  });

  test('both copies count: two JPEG-LS copies of 2048 x 2048 are compared, of 2048 x 2049 are not', () => {
    const copies = (columns: number): [Uint8Array, Uint8Array] => {
      const native = zeros(2048, columns);
      return [jpegLs(native, `a-${columns}`), dcmtkConvert('dcmcjpls', ['+rs', '32'], native, dir, `b-${columns}`)];
    };
    expect(sameDataSet(...copies(2048))).toBe(true);
    const [a, b] = copies(2049);
    const spy = jest.spyOn(wasmDecoders, 'decodeJpegLsFrame');
    expect(sameDataSet(a, b)).toBe(false);
    expect(spy).not.toHaveBeenCalled();
  });

  test('a JPEG 2000 pixel counts 8: a 1024 x 1024 copy against a native one is compared, 1024 x 1025 is not', () => {
    const copy = (native: Uint8Array) => jpeg2000Copy(native, { transferSyntaxUid: TransferSyntax.Jpeg2000Lossless, signedCodestream: true });
    const atBudget = zeros(1024, 1024);
    expect(sameDataSet(atBudget, copy(atBudget))).toBe(true);
    const past = zeros(1024, 1025);
    const spy = jest.spyOn(wasmDecoders, 'decodeJpeg2000Frame');
    expect(sameDataSet(past, copy(past))).toBe(false);
    expect(spy).not.toHaveBeenCalled();
  });
});
