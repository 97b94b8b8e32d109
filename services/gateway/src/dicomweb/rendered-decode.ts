import { DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES, decodedSizeMismatch, frameCodecFor, type DecodedFrame } from '@mipseg/shared/codecs';
import {
  hasNativeFrames,
  locateEncapsulatedFrames,
  readEncapsulatedFrames,
  readImagePixelModule,
  type ImagePixelModule,
} from '@mipseg/shared/dicom';
import { MipsegError } from '@mipseg/shared/errors';
import { HEADER_PROBE_BYTES, type Archive, type StoredInstance } from '@mipseg/shared/store';
import { readStored, readStoredFile } from '../stored-read';
import { assertRenderable } from './render';

/*
 * /rendered of compressed (encapsulated) instances: PACS auto-routing often sends PET/CT as JPEG Lossless or JPEG 2000.
 * The frame asked for is decoded with the worker's codecs (@mipseg/shared/codecs), then drawn as a native frame is.
 */

/**
 * Refuses (MIPSEG_RENDER_UNSUPPORTED) a transfer syntax whose frames /rendered cannot read: not native, and no codec
 * (lossy JPEG baseline, Deflate, big endian, HTJ2K).
 */
export function assertRenderableTransferSyntax(transferSyntaxUid: string): void {
  if (hasNativeFrames(transferSyntaxUid) || frameCodecFor(transferSyntaxUid)) return;
  throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `transfer syntax ${transferSyntaxUid} (compressed frames are decoded in ` +
    `${DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES.join(', ')})`);
}

/** The file's first bytes, up to Pixel Data for all but the largest headers, read from the file opened now. */
async function readProbe(archive: Archive, instance: StoredInstance): Promise<Buffer> {
  return readStored(archive, instance, async () => {
    const file = await archive.blobs.openRanged(instance.storageKey);
    try {
      return await file.read(0, HEADER_PROBE_BYTES);
    } finally {
      await file.close();
    }
  });
}

/**
 * An instance's Image Pixel module, read from its header alone (what a HEAD of /rendered needs: no frame read, none
 * decoded); from the whole file where the header runs past the probe.
 */
export async function readRenderedHeader(archive: Archive, instance: StoredInstance): Promise<ImagePixelModule> {
  const probe = await readProbe(archive, instance);
  try {
    return readImagePixelModule(probe);
  } catch {
    return readImagePixelModule(await readStoredFile(archive, instance));
  }
}

/**
 * The Image Pixel module and the one frame `frameOf` picks (given the number there are) of an encapsulated instance:
 * where `byRange` (a large file) that frame read alone from the file, found by its item headers; else, or where the
 * frames cannot be found so, from the whole file. Refuses what cannot be drawn before the frame is read.
 */
export async function readEncapsulatedFrameToRender(archive: Archive, instance: StoredInstance, frameOf: (count: number) => number,
  byRange: boolean): Promise<{ m: ImagePixelModule; frame: Uint8Array }> {
  if (byRange) {
    const file = await readStored(archive, instance, () => archive.blobs.openRanged(instance.storageKey));
    try {
      const probe = await file.read(0, HEADER_PROBE_BYTES);
      const located = await locateEncapsulatedFrames(file, file.size, probe);
      if (located) {
        const m = renderableModule(probe);
        return { m, frame: await located.readFrame(frameOf(located.numberOfFrames)) };
      }
    } finally {
      await file.close();
    }
  }
  const bytes = await readStoredFile(archive, instance);
  const m = renderableModule(bytes);
  const { frames } = readEncapsulatedFrames(bytes);
  return { m, frame: frames[frameOf(frames.length) - 1] ?? new Uint8Array(0) };
}

function renderableModule(header: Uint8Array): ImagePixelModule {
  const m = readImagePixelModule(header);
  assertRenderableHeader(m);
  return m;
}

/**
 * Everything /rendered refuses from an instance's header alone, GET and HEAD alike: its transfer syntax, colour, sample
 * sizes, a frame of more than MAX_RENDERED_PIXELS, and, for compressed frames, samples the codecs do not decode.
 */
export function assertRenderableHeader(m: ImagePixelModule): void {
  assertRenderableTransferSyntax(m.transferSyntaxUid);
  assertRenderable(m);
  if (!hasNativeFrames(m.transferSyntaxUid)) assertDecodable(m);
}

/**
 * How many frames GET finds of an instance, from its header: NumberOfFrames, and for encapsulated Pixel Data at least
 * one (what readEncapsulatedFrames and locateEncapsulatedFrames count; a file whose fragments do not give NumberOfFrames
 * frames shows only to a GET, which reads them).
 */
export function renderedFrameCount(m: ImagePixelModule): number {
  return hasNativeFrames(m.transferSyntaxUid) ? m.numberOfFrames : Math.max(1, m.numberOfFrames || 1);
}

/** What the codecs decode: one grey sample of 8 or 16 bits, held in the low BitsStored bits (as the worker decodes). */
function assertDecodable(m: ImagePixelModule): void {
  const unsupported = (what: string): MipsegError => new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `compressed pixel data of ${what}`);
  if (m.bitsAllocated !== 8 && m.bitsAllocated !== 16) throw unsupported(`BitsAllocated ${m.bitsAllocated}`);
  if (m.bitsStored < 1 || m.bitsStored > m.bitsAllocated || m.highBit !== m.bitsStored - 1) {
    throw unsupported(`BitsStored ${m.bitsStored} and HighBit ${m.highBit} with BitsAllocated ${m.bitsAllocated}`);
  }
}

/**
 * The stored values of a decoded frame: the low BitsStored bits of each sample, their top bit the sign where
 * PixelRepresentation is 1 (the codecs hand signed data back as its bit pattern); bits above are not part of it.
 */
function storedValues(samples: DecodedFrame['samples'], m: ImagePixelModule): Int32Array {
  const values = new Int32Array(samples.length);
  // Shifting the sample's top bit to bit 31 and back drops the bits above it; >> extends the sign, >>> does not.
  const shift = 32 - m.bitsStored;
  if (m.pixelRepresentation === 1) {
    for (let i = 0; i < values.length; i++) values[i] = ((samples[i] as number) << shift) >> shift;
  } else {
    for (let i = 0; i < values.length; i++) values[i] = ((samples[i] as number) << shift) >>> shift;
  }
  return values;
}

/**
 * Decodes one encapsulated frame into its stored values (Rows x Columns, before rescale), for renderStoredValues.
 * A frame its codec cannot decode, or that decodes to another size, is the instance's fault: MIPSEG_RENDER_UNSUPPORTED
 * naming the codec and why. A codec that will not load is ours (MIPSEG_INTERNAL, from the codec).
 */
export function decodeFrameToRender(frame: Uint8Array, m: ImagePixelModule): Int32Array {
  const codec = frameCodecFor(m.transferSyntaxUid);
  if (!codec) {
    assertRenderableTransferSyntax(m.transferSyntaxUid);
    throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `transfer syntax ${m.transferSyntaxUid}: frames are not encapsulated`);
  }
  assertDecodable(m);
  let decoded: DecodedFrame;
  try {
    decoded = codec.decode(frame, m);
  } catch (err) {
    if (err instanceof MipsegError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', `${codec.name} data cannot be decoded (${reason})`, { cause: err });
  }
  const mismatch = decodedSizeMismatch(codec.name, decoded, m);
  if (mismatch !== undefined) throw new MipsegError('MIPSEG_RENDER_UNSUPPORTED', mismatch);
  return storedValues(decoded.samples, m);
}
