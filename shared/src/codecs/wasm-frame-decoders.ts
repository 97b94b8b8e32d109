import createCharLsModule from '@cornerstonejs/codec-charls/decodewasmjs';
import createOpenJpegModule from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import type { DecodedFrame } from './frame-codec';
import { instantiateWasmCodec, LazyWasmCodec, type EmscriptenFactory } from './wasm-codec';

/** What CharLS's JpegLSDecoder and OpenJPEG's J2KDecoder (embind classes) have in common. */
interface EmbindFrameDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  /** A view into the module's memory: valid until the decoder is deleted or the memory grows. */
  getDecodedBuffer(): Uint8Array;
  /** Frees the decoder's memory in the module: embind objects are not garbage-collected. */
  delete(): void;
}

type DecoderClass = new () => EmbindFrameDecoder;

function lazyCodec<Key extends string>(name: string, factory: EmscriptenFactory, wasmExport: string,
  decoderClass: Key): LazyWasmCodec<Record<Key, DecoderClass>> {
  const hasDecoder = (module: object): module is Record<Key, DecoderClass> =>
    typeof (module as Partial<Record<Key, unknown>>)[decoderClass] === 'function';
  return new LazyWasmCodec(() => instantiateWasmCodec(name, factory, require.resolve(wasmExport), hasDecoder));
}

const charLs = lazyCodec('CharLS', createCharLsModule, '@cornerstonejs/codec-charls/decodewasm', 'JpegLSDecoder');
const openJpeg = lazyCodec('OpenJPEG', createOpenJpegModule, '@cornerstonejs/codec-openjpeg/decodewasm', 'J2KDecoder');

/** Copies the decoded frame out of the module's memory, checking it is one grey sample per pixel. */
function copyDecodedFrame(decoder: EmbindFrameDecoder): DecodedFrame {
  const { width, height, bitsPerSample, componentCount } = decoder.getFrameInfo();
  if (componentCount !== 1) throw new Error(`${componentCount} components (PET is one grey sample)`);
  if (!(bitsPerSample >= 1 && bitsPerSample <= 16)) throw new Error(`${bitsPerSample} bits per sample`);
  const bytesPerSample = bitsPerSample <= 8 ? 1 : 2;
  const decoded = decoder.getDecodedBuffer();
  if (width * height === 0 || decoded.length !== width * height * bytesPerSample) {
    throw new Error(`${decoded.length} decoded bytes for a ${width} x ${height} frame of ${bitsPerSample}-bit samples`);
  }
  const copy = new Uint8Array(decoded); // a fresh buffer: aligned for the 16-bit view, and ours once deleted there
  const samples = bytesPerSample === 1 ? copy : new Uint16Array(copy.buffer, 0, width * height);
  return { samples, columns: width, rows: height };
}

/** The codec's own [ERROR] lines, else what was thrown (a C++ exception arrives as a bare number, its message lost). */
function failureDetail(err: unknown, messages: readonly string[]): string {
  const errors = messages.filter((m) => m.includes('ERROR'));
  if (errors.length) return errors.join('; ');
  return err instanceof Error ? err.message : 'the codec rejected the bitstream';
}

function decodeWith<Key extends string>(lazy: LazyWasmCodec<Record<Key, DecoderClass>>, decoderClass: Key,
  frame: Uint8Array): DecodedFrame {
  const codec = lazy.get();
  codec.messages.length = 0;
  const decoder = new codec.exports[decoderClass]();
  let decoded: DecodedFrame;
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    decoded = copyDecodedFrame(decoder);
  } catch (err) {
    lazy.discard(); // its memory, this decoder's included, goes with it
    throw new Error(failureDetail(err, codec.messages), { cause: err });
  }
  decoder.delete();
  return decoded;
}

/**
 * Decodes one JPEG-LS frame (lossless or near-lossless) with CharLS. Signed data comes back as its BitsStored-bit
 * two's complement pattern, as from JPEG Lossless. Throws a plain Error for undecodable data; MIPSEG_INTERNAL when
 * the codec will not load.
 */
export function decodeJpegLsFrame(frame: Uint8Array): DecodedFrame {
  return decodeWith(charLs, 'JpegLSDecoder', frame);
}

/**
 * Decodes one JPEG 2000 frame (a J2K codestream or a JP2 file, reversible or not) with OpenJPEG. A signed
 * codestream's values come back as their 16-bit pattern, which the sign extension from BitsStored restores;
 * an unsigned one holding a signed image's pattern is restored the same way. Throws as decodeJpegLsFrame.
 */
export function decodeJpeg2000Frame(frame: Uint8Array): DecodedFrame {
  return decodeWith(openJpeg, 'J2KDecoder', frame);
}
