export { decodedSizeMismatch } from './frame-codec';
export type { DecodedFrame, FrameCodec, FrameGeometry } from './frame-codec';
export { DECODABLE_ENCAPSULATED_TRANSFER_SYNTAXES, frameCodecFor } from './frame-codecs';
export { instantiateWasmCodec, LazyWasmCodec } from './wasm-codec';
export type { EmscriptenFactory, WasmCodec } from './wasm-codec';
