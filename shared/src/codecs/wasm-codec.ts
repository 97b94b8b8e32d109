import { readFileSync } from 'node:fs';
import { MipsegError } from '../errors';

/** An emscripten MODULARIZE factory, as the codec packages export it: it puts the module's exports on `options`. */
export type EmscriptenFactory = (options: object) => Promise<unknown>;

/** An instantiated codec module, and the lines it printed since `messages` was last emptied. */
export interface WasmCodec<Exports> {
  readonly exports: Exports;
  /** OpenJPEG reports a failed decode here ([ERROR] lines) rather than by throwing. */
  readonly messages: string[];
}

/** The two constructors used: lib is ES2022 without DOM, and @types/node 20 does not declare WebAssembly. */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}

/** Enough for the errors of one frame; a decoder's progress lines are not worth more memory. */
const MAX_MESSAGES = 50;

/** The emscripten options that instantiate the module synchronously and keep what it prints. */
function syncOptions(wasmFile: string, messages: string[]): { options: object; failure: () => unknown; ready: () => boolean } {
  const api = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  const keep = (text: string): void => { if (messages.length < MAX_MESSAGES) messages.push(text); };
  let failure: unknown;
  let initialised = false;
  const options = {
    print: keep,
    printErr: keep,
    // Handing the instance back at once lets the factory finish initialising before it returns: decoding is
    // synchronous (a volume is assembled, a frame rendered, in one pass), and Node compiles WebAssembly of any size
    // synchronously.
    instantiateWasm: (imports: object, receive: (instance: object, module: object) => void): object => {
      try {
        const compiled = new api.Module(readFileSync(wasmFile));
        const instance = new api.Instance(compiled, imports);
        receive(instance, compiled);
        return instance.exports;
      } catch (err) {
        failure = err;
        throw err;
      }
    },
    onRuntimeInitialized: (): void => { initialised = true; },
  };
  return { options, failure: () => failure, ready: () => initialised };
}

/**
 * Instantiates a codec's emscripten module synchronously from its .wasm file. Throws MIPSEG_INTERNAL when the
 * module does not initialise or lacks what `hasExports` looks for (a package upgrade that changed its build).
 */
export function instantiateWasmCodec<Exports extends object>(name: string, factory: EmscriptenFactory, wasmFile: string,
  hasExports: (module: object) => module is Exports): WasmCodec<Exports> {
  const messages: string[] = [];
  const { options, failure, ready } = syncOptions(wasmFile, messages);
  // The promise settles with `options` itself, already complete; a failure is reported below, synchronously.
  factory(options).catch(() => undefined);
  if (!ready() || !hasExports(options)) {
    throw new MipsegError('MIPSEG_INTERNAL', `${name} WebAssembly module did not initialise from ${wasmFile}` +
      (messages.length ? `: ${messages.join('; ')}` : ''), { cause: failure() });
  }
  messages.length = 0;
  return { exports: options, messages };
}

/**
 * One codec instance per thread (module state is per thread), made on first use and kept. `discard` drops it
 * after a failed decode: a trap can leave the module's stack or heap inconsistent, and a new one costs milliseconds.
 */
export class LazyWasmCodec<Exports> {
  private codec: WasmCodec<Exports> | undefined;

  constructor(private readonly load: () => WasmCodec<Exports>) {}

  get(): WasmCodec<Exports> {
    this.codec ??= this.load();
    return this.codec;
  }

  discard(): void {
    this.codec = undefined;
  }
}
