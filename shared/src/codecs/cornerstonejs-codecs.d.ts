// @cornerstonejs/codec-charls and @cornerstonejs/codec-openjpeg ship no type declarations. mipseg uses their
// decode-only WebAssembly builds: each exports an emscripten MODULARIZE factory that puts the module's embind
// classes (JpegLSDecoder, J2KDecoder) on the options object it is given; wasm-codec.ts checks they are there.
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const createCharLsModule: (options: object) => Promise<unknown>;
  export default createCharLsModule;
}

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const createOpenJpegModule: (options: object) => Promise<unknown>;
  export default createOpenJpegModule;
}

// The full build, with J2KEncoder as well: only the tests use it, to write JPEG 2000 copies of native slices.
declare module '@cornerstonejs/codec-openjpeg/wasmjs' {
  const createOpenJpegModule: (options: object) => Promise<unknown>;
  export default createOpenJpegModule;
}
