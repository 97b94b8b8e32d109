// jpeg-lossless-decoder-js 2.1.x names release/lossless.d.ts in its package.json but does not ship it;
// this declares the one class mipseg uses (src/decoder.ts upstream).
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    constructor(buffer?: ArrayBuffer, numBytes?: number);
    /** Sample precision (bits) from the SOF header, set by decode. */
    precision: number | undefined;
    /** Samples per line (SOF X) and lines (SOF Y), set by decode. */
    xDim: number | undefined;
    yDim: number | undefined;
    /** Decodes one JPEG Lossless (Process 14) image; numBytes per sample 1 or 2 (grey) gives Uint8/Uint16 samples. */
    decode(buffer: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
