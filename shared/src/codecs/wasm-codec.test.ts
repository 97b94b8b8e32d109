import createCharLsModule from '@cornerstonejs/codec-charls/decodewasmjs';
import { isMipsegError } from '../errors';
import { instantiateWasmCodec, LazyWasmCodec } from './wasm-codec';

const CHARLS_WASM = require.resolve('@cornerstonejs/codec-charls/decodewasm');
const hasJpegLsDecoder = (m: object): m is { JpegLSDecoder: unknown } => typeof (m as { JpegLSDecoder?: unknown }).JpegLSDecoder === 'function';

test('instantiates a codec module synchronously, with its classes there when the call returns', () => {
  const codec = instantiateWasmCodec('CharLS', createCharLsModule, CHARLS_WASM, hasJpegLsDecoder);
  expect(typeof codec.exports.JpegLSDecoder).toBe('function');
  expect(codec.messages).toEqual([]);
});

test('a module without the expected exports fails as MIPSEG_INTERNAL, naming the codec', () => {
  let failure: unknown;
  try {
    instantiateWasmCodec('CharLS', createCharLsModule, CHARLS_WASM, (m): m is { J2KDecoder: unknown } => 'J2KDecoder' in m);
  } catch (err) {
    failure = err;
  }
  expect(isMipsegError(failure, 'MIPSEG_INTERNAL')).toBe(true);
  expect((failure as Error).message).toContain('CharLS');
});

test('a missing .wasm file fails as MIPSEG_INTERNAL, keeping the cause', () => {
  let failure: unknown;
  try {
    instantiateWasmCodec('CharLS', createCharLsModule, `${CHARLS_WASM}.missing`, hasJpegLsDecoder);
  } catch (err) {
    failure = err;
  }
  expect(isMipsegError(failure, 'MIPSEG_INTERNAL')).toBe(true);
  expect((failure as Error).cause).toMatchObject({ code: 'ENOENT' });
});

test('instantiates lazily, once, and again only after discard', () => {
  const load = jest.fn(() => instantiateWasmCodec('CharLS', createCharLsModule, CHARLS_WASM, hasJpegLsDecoder));
  const lazy = new LazyWasmCodec(load);
  expect(load).not.toHaveBeenCalled();
  const first = lazy.get();
  expect(lazy.get()).toBe(first);
  expect(load).toHaveBeenCalledTimes(1);
  lazy.discard();
  expect(lazy.get()).not.toBe(first);
  expect(load).toHaveBeenCalledTimes(2);
});
