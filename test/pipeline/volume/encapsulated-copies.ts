import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import createOpenJpegModule from '@cornerstonejs/codec-openjpeg/wasmjs';
import * as dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { instantiateWasmCodec, type WasmCodec } from '@mipseg/shared/codecs';

/** Runs a dcmtk converter (dcmcjpeg, dcmcjpls, dcmcrle, dcmdjpeg, …) on `input`, returning the file it wrote. */
export function dcmtkConvert(tool: string, options: readonly string[], input: Uint8Array, dir: string, name: string): Uint8Array {
  const source = join(dir, `${name}-in.dcm`);
  const output = join(dir, `${name}-out.dcm`);
  writeFileSync(source, input);
  execFileSync(tool, [...options, source, output], { timeout: 60_000 });
  return new Uint8Array(readFileSync(output));
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The single frame of an encapsulated instance, its fragments joined (read by dicom-parser). */
export function encapsulatedFrame(instance: Uint8Array): Uint8Array {
  const ds = dicomParser.parseDicom(instance);
  const element = ds.elements['x7fe00010'] as dicomParser.Element;
  return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, element.fragments?.length ?? 0);
}

/**
 * A copy of a PS3.10 instance whose Pixel Data is replaced by one encapsulated frame, written by dcmjs (a writer
 * independent of the reader under test: Basic Offset Table, 20 KB fragments, padding to even length).
 */
export function encapsulateFrame(instance: Uint8Array, transferSyntaxUid: string, frame: Uint8Array): Uint8Array {
  const file = dcmjs.data.DicomMessage.readFile(arrayBufferOf(instance));
  file.meta['00020010'] = { vr: 'UI', Value: [transferSyntaxUid] };
  file.dict['7FE00010'] = { vr: 'OB', Value: [arrayBufferOf(frame)] };
  return new Uint8Array(file.write());
}

/** The embind encoder of OpenJPEG's full build (codec-openjpeg has no TypeScript declarations). */
interface J2KEncoder {
  getDecodedBuffer(frameInfo: {
    width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean; isUsingColorTransform: boolean;
  }): Uint8Array;
  setDecompositions(levels: number): void;
  setQuality(lossless: boolean, quality: number): void;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  delete(): void;
}

type OpenJpegEncoderModule = { J2KEncoder: new () => J2KEncoder };

let openJpeg: WasmCodec<OpenJpegEncoderModule> | undefined;

function openJpegEncoder(): J2KEncoder {
  openJpeg ??= instantiateWasmCodec('OpenJPEG (encoder)', createOpenJpegModule, require.resolve('@cornerstonejs/codec-openjpeg/wasm'),
    (m): m is OpenJpegEncoderModule => typeof (m as Partial<OpenJpegEncoderModule>).J2KEncoder === 'function');
  return new openJpeg.exports.J2KEncoder();
}

export interface Jpeg2000Options {
  readonly transferSyntaxUid: string;
  /** Whether the codestream says signed (SIZ Ssiz); a signed image in an unsigned one keeps its bit pattern. */
  readonly signedCodestream: boolean;
  /** Irreversible (9/7 wavelet, quantised) at this PSNR in dB; reversible (lossless) when left out. */
  readonly lossyPsnr?: number;
}

/** Encodes a native single-frame grey instance's Pixel Data as a JPEG 2000 codestream with OpenJPEG. */
export function jpeg2000Copy(native: Uint8Array, options: Jpeg2000Options): Uint8Array {
  const ds = dcmjs.data.DicomMessage.readFile(arrayBufferOf(native)).dict;
  const value = (tag: string): number => ds[tag]?.Value?.[0] as number;
  const [width, height, bitsStored] = [value('00280011'), value('00280010'), value('00280101')];
  const pixels = new Uint8Array(ds['7FE00010']?.Value?.[0] as ArrayBuffer);
  const encoder = openJpegEncoder();
  try {
    const input = encoder.getDecodedBuffer({ width, height, bitsPerSample: bitsStored, componentCount: 1,
      isSigned: options.signedCodestream, isUsingColorTransform: false });
    input.set(pixels.subarray(0, input.length));
    // OpenJPEG wants at least 2^levels pixels along each side.
    encoder.setDecompositions(Math.min(5, Math.floor(Math.log2(Math.min(width, height)))));
    if (options.lossyPsnr !== undefined) encoder.setQuality(false, options.lossyPsnr);
    encoder.encode();
    return encapsulateFrame(native, options.transferSyntaxUid, encoder.getEncodedBuffer().slice());
  } finally {
    encoder.delete();
  }
}
