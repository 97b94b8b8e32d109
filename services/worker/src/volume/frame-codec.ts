import { MipsegError } from '@mipseg/shared/errors';
import type { SliceHeader } from './slice-header';

/** Stored values as a codec gives them back: one unsigned sample per pixel, 1 byte up to 8 bits, else 2. */
export type StoredSamples = Uint8Array | Uint16Array;

/**
 * A decoded frame: its stored values and the size its bitstream declares. The size is kept apart from the count
 * because a frame of Columns x Rows (transposed) has the right number of pixels and would be read as a wrong image.
 */
export interface DecodedFrame {
  readonly samples: StoredSamples;
  readonly columns: number;
  readonly rows: number;
}

/** A codec for one encapsulated frame: it hands back the stored values unsigned (signed data as its bit pattern). */
export interface FrameCodec {
  readonly name: string;
  decode(frame: Uint8Array, header: SliceHeader): DecodedFrame;
}

/** A frame its codec cannot decode: the instance's fault (MIPSEG_VOLUME_INVALID), named with the instance. */
export function undecodableFrame(codecName: string, header: SliceHeader, reason: string, cause?: unknown): MipsegError {
  return new MipsegError('MIPSEG_VOLUME_INVALID',
    `instance ${header.sopInstanceUid}: ${codecName} data cannot be decoded (${reason})`, cause === undefined ? undefined : { cause });
}
